using System.Text;
using System.Text.RegularExpressions;
using Grpc.Core;
using Net.Pkcs11Interop.Common;
using Uncoded.Signer.Backends.Pkcs11;
using Uncoded.Signer.Service;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Pkcs11;

/// <summary>How PKCS#11 keys are named in config and on the command line, and how token failures reach callers.</summary>
public sealed partial class Pkcs11ConfigTests
{
    [Fact]
    public async Task Serve_KeyByTokenSerialAndKeyId_FoundAndSigns()
    {
        using var hsm = await SoftHsm.CreateAsync();
        var keygen = await hsm.SignerAsync(["keygen", "--type", "ed25519", .. hsm.KeyArgs("binance")]);
        Assert.True(keygen.ExitCode == 0, keygen.ToString());
        var keyId = KeyIdPattern().Match(keygen.Stderr).Groups[1].Value;
        var serial = SerialPattern().Match((await hsm.ToolAsync("pkcs11-tool", "--module", SoftHsm.Module, "--list-token-slots")).Stdout).Groups[1].Value;
        Assert.NotEmpty(keyId);
        Assert.NotEmpty(serial);

        await using var signer = await ServeSignAndVerifyAsync(hsm, new { Module = SoftHsm.Module, TokenSerial = serial, KeyId = keyId, PinFile = hsm.PinFile }, keygen.Stdout);
    }

    /// <summary>Serves one Ed25519 token key as "k", signs a fresh example order with it and has openssl verify the signature.</summary>
    private static async Task<SignerProcess> ServeSignAndVerifyAsync(SoftHsm hsm, object pkcs11, string pem, IDictionary<string, string?>? env = null)
    {
        var signer = await hsm.ServeAsync(new Dictionary<string, object> { ["k"] = new { ApiKey = "a", Pkcs11 = pkcs11 } }, env);
        try
        {
            using var client = signer.Client();
            var payload = TestKeys.FreshExamplePayload();
            var response = await client.SignAsync("k", "POST", "/api/v3/order", Encoding.ASCII.GetBytes(payload));
            await Signatures.AssertOpensslVerifiesAsync(hsm.Dir, pem, payload, response.Signature, ed25519: true);
            return signer;
        }
        catch
        {
            await signer.DisposeAsync();
            throw;
        }
    }

    /// <summary>Two keys share a label (made by another tool): the label alone is ambiguous, label and CKA_ID together name one.</summary>
    [Fact]
    public async Task Serve_KeyByLabelAndIdTogether_PicksTheKeyMatchingBoth()
    {
        using var hsm = await SoftHsm.CreateAsync();
        Assert.Equal(0, (await hsm.Pkcs11ToolAsync("--keypairgen", "--key-type", "EC:edwards25519", "--label", "binance", "--id", "c1")).ExitCode);
        Assert.Equal(0, (await hsm.Pkcs11ToolAsync("--keypairgen", "--key-type", "EC:edwards25519", "--label", "binance", "--id", "c2")).ExitCode);
        var second = await hsm.SignerAsync(["pubkey", .. hsm.KeyArgs("binance"), "--key-id", "c2"]);
        var ambiguous = await hsm.SignerAsync(["pubkey", .. hsm.KeyArgs("binance")]);
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("AMBIGUOUS_KEY", ambiguous.Stderr, StringComparison.Ordinal);

        await using var signer = await ServeSignAndVerifyAsync(hsm, new { Module = SoftHsm.Module, TokenLabel = hsm.Label, KeyLabel = "binance", KeyId = "c2", PinFile = hsm.PinFile }, second.Stdout);
    }

    /// <summary>
    /// Without Sessions the pool has one session per core. DOTNET_PROCESSOR_COUNT makes the signer
    /// see 3 cores on any machine, so the default is told apart from the tests' usual 2.
    /// </summary>
    [Fact]
    public async Task Serve_SessionsUnset_OneSessionPerCore()
    {
        using var hsm = await SoftHsm.CreateAsync();
        await hsm.KeygenAsync("ed25519", "binance");

        await using var signer = await hsm.ServeAsync(
            new Dictionary<string, object> { ["k"] = new { ApiKey = "a", Pkcs11 = new { Module = SoftHsm.Module, TokenLabel = hsm.Label, KeyLabel = "binance", PinFile = hsm.PinFile } } },
            new Dictionary<string, string?> { ["DOTNET_PROCESSOR_COUNT"] = "3" });

        Assert.Contains("Loaded key k (ED25519, PKCS#11 token 'uncoded-test', 3 sessions)", signer.Log, StringComparison.Ordinal);
    }

    /// <summary>The PIN from a systemd credential ($CREDENTIALS_DIRECTORY/NAME), in serve and in the CLI.</summary>
    [Fact]
    public async Task PinFromSystemdCredential_ServeAndCliUseIt()
    {
        using var hsm = await SoftHsm.CreateAsync();
        var pem = await hsm.KeygenAsync("ed25519", "binance");
        var credentials = Directory.CreateDirectory(hsm.Dir.File("credentials")).FullName;
        File.Copy(hsm.PinFile, Path.Combine(credentials, "token-pin"));
        var env = new Dictionary<string, string?> { ["CREDENTIALS_DIRECTORY"] = credentials };

        var cli = await Run.DotnetAsync(Repo.SignerDll,
            ["pubkey", "--pkcs11-module", SoftHsm.Module, "--token-label", hsm.Label, "--key-label", "binance", "--pin-credential", "token-pin"],
            env: new Dictionary<string, string?>(hsm.Env) { ["CREDENTIALS_DIRECTORY"] = credentials });
        var missing = await hsm.SignerAsync("pubkey", "--pkcs11-module", SoftHsm.Module, "--token-label", hsm.Label, "--key-label", "binance", "--pin-credential", "token-pin");
        await using var signer = await ServeSignAndVerifyAsync(hsm, new { Module = SoftHsm.Module, TokenLabel = hsm.Label, KeyLabel = "binance", PinCredential = "token-pin" }, pem, env);

        Assert.True(cli.ExitCode == 0, cli.ToString());
        Assert.Equal(pem, cli.Stdout);
        Assert.Contains("NO_CREDENTIALS_DIRECTORY", missing.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(SoftHsm.UserPin, signer.Log, StringComparison.Ordinal);
    }

    /// <summary>The sealed-file backend refuses RSA under 2048 bits (WEAK_KEY); a token key is held to the same rule.</summary>
    [Fact]
    public async Task Serve_RsaKeyUnder2048BitsInToken_RefusedAsWeak()
    {
        using var hsm = await SoftHsm.CreateAsync();
        Assert.Equal(0, (await hsm.Pkcs11ToolAsync("--keypairgen", "--key-type", "rsa:1024", "--label", "old-rsa", "--id", "d1")).ExitCode);

        await using var signer = await hsm.ServeAsync(new Dictionary<string, object> { ["k"] = hsm.KeyConfig("old-rsa") }, waitUntilListening: false);
        var exit = await signer.WaitForExitAsync(TimeSpan.FromSeconds(60));
        var pubkey = await hsm.SignerAsync(["pubkey", .. hsm.KeyArgs("old-rsa")]);

        Assert.Equal(3, exit);
        Assert.Contains("is a 1024-bit RSA key; at least 2048 bits are required", signer.Log, StringComparison.Ordinal);
        Assert.Contains("WEAK_KEY", signer.Log, StringComparison.Ordinal);
        Assert.Contains("WEAK_KEY", pubkey.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_BadPkcs11Config_RefusesToStartWithEveryProblem()
    {
        using var hsm = await SoftHsm.CreateAsync();
        var (sealedPath, passPath) = TestKeys.SealHmac(hsm.Dir, "k.sealed");
        await using var signer = await hsm.ServeAsync(new Dictionary<string, object>
        {
            ["both"] = new
            {
                ApiKey = "a",
                SealedFile = new { Path = sealedPath, PassphraseFile = passPath },
                Pkcs11 = new { Module = SoftHsm.Module, TokenLabel = hsm.Label, KeyLabel = "x", PinFile = hsm.PinFile },
            },
            ["bad"] = new { ApiKey = "a", Pkcs11 = new { Module = "libsofthsm2.so", TokenLabel = "t", TokenSerial = "s", KeyId = "xyz", Sessions = 0 } },
        }, waitUntilListening: false);
        Assert.Equal(3, await signer.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var log = signer.Log;
        Assert.Contains("Signer:Keys:both needs exactly one backend: SealedFile or Pkcs11", log, StringComparison.Ordinal);
        Assert.Contains("Signer:Keys:bad:Pkcs11:Module must be the absolute path", log, StringComparison.Ordinal);
        Assert.Contains("needs exactly one of TokenLabel, TokenSerial", log, StringComparison.Ordinal);
        Assert.Contains("KeyId must be hex", log, StringComparison.Ordinal);
        Assert.Contains("needs exactly one of PinFile, PinEnv, PinCredential", log, StringComparison.Ordinal);
        Assert.Contains("Sessions must be between 1 and 64", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_TokenMissingAtStart_ExitsUnavailableNamingTheTokensItSaw()
    {
        using var hsm = await SoftHsm.CreateAsync();
        await using var signer = await hsm.ServeAsync(new Dictionary<string, object>
        {
            ["k"] = new { ApiKey = "a", Pkcs11 = new { Module = SoftHsm.Module, TokenLabel = "no-such-token", KeyLabel = "x", PinFile = hsm.PinFile } },
        }, waitUntilListening: false);
        Assert.Equal(4, await signer.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("token 'no-such-token' is not present", signer.Log, StringComparison.Ordinal);
        Assert.Contains("'uncoded-test'", signer.Log, StringComparison.Ordinal);
    }

    /// <summary>
    /// A SoftHSM token directory that the signer's user cannot open (made by root, run as nobody):
    /// the module fails C_Initialize, and the error says where to look instead of blaming a token.
    /// </summary>
    [Fact]
    public async Task Pubkey_TokenDirectoryOfAnotherUser_ModuleInitFailureSaysWhy()
    {
        using var hsm = await SoftHsm.CreateAsync();
        File.SetUnixFileMode(hsm.Dir.Path, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(hsm.TokenDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(hsm.ConfPath, (UnixFileMode)0b110_100_100);
        var pin = hsm.Dir.Write("nobody.pin", SoftHsm.UserPin + "\n");
        Assert.Equal(0, (await Run.ProcessAsync("chown", ["65534:65534", pin])).ExitCode);

        var result = await Run.ProcessAsync("setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", "dotnet", Repo.SignerDll,
             "pubkey", "--pkcs11-module", SoftHsm.Module, "--token-label", hsm.Label, "--key-label", "k", "--pin-file", pin],
            env: new Dictionary<string, string?>(hsm.Env) { ["HOME"] = "/tmp", ["DOTNET_CLI_HOME"] = "/tmp" });

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("failed to initialise (CKR_GENERAL_ERROR)", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("a token directory owned by this user", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("PKCS11_MODULE_INIT_FAILED", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keygen_NeitherOutNorModule_UsageError()
    {
        var result = await Run.SignerAsync("keygen", "--type", "ed25519");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("give exactly one of --out (sealed file) or --pkcs11-module", result.Stderr + result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(CKR.CKR_PIN_INCORRECT, "PIN_INCORRECT", StatusCode.FailedPrecondition)]
    [InlineData(CKR.CKR_PIN_LOCKED, "PIN_LOCKED", StatusCode.FailedPrecondition)]
    [InlineData(CKR.CKR_TOKEN_NOT_PRESENT, "TOKEN_NOT_PRESENT", StatusCode.Unavailable)]
    [InlineData(CKR.CKR_DEVICE_REMOVED, "DEVICE_REMOVED", StatusCode.Unavailable)]
    [InlineData(CKR.CKR_DEVICE_ERROR, "DEVICE_ERROR", StatusCode.Unavailable)]
    [InlineData(CKR.CKR_SESSION_HANDLE_INVALID, "SESSION_LOST", StatusCode.Unavailable)]
    [InlineData(CKR.CKR_KEY_SIZE_RANGE, "KEY_SIZE_NOT_SUPPORTED", StatusCode.FailedPrecondition)]
    public void ErrorMapping_TokenFailures_ClearReasonAndStatus(CKR rv, string reason, StatusCode status)
    {
        // SoftHSM cannot lock a PIN or lose a device; the table that maps those codes is checked directly.
        var error = Pkcs11Errors.Map(rv, "signing");
        Assert.Equal(reason, error.Reason);
        Assert.Equal((int)status, (int)ErrorMapping.ToCode(error.Kind));
        Assert.Contains(rv.ToString(), error.Message, StringComparison.Ordinal);
    }

    [GeneratedRegex("CKA_ID ([0-9a-f]+)")]
    private static partial Regex KeyIdPattern();

    [GeneratedRegex(@"serial num\s*:\s*(\S+)")]
    private static partial Regex SerialPattern();
}
