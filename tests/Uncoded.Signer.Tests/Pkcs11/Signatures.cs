using System.Text;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Pkcs11;

/// <summary>Checks wire signatures with the openssl command line, against the PEM the CLI printed.</summary>
internal static class Signatures
{
    /// <summary>RSA and Ed25519 wire form: base64, percent-encoded.</summary>
    public static byte[] FromWire(string wire) => Convert.FromBase64String(Uri.UnescapeDataString(wire));

    public static async Task AssertOpensslVerifiesAsync(TempDir dir, string publicKeyPem, string payload, string wireSignature, bool ed25519)
    {
        var name = Guid.NewGuid().ToString("N");
        var pub = dir.Write(name + ".pub.pem", publicKeyPem);
        var msg = dir.File(name + ".msg");
        await File.WriteAllBytesAsync(msg, Encoding.ASCII.GetBytes(payload));
        var sig = dir.File(name + ".sig");
        await File.WriteAllBytesAsync(sig, FromWire(wireSignature));
        var result = ed25519
            ? await Run.OpensslAsync("pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msg, "-sigfile", sig)
            : await Run.OpensslAsync("dgst", "-sha256", "-verify", pub, "-signature", sig, msg);
        Assert.True(result.ExitCode == 0 && result.Stdout.Contains("Verified", StringComparison.Ordinal) && !result.Stdout.Contains("Failure", StringComparison.Ordinal),
            $"openssl did not verify the signature:\n{result}");
    }
}
