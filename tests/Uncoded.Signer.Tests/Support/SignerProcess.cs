using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Uncoded.Client;

namespace Uncoded.Signer.Tests.Support;

/// <summary>
/// A real <c>uncoded-signer serve</c> process on a real Unix socket in a temp directory. Its
/// stderr (the log) is captured so tests can assert what was logged and what was not.
/// </summary>
internal sealed class SignerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SignerProcess(Process process, string socketPath, string configPath)
    {
        _process = process;
        SocketPath = socketPath;
        ConfigPath = configPath;
    }

    public string SocketPath { get; }

    public string ConfigPath { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Waits (bounded: 30 s) until the signer's log matches <paramref name="pattern"/>: its log is written asynchronously.</summary>
    public async Task WaitForLogAsync(string pattern)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!System.Text.RegularExpressions.Regex.IsMatch(Log, pattern))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the signer did not log /{pattern}/:\n{Log}");
            await Task.Delay(100);
        }
    }

    /// <summary>Writes <paramref name="config"/> (the "Signer" section) to <paramref name="dir"/> and starts the signer.</summary>
    public static async Task<SignerProcess> StartAsync(TempDir dir, object signerSection, bool waitUntilListening = true,
        IDictionary<string, string?>? env = null)
    {
        var configPath = dir.Write("signer.json", JsonSerializer.Serialize(new { Signer = signerSection, Logging = new { LogLevel = new { Default = "Information" } } }));
        var socketPath = JsonDocument.Parse(JsonSerializer.Serialize(signerSection)).RootElement.GetProperty("SocketPath").GetString()!;
        return await StartWithConfigAsync(configPath, socketPath, waitUntilListening, env);
    }

    /// <param name="wrapper">A command that execs the signer (e.g. setpriv with options); the pid stays the signer's.</param>
    public static async Task<SignerProcess> StartWithConfigAsync(string configPath, string socketPath, bool waitUntilListening = true,
        IDictionary<string, string?>? env = null, string[]? wrapper = null)
    {
        var info = new ProcessStartInfo(wrapper is { Length: > 0 } ? wrapper[0] : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (wrapper is { Length: > 0 })
        {
            foreach (var arg in wrapper[1..])
            {
                info.ArgumentList.Add(arg);
            }
            info.ArgumentList.Add("dotnet");
        }
        info.ArgumentList.Add(Repo.SignerDll);
        info.ArgumentList.Add("serve");
        info.ArgumentList.Add("--config");
        info.ArgumentList.Add(configPath);
        foreach (var (key, value) in env ?? new Dictionary<string, string?>())
        {
            info.Environment[key] = value;
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var signer = new SignerProcess(process, socketPath, configPath);
        DataReceivedEventHandler append = (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            lock (signer._log)
            {
                signer._log.AppendLine(e.Data);
            }
            if (e.Data.Contains("Signer listening on", StringComparison.Ordinal))
            {
                signer._listening.TrySetResult();
            }
        };
        process.OutputDataReceived += append;
        process.ErrorDataReceived += append;
        process.Exited += (_, _) => signer._listening.TrySetResult();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (waitUntilListening)
        {
            await signer.WaitListeningAsync();
        }
        return signer;
    }

    public async Task WaitListeningAsync()
    {
        await _listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
        if (_process.HasExited)
        {
            throw new InvalidOperationException($"signer exited with {_process.ExitCode}:\n{Log}");
        }
    }

    /// <summary>Waits for the process to exit by itself (e.g. a refused start-up) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public SignerClient Client() => new(SocketPath);

    /// <summary>SIGKILL: no clean-up runs, the socket file stays behind.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>SIGTERM, as systemd or docker stop it: a clean shutdown. Returns the exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        var kill = await Run.ProcessAsync("kill", ["-TERM", Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(kill.ExitCode == 0, kill.ToString());
        return await WaitForExitAsync(TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
