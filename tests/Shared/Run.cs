using System.Diagnostics;

namespace Uncoded.Testing;

internal sealed record RunResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>Runs a real process to completion with a time bound.</summary>
internal static class Run
{
    public static async Task<RunResult> ProcessAsync(string file, IEnumerable<string> args, string? stdin = null,
        IDictionary<string, string?>? env = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in env ?? new Dictionary<string, string?>())
        {
            info.Environment[key] = value;
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }
        process.StandardInput.Close();
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

    /// <summary>Runs <c>dotnet DLL args...</c>.</summary>
    public static Task<RunResult> DotnetAsync(string dll, IEnumerable<string> args, string? stdin = null,
        IDictionary<string, string?>? env = null) =>
        ProcessAsync("dotnet", new[] { dll }.Concat(args), stdin, env);

    /// <summary>The signer CLI with fast (test-only) Argon2id costs where a KDF applies.</summary>
    public static Task<RunResult> SignerAsync(params string[] args) => DotnetAsync(Repo.SignerDll, args);

    public static Task<RunResult> OpensslAsync(params string[] args) => ProcessAsync("openssl", args);

    /// <summary>Runs openssl and fails the test on a non-zero exit.</summary>
    public static async Task OpensslOkAsync(params string[] args)
    {
        var result = await OpensslAsync(args);
        Assert.True(result.ExitCode == 0, $"openssl {string.Join(' ', args)}\n{result}");
    }
}
