namespace Uncoded.Signer.Tests.Support;

/// <summary>Independent verification of signer output with the OpenSSL CLI.</summary>
internal static class Signatures
{
    /// <summary>Percent-decoded, base64-decoded wire signature (RSA and Ed25519).</summary>
    public static byte[] FromWire(string wire) => Convert.FromBase64String(Uri.UnescapeDataString(wire));

    /// <summary>True when OpenSSL accepts <paramref name="wireSignature"/> over <paramref name="message"/> for the PEM public key.</summary>
    public static async Task<bool> OpensslVerifiesAsync(TempDir dir, string publicKeyPem, string message, string wireSignature, bool ed25519)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var pub = dir.Write($"pub-{id}.pem", publicKeyPem);
        var msg = dir.Write($"msg-{id}", message);
        var sig = dir.File($"sig-{id}");
        await File.WriteAllBytesAsync(sig, FromWire(wireSignature));
        var result = ed25519
            ? await Run.OpensslAsync("pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msg, "-sigfile", sig)
            : await Run.OpensslAsync("dgst", "-sha256", "-verify", pub, "-signature", sig, msg);
        return result.ExitCode == 0;
    }

    public static async Task AssertOpensslVerifiesAsync(TempDir dir, string publicKeyPem, string message, string wireSignature, bool ed25519) =>
        Assert.True(await OpensslVerifiesAsync(dir, publicKeyPem, message, wireSignature, ed25519),
            $"openssl did not verify the {(ed25519 ? "Ed25519" : "RSA")} signature over '{message}'");
}
