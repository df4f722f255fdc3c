using System.Diagnostics;

namespace Uncoded.Simulator.Tests.Support;

internal sealed record RunResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>Runs a real process to completion with a time bound.</summary>
internal static class Run
{
    public static async Task<RunResult> ProcessAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} did not finish in time");
        }
        return new RunResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs openssl and fails the test on a non-zero exit.</summary>
    public static async Task OpensslAsync(params string[] args)
    {
        var result = await ProcessAsync("openssl", args);
        Assert.True(result.ExitCode == 0, $"openssl {string.Join(' ', args)}\n{result}");
    }
}
