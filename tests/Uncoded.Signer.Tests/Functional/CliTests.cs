using System.Text;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Functional;

/// <summary>The real <c>uncoded-signer</c> binary: keygen, seal, pubkey, and signatures checked by OpenSSL.</summary>
public sealed class CliTests
{
    private static readonly string[] FastKdf = ["--kdf-memory-kib", "8192", "--kdf-iterations", "1", "--kdf-parallelism", "1"];

    private static Task<RunResult> Signer(params string[] args) => Run.SignerAsync(args);

    private static async Task<string> SignThroughSocketAsync(TempDir dir, string sealedPath, string passphrasePath, string payload)
    {
        var socket = dir.File("s.sock");
        await using var signer = await SignerProcess.StartAsync(dir, TestKeys.Config(socket,
            new Dictionary<string, (string, string)> { ["main"] = (sealedPath, passphrasePath) }));
        using var client = signer.Client();
        var response = await client.SignAsync("main", "POST", "/api/v3/order", Encoding.ASCII.GetBytes(payload));
        return response.Signature;
    }

    [Theory]
    [InlineData("ed25519")]
    [InlineData("rsa2048")]
    [InlineData("rsa4096")]
    public async Task Keygen_NewKey_PrintsPemThatVerifiesSignaturesOverTheSocket(string type)
    {
        using var dir = new TempDir();
        var pass = dir.Write("p", TestKeys.Passphrase + "\n");
        var sealedPath = dir.File("k.sealed");
        var keygen = await Signer(["keygen", "--type", type, "--out", sealedPath, "--passphrase-file", pass, .. FastKdf]);
        Assert.True(keygen.ExitCode == 0, keygen.ToString());
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----", keygen.Stdout);
        if (type.StartsWith("rsa", StringComparison.Ordinal))
        {
            using var rsa = System.Security.Cryptography.RSA.Create();
            rsa.ImportFromPem(keygen.Stdout);
            Assert.Equal(int.Parse(type[3..], System.Globalization.CultureInfo.InvariantCulture), rsa.KeySize);
        }

        var pubkey = await Signer("pubkey", "--sealed-file", sealedPath, "--passphrase-file", pass);
        Assert.True(pubkey.ExitCode == 0, pubkey.ToString());
        Assert.Equal(keygen.Stdout, pubkey.Stdout);

        var payload = TestKeys.FreshExamplePayload();
        var signature = await SignThroughSocketAsync(dir, sealedPath, pass, payload);
        var ed25519 = type == "ed25519";
        Assert.True(await Signatures.OpensslVerifiesAsync(dir, pubkey.Stdout, payload, signature, ed25519));
        // Negative control: the same signature over one changed byte must not verify.
        Assert.False(await Signatures.OpensslVerifiesAsync(dir, pubkey.Stdout, payload.Replace("LTCBTC", "LTCBTD"), signature, ed25519));
    }

    [Theory]
    [InlineData("ed25519", false)]
    [InlineData("rsa", false)]
    [InlineData("rsa", true)]
    public async Task Seal_OpensslPrivateKeyPem_SignsLikeTheOriginalKey(string algorithm, bool pkcs1)
    {
        using var dir = new TempDir();
        var pem = dir.File("key.pem");
        var gen = algorithm == "ed25519"
            ? await Run.OpensslAsync("genpkey", "-algorithm", "ed25519", "-out", pem)
            : await Run.OpensslAsync("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pem);
        Assert.Equal(0, gen.ExitCode);
        var expectedPub = (await Run.OpensslAsync("pkey", "-in", pem, "-pubout")).Stdout;
        if (pkcs1)
        {
            var traditional = dir.File("key1.pem");
            Assert.Equal(0, (await Run.OpensslAsync("rsa", "-in", pem, "-traditional", "-out", traditional)).ExitCode);
            Assert.Contains("BEGIN RSA PRIVATE KEY", await File.ReadAllTextAsync(traditional));
            pem = traditional;
        }
        File.SetUnixFileMode(pem, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var pass = dir.Write("p", TestKeys.Passphrase);
        var sealedPath = dir.File("k.sealed");
        var seal = await Signer(["seal", "--out", sealedPath, "--private-key-file", pem, "--passphrase-file", pass, .. FastKdf]);
        Assert.True(seal.ExitCode == 0, seal.ToString());
        Assert.Equal(expectedPub, seal.Stdout);

        var payload = TestKeys.FreshExamplePayload();
        var signature = await SignThroughSocketAsync(dir, sealedPath, pass, payload);
        Assert.True(await Signatures.OpensslVerifiesAsync(dir, expectedPub, payload, signature, algorithm == "ed25519"));
    }

    [Fact]
    public async Task Seal_HmacSecretFile_SignsLikeDotnetHmacWithThatSecret()
    {
        using var dir = new TempDir();
        var secret = dir.Write("secret", TestKeys.BinanceExampleSecret + "\n");
        var pass = dir.Write("p", TestKeys.Passphrase);
        var sealedPath = dir.File("k.sealed");
        var seal = await Signer(["seal", "--out", sealedPath, "--hmac-secret-file", secret, "--passphrase-file", pass, .. FastKdf]);
        Assert.True(seal.ExitCode == 0, seal.ToString());
        Assert.DoesNotContain(TestKeys.BinanceExampleSecret, seal.Stdout + seal.Stderr);
        // Fresh timestamp (the guards refuse the 2017 one); the published example itself is reproduced in Unit/SignatureTests.
        var payload = TestKeys.FreshExamplePayload();
        Assert.Equal(TestKeys.ExpectedHmac(payload), await SignThroughSocketAsync(dir, sealedPath, pass, payload));
    }

    [Fact]
    public async Task Pubkey_WrongPassphrase_ExitCode3WithClearMessageAndNoSecret()
    {
        using var dir = new TempDir();
        var (sealedPath, _) = TestKeys.SealGenerated(dir, "k.sealed", "ed25519");
        var wrong = dir.Write("wrong", "this is not the passphrase");
        var result = await Signer("pubkey", "--sealed-file", sealedPath, "--passphrase-file", wrong);
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("wrong passphrase", result.Stderr);
        Assert.DoesNotContain("this is not the passphrase", result.Stdout + result.Stderr);
    }

    /// <summary>Like ssh with a private key: a sealed file others can read is refused before any passphrase is used.</summary>
    [Fact]
    public async Task Pubkey_SealedFileReadableByOthers_RefusedWithTheFix()
    {
        using var dir = new TempDir();
        var (sealedPath, pass) = TestKeys.SealGenerated(dir, "k.sealed", "ed25519");
        File.SetUnixFileMode(sealedPath, (UnixFileMode)0b110_100_100);

        var result = await Signer("pubkey", "--sealed-file", sealedPath, "--passphrase-file", pass);

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("FILE_PERMISSIONS", result.Stderr);
        Assert.Contains($"run: chmod 600 '{sealedPath}'", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task Keygen_ExistingOutFile_RefusesAndKeepsIt()
    {
        using var dir = new TempDir();
        var (sealedPath, pass) = TestKeys.SealGenerated(dir, "k.sealed", "ed25519");
        var before = await File.ReadAllBytesAsync(sealedPath);
        var result = await Signer(["keygen", "--type", "ed25519", "--out", sealedPath, "--passphrase-file", pass, .. FastKdf]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("refusing to overwrite", result.Stderr);
        Assert.Equal(before, await File.ReadAllBytesAsync(sealedPath));
    }

    [Fact]
    public async Task Seal_PassphraseFileReadableByOthers_Refused()
    {
        using var dir = new TempDir();
        var secret = dir.Write("secret", TestKeys.BinanceExampleSecret);
        var pass = dir.Write("p", TestKeys.Passphrase, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var result = await Signer(["seal", "--out", dir.File("k.sealed"), "--hmac-secret-file", secret, "--passphrase-file", pass, .. FastKdf]);
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("chmod 600", result.Stderr);
        Assert.False(File.Exists(dir.File("k.sealed")));
    }

    [Fact]
    public async Task Seal_PassphraseFromEnvironmentVariableName_Works()
    {
        using var dir = new TempDir();
        var secret = dir.Write("secret", TestKeys.BinanceExampleSecret);
        var sealedPath = dir.File("k.sealed");
        var result = await Run.DotnetAsync(Repo.SignerDll, ["seal", "--out", sealedPath, "--hmac-secret-file", secret, "--passphrase-env", "MY_PASS", .. FastKdf],
            env: new Dictionary<string, string?> { ["MY_PASS"] = TestKeys.Passphrase });
        Assert.True(result.ExitCode == 0, result.ToString());
        // The systemd credential source reads the same passphrase from $CREDENTIALS_DIRECTORY/NAME.
        var creds = Directory.CreateDirectory(dir.File("creds")).FullName;
        var credFile = Path.Combine(creds, "signer-pass");
        await File.WriteAllTextAsync(credFile, TestKeys.Passphrase + "\n");
        File.SetUnixFileMode(credFile, UnixFileMode.UserRead);
        var pub = await Run.DotnetAsync(Repo.SignerDll, ["pubkey", "--sealed-file", sealedPath, "--passphrase-credential", "signer-pass"],
            env: new Dictionary<string, string?> { ["CREDENTIALS_DIRECTORY"] = creds });
        Assert.Equal(2, pub.ExitCode); // an HMAC key has no public key: the passphrase was right
        Assert.Contains("no public key", pub.Stderr);
    }
}
