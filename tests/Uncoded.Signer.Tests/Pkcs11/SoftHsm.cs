using Uncoded.Signer.Hardening;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Pkcs11;

/// <summary>
/// A private SoftHSM2 installation: a temp dir with its own softhsm2.conf and token directory,
/// and one initialised token. Child processes get it through <see cref="Env"/> (SOFTHSM2_CONF is
/// read at C_Initialize and the environment is process-wide, so in-process use is shared: see
/// <see cref="InProcessSoftHsm"/>).
/// </summary>
internal sealed class SoftHsm : IDisposable
{
    public const string Module = "/usr/lib/softhsm/libsofthsm2.so";

    /// <summary>OpenSC's logging pass-through module: PKCS11SPY names the real module, PKCS11SPY_OUTPUT the log.</summary>
    public static readonly string SpyModule = Directory.GetDirectories("/usr/lib", "*-linux-gnu*")
        .Select(dir => Path.Combine(dir, "pkcs11-spy.so"))
        .FirstOrDefault(File.Exists) ?? "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so (install opensc-pkcs11)";

    public const string UserPin = "123456";
    public const string SoPin = "12345678";

    private SoftHsm(TempDir dir, string label)
    {
        Dir = dir;
        Label = label;
        TokenDir = Directory.CreateDirectory(dir.File("tokens")).FullName;
        ConfPath = dir.Write("softhsm2.conf", $"directories.tokendir = {TokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n");
        PinFile = dir.Write("pin", UserPin + "\n");
    }

    public TempDir Dir { get; }

    public string Label { get; }

    public string TokenDir { get; }

    public string ConfPath { get; }

    public string PinFile { get; }

    public Dictionary<string, string?> Env => new() { ["SOFTHSM2_CONF"] = ConfPath };

    public static async Task<SoftHsm> CreateAsync(string label = "uncoded-test", TempDir? dir = null)
    {
        var hsm = new SoftHsm(dir ?? new TempDir("uncoded-p11-"), label);
        await hsm.InitTokenAsync(label);
        return hsm;
    }

    public async Task InitTokenAsync(string label)
    {
        var init = await ToolAsync("softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SoPin, "--pin", UserPin);
        Assert.True(init.ExitCode == 0, init.ToString());
    }

    public Task<RunResult> ToolAsync(string tool, params string[] args) => Run.ProcessAsync(tool, args, env: Env);

    /// <summary><c>pkcs11-tool</c> on this SoftHSM, logged in to the token.</summary>
    public Task<RunResult> Pkcs11ToolAsync(params string[] args) =>
        ToolAsync("pkcs11-tool", ["--module", Module, "--token-label", Label, "--login", "--pin", UserPin, .. args]);

    public Task<RunResult> SignerAsync(params string[] args) => Run.DotnetAsync(Repo.SignerDll, args, env: Env);

    /// <summary>The CLI options naming <paramref name="keyLabel"/> in this token (or in <paramref name="tokenLabel"/>, another token here).</summary>
    public string[] KeyArgs(string keyLabel, string? tokenLabel = null) =>
        ["--pkcs11-module", Module, "--token-label", tokenLabel ?? Label, "--key-label", keyLabel, "--pin-file", PinFile];

    /// <summary>A "Keys" entry for a key in this token.</summary>
    public object KeyConfig(string keyLabel, int sessions = 2, string? pinFile = null, string module = Module) => new
    {
        ApiKey = "api-key-" + keyLabel,
        Pkcs11 = new { Module = module, TokenLabel = Label, KeyLabel = keyLabel, PinFile = pinFile ?? PinFile, Sessions = sessions },
    };

    /// <summary>
    /// A "Signer" config section serving <paramref name="keys"/> (entries from <see cref="KeyConfig"/> or sealed files),
    /// with the audit log and guard state in this directory and <see cref="TestKeys.TestGuard"/> on every key without a Guard.
    /// </summary>
    public object SignerSection(IDictionary<string, object> keys)
    {
        var guarded = new System.Text.Json.Nodes.JsonObject();
        foreach (var (id, key) in keys)
        {
            var node = System.Text.Json.JsonSerializer.SerializeToNode(key)!.AsObject();
            node["Guard"] ??= System.Text.Json.JsonSerializer.SerializeToNode(TestKeys.TestGuard);
            guarded[id] = node;
        }
        return new
        {
            SocketPath = Dir.File("signer.sock"),
            AllowedPeers = new { Uids = new[] { Libc.getuid() } },
            Audit = new { Path = Dir.File("audit.log") },
            StateDirectory = Dir.File("state"),
            Keys = guarded,
        };
    }

    public Task<SignerProcess> ServeAsync(IDictionary<string, object> keys, IDictionary<string, string?>? extraEnv = null, bool waitUntilListening = true)
    {
        var env = Env;
        foreach (var (k, v) in extraEnv ?? new Dictionary<string, string?>())
        {
            env[k] = v;
        }
        return SignerProcess.StartAsync(Dir, SignerSection(keys), waitUntilListening, env);
    }

    /// <summary>Generates a key in the token with the signer CLI; returns the printed public key PEM.</summary>
    public async Task<string> KeygenAsync(string type, string keyLabel, string? tokenLabel = null)
    {
        var result = await SignerAsync(["keygen", "--type", type, .. KeyArgs(keyLabel, tokenLabel)]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout;
    }

    /// <summary>The token's flags as pkcs11-tool prints them ("login required, rng, ..., user PIN count low, ...").</summary>
    public async Task<string> TokenFlagsAsync()
    {
        var info = await ToolAsync("pkcs11-tool", "--module", Module, "--list-token-slots");
        Assert.True(info.ExitCode == 0, info.ToString());
        var lines = info.Stdout.Split('\n');
        var at = Array.FindIndex(lines, l => l.Contains("token label", StringComparison.Ordinal) && l.TrimEnd().EndsWith(": " + Label, StringComparison.Ordinal));
        Assert.True(at >= 0, info.Stdout);
        return lines.Skip(at).First(l => l.Contains("token flags", StringComparison.Ordinal));
    }

    public void Dispose() => Dir.Dispose();
}
