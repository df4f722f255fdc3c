using System.Text;
using System.Text.Json;
using Uncoded.Client;

namespace Uncoded.Signer.Tests.Support;

/// <summary>
/// A real signer with one HMAC key ("k") and an explicit guard, plus helpers to sign and to read
/// its audit log. <c>{now}</c> in a payload becomes the current time in ms.
/// </summary>
internal sealed class GuardedSigner : IAsyncDisposable
{
    private readonly IDictionary<string, string?>? _env;

    private GuardedSigner(TempDir dir, SignerProcess process, string auditPath, object guard, (string, string) key, IDictionary<string, string?>? env)
    {
        _env = env;
        Dir = dir;
        Process = process;
        AuditPath = auditPath;
        Guard = guard;
        Key = key;
        Client = process.Client();
    }

    public TempDir Dir { get; }

    public SignerProcess Process { get; private set; }

    public SignerClient Client { get; private set; }

    public string AuditPath { get; }

    public object Guard { get; }

    public (string SealedPath, string PassphrasePath) Key { get; }

    public string StatePath => Dir.File("state");

    /// <summary>The rolling-cap checkpoint.</summary>
    public string CheckpointPath => Path.Combine(StatePath, "rolling-cap.json");

    /// <param name="env">Environment for the signer, e.g. UNCODED_Signer__... overrides; kept for restarts.</param>
    public static async Task<GuardedSigner> StartAsync(object guard, string? auditPath = null, IDictionary<string, string?>? env = null)
    {
        var dir = new TempDir();
        var key = TestKeys.SealHmac(dir, "k.sealed");
        auditPath ??= dir.File("audit.log");
        var config = TestKeys.ConfigWithGuard(dir.File("s.sock"), new Dictionary<string, (string, string)> { ["k"] = key }, guard, auditPath: auditPath);
        var process = await SignerProcess.StartAsync(dir, config, env: env);
        return new GuardedSigner(dir, process, auditPath, guard, key, env);
    }

    /// <summary>SIGKILL, then start again with the same config file.</summary>
    public Task KillAndRestartAsync() => RestartAsync(graceful: false);

    /// <summary>SIGTERM (a clean shutdown, exit code 0), then start again with the same config file.</summary>
    public Task StopAndRestartAsync() => RestartAsync(graceful: true);

    /// <summary>Starts the signer again after the test stopped it (and changed its files).</summary>
    public Task StartAgainAsync()
    {
        Assert.True(Process.HasExited);
        return RestartAsync(graceful: true);
    }

    private async Task RestartAsync(bool graceful)
    {
        if (Process.HasExited)
        {
            // Stopped by the test already.
        }
        else if (graceful)
        {
            Assert.Equal(0, await Process.TerminateAsync());
        }
        else
        {
            Process.Kill();
        }
        Client.Dispose();
        await Process.DisposeAsync();
        Process = await SignerProcess.StartWithConfigAsync(Process.ConfigPath, Process.SocketPath, env: _env);
        Client = Process.Client();
    }

    public static string Fill(string payload) => payload.Replace("{now}", TestKeys.NowMs().ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    public async Task<Signed> SignAsync(string method, string path, string payload, CancellationToken cancellationToken = default)
    {
        var response = await Client.SignAsync("k", method, path, Encoding.ASCII.GetBytes(Fill(payload)), cancellationToken);
        return new Signed(response.Signature, response.AuditSeq);
    }

    public async Task<SignerRefusedException> RefusedAsync(string method, string path, string payload) =>
        await Assert.ThrowsAsync<SignerRefusedException>(() => SignAsync(method, path, payload));

    /// <summary>See <see cref="SignerProcess.WaitForLogAsync"/> (30 s is over two checkpoint intervals).</summary>
    public Task WaitForLogAsync(string text) => Process.WaitForLogAsync(System.Text.RegularExpressions.Regex.Escape(text));

    public string[] AuditLines() => File.ReadAllLines(AuditPath);

    public JsonElement LastAuditRecord() => JsonDocument.Parse(AuditLines()[^1]).RootElement;

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Process.DisposeAsync();
        Dir.Dispose();
    }
}

internal sealed record Signed(string Signature, ulong AuditSeq);
