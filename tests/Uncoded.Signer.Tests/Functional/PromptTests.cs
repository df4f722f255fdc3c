using System.Text.Json;
using Uncoded.Signer.Tests.Pkcs11;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Functional;

/// <summary>
/// The interactive prompt for a passphrase or PIN, on a real pseudo-terminal: it asks, does not echo,
/// asks twice for a new passphrase, and is refused when standard input is not a terminal.
/// </summary>
public sealed class PromptTests
{
    /// <summary>
    /// Runs a command on a new pty (python3's pty module). For each (prompt, answer): waits for the
    /// prompt, then until the terminal's ECHO flag is off (the program has taken the terminal), then
    /// types the answer and Enter. Prints {"exit": n, "output": everything the terminal showed}.
    /// </summary>
    private const string Driver = """
        import json, os, pty, select, sys, termios, time
        argv, steps = json.loads(sys.argv[1]), json.loads(sys.argv[2])
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp(argv[0], argv)
        out, deadline = b"", time.time() + 60
        def read(wait):
            global out
            if select.select([fd], [], [], wait)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    return False
                out += chunk
                return bool(chunk)
            return True
        for prompt, answer in steps:
            while prompt.encode() not in out:
                if time.time() > deadline or not read(0.1):
                    print(json.dumps({"exit": -1, "output": "no prompt " + repr(prompt) + " in: " + out.decode(errors="replace")}))
                    os.kill(pid, 9)
                    sys.exit(0)
            while termios.tcgetattr(fd)[3] & termios.ECHO and time.time() < deadline:
                time.sleep(0.01)
            out += b"<typed>"
            os.write(fd, answer.encode() + b"\r")
        while time.time() < deadline and read(1):
            pass
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "output": out.decode(errors="replace")}))
        """;

    private sealed record Terminal(int Exit, string Output)
    {
        public override string ToString() => $"exit {Exit}\n{Output}";
    }

    private static async Task<Terminal> OnTerminalAsync(IReadOnlyList<string> argv, IReadOnlyList<(string Prompt, string Answer)> steps, IDictionary<string, string?>? env = null)
    {
        var result = await Run.ProcessAsync("python3",
            ["-c", Driver, JsonSerializer.Serialize(argv), JsonSerializer.Serialize(steps.Select(s => new[] { s.Prompt, s.Answer }))], env: env, timeout: TimeSpan.FromMinutes(3));
        Assert.True(result.ExitCode == 0, result.ToString());
        var json = JsonDocument.Parse(result.Stdout).RootElement;
        return new Terminal(json.GetProperty("exit").GetInt32(), json.GetProperty("output").GetString()!);
    }

    private static string[] Signer(params string[] args) => ["dotnet", Repo.SignerDll, .. args];

    private static readonly string[] FastKdf = ["--kdf-memory-kib", "8192", "--kdf-iterations", "1", "--kdf-parallelism", "1"];

    [Fact]
    public async Task Passphrase_OnTerminal_AskedTwiceForNewKeyNeverEchoed_WrongOneRefused()
    {
        using var dir = new TempDir();
        var sealedPath = dir.File("k.sealed");
        const string passphrase = "correct horse battery staple";

        var keygen = await OnTerminalAsync(Signer(["keygen", "--type", "ed25519", "--out", sealedPath, .. FastKdf]),
            [("Enter new passphrase: ", passphrase), ("Repeat the passphrase: ", passphrase)]);
        var pubkey = await OnTerminalAsync(Signer("pubkey", "--sealed-file", sealedPath), [("Enter passphrase: ", passphrase)]);
        var wrong = await OnTerminalAsync(Signer("pubkey", "--sealed-file", sealedPath), [("Enter passphrase: ", "not it")]);

        Assert.True(keygen.Exit == 0, keygen.ToString());
        Assert.True(pubkey.Exit == 0, pubkey.ToString());
        Assert.Contains("-----BEGIN PUBLIC KEY-----", pubkey.Output, StringComparison.Ordinal);
        Assert.Equal(3, wrong.Exit);
        Assert.Contains("WRONG_PASSPHRASE", wrong.Output, StringComparison.Ordinal);
        foreach (var run in new[] { keygen, pubkey, wrong })
        {
            Assert.DoesNotContain(passphrase, run.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("not it", run.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task NewPassphrase_RepeatDiffers_RefusedAndNoFileWritten()
    {
        using var dir = new TempDir();
        var sealedPath = dir.File("k.sealed");

        var keygen = await OnTerminalAsync(Signer(["keygen", "--type", "ed25519", "--out", sealedPath, .. FastKdf]),
            [("Enter new passphrase: ", "first answer"), ("Repeat the passphrase: ", "first answr")]);

        Assert.Equal(3, keygen.Exit);
        Assert.Contains("the two passphrases differ; nothing was written [SECRET_MISMATCH]", keygen.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(sealedPath));
    }

    [Fact]
    public async Task Pin_OnTerminal_PromptedNotEchoed_AndNoTerminalNamesThePinOptions()
    {
        using var hsm = await SoftHsm.CreateAsync();
        var pem = await hsm.KeygenAsync("ed25519", "binance");
        string[] keyArgs = ["pubkey", "--pkcs11-module", SoftHsm.Module, "--token-label", hsm.Label, "--key-label", "binance"];

        var prompted = await OnTerminalAsync(Signer(keyArgs), [("Enter PIN: ", SoftHsm.UserPin)], hsm.Env);
        var noTerminal = await hsm.SignerAsync(keyArgs);

        Assert.True(prompted.Exit == 0, prompted.ToString());
        Assert.Contains(pem.Trim().Replace("\n", "\r\n", StringComparison.Ordinal), prompted.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(SoftHsm.UserPin, prompted.Output, StringComparison.Ordinal);
        Assert.NotEqual(0, noTerminal.ExitCode);
        Assert.Contains("standard input is not a terminal; pass --pin-file", noTerminal.Stderr, StringComparison.Ordinal);
    }
}
