using Uncoded.Signer.Tests.Support;

// Not "...Tests.Hardening": that namespace would shadow Uncoded.Signer.Hardening for the other tests.
namespace Uncoded.Signer.Tests.Hardened;

public sealed class HardeningTests
{
    // Root (as the tests run) has CAP_SYS_PTRACE, which overrides "not dumpable". Without any
    // capability, a same-uid process may read /proc/<pid>/environ of a dumpable process but not
    // of a non-dumpable one: that is the observable effect of PR_SET_DUMPABLE 0.
    private static readonly string[] NoCapabilities = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"];

    private static string[] AsSameUidWithoutCaps(params string[] command) =>
        Signer.Hardening.Libc.getuid() == 0 ? [.. NoCapabilities, .. command] : command;

    [Fact]
    public async Task Serve_Process_IsNotDumpable()
    {
        using var dir = new TempDir();
        var key = TestKeys.SealHmac(dir, "k.sealed");
        var config = TestKeys.Config(dir.File("s.sock"), new Dictionary<string, (string, string)> { ["k"] = key });
        var configPath = dir.Write("signer.json", System.Text.Json.JsonSerializer.Serialize(new { Signer = config }));
        var wrapper = Signer.Hardening.Libc.getuid() == 0 ? NoCapabilities : null;
        await using var signer = await SignerProcess.StartWithConfigAsync(configPath, dir.File("s.sock"), wrapper: wrapper);
        Assert.Contains("process not dumpable", signer.Log, StringComparison.Ordinal);

        // Control: the same probe can read a dumpable process started the same way.
        var sleep = AsSameUidWithoutCaps("sleep", "30");
        var start = new System.Diagnostics.ProcessStartInfo(sleep[0]);
        foreach (var arg in sleep[1..])
        {
            start.ArgumentList.Add(arg);
        }
        using var control = System.Diagnostics.Process.Start(start)!;
        try
        {
            await Task.Delay(300);
            var readable = await ReadEnvironAsync(control.Id);
            Assert.True(readable.ExitCode == 0, "control probe: " + readable);
        }
        finally
        {
            control.Kill();
        }

        var probe = await ReadEnvironAsync(signer.Pid);
        Assert.NotEqual(0, probe.ExitCode);
        Assert.Contains("Permission denied", probe.Stderr, StringComparison.Ordinal);
    }

    private static Task<RunResult> ReadEnvironAsync(int pid)
    {
        var command = AsSameUidWithoutCaps("cat", $"/proc/{pid}/environ");
        return Run.ProcessAsync(command[0], command[1..]);
    }

    [Fact]
    public async Task Serve_NoDotnetDiagnosticsPort_SamePid()
    {
        // The runtime's diagnostics socket would let any same-uid process load a library into
        // the signer. Control: this test process (a runtime started without the setting) has one.
        Assert.NotEmpty(Directory.GetFiles(Path.GetTempPath(), $"dotnet-diagnostic-{Environment.ProcessId}-*-socket"));
        await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard);
        await signer.SignAsync("GET", "/api/v3/account", "recvWindow=5000&timestamp={now}");
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), $"dotnet-diagnostic-{signer.Process.Pid}-*"));
        Assert.Contains("Hardening in effect: no .NET diagnostics port", signer.Process.Log, StringComparison.Ordinal);
        // The process the test started became the signer (execve kept the pid), and runs with the setting.
        if (Signer.Hardening.Libc.getuid() == 0)
        {
            var environment = await File.ReadAllTextAsync($"/proc/{signer.Process.Pid}/environ");
            Assert.Contains("\0DOTNET_EnableDiagnostics=0\0", "\0" + environment, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Serve_CoreDumps_Disabled()
    {
        await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard);
        var limits = await File.ReadAllLinesAsync($"/proc/{signer.Process.Pid}/limits");
        var core = limits.Single(l => l.StartsWith("Max core file size", StringComparison.Ordinal));
        Assert.Matches(@"^Max core file size\s+0\s+0\s", core);
        Assert.Contains("no core dumps (RLIMIT_CORE 0/0)", signer.Process.Log, StringComparison.Ordinal);
        Assert.Contains("secret buffers (keys, PINs): 1 of 1 locked in RAM", signer.Process.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_SealedKeyMemory_LockedAndExcludedFromDumps()
    {
        // What the kernel says, not what the signer logs: some memory is locked (VmLck), and at
        // least one mapping is both locked (lo) and left out of core dumps (dd), as the HMAC
        // secret's buffer is.
        await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard);
        await signer.SignAsync("GET", "/api/v3/account", "recvWindow=5000&timestamp={now}");
        var vmLck = (await File.ReadAllLinesAsync($"/proc/{signer.Process.Pid}/status")).Single(l => l.StartsWith("VmLck:", StringComparison.Ordinal));
        Assert.True(long.Parse(vmLck.Split(' ', '\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) > 0, vmLck);
        var flags = (await File.ReadAllLinesAsync($"/proc/{signer.Process.Pid}/smaps"))
            .Where(l => l.StartsWith("VmFlags:", StringComparison.Ordinal))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToHashSet(StringComparer.Ordinal))
            .ToList();
        Assert.NotEmpty(flags);
        Assert.Contains(flags, f => f.Contains("lo") && f.Contains("dd"));
    }

    [Fact]
    public async Task Serve_ConfigWritableByGroup_RefusesToStart()
    {
        using var dir = new TempDir();
        var key = TestKeys.SealHmac(dir, "k.sealed");
        var config = TestKeys.Config(dir.File("s.sock"), new Dictionary<string, (string, string)> { ["k"] = key });
        var configPath = dir.Write("signer.json", System.Text.Json.JsonSerializer.Serialize(new { Signer = config }),
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        await using var signer = await SignerProcess.StartWithConfigAsync(configPath, dir.File("s.sock"), waitUntilListening: false);
        Assert.Equal(3, await signer.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("BAD_PERMISSIONS", signer.Log, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("s.sock")));
    }

    [Fact]
    public async Task Serve_SocketDirectoryWritableByOthers_RefusesToStart()
    {
        using var dir = new TempDir();
        var key = TestKeys.SealHmac(dir, "k.sealed");
        var socketDir = Directory.CreateDirectory(dir.File("run")).FullName;
        File.SetUnixFileMode(socketDir, (UnixFileMode)0b111_111_111);
        var config = TestKeys.Config(Path.Combine(socketDir, "s.sock"), new Dictionary<string, (string, string)> { ["k"] = key });
        await using var signer = await SignerProcess.StartAsync(dir, config, waitUntilListening: false);
        Assert.Equal(3, await signer.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("socket directory", signer.Log, StringComparison.Ordinal);
        Assert.Contains("BAD_PERMISSIONS", signer.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_AuditDirectoryOwnedBySomeoneElse_RefusesToStart()
    {
        // Mode 0700 passes a mode check; its owner (nobody) could still plant links in it.
        using var dir = new TempDir();
        var key = TestKeys.SealHmac(dir, "k.sealed");
        var auditDir = Directory.CreateDirectory(dir.File("audit")).FullName;
        File.SetUnixFileMode(auditDir, (UnixFileMode)0b111_000_000);
        var chown = await Run.ProcessAsync("chown", ["65534", auditDir]);
        Assert.True(chown.ExitCode == 0, chown.ToString());
        var config = TestKeys.ConfigWithGuard(dir.File("s.sock"), new Dictionary<string, (string, string)> { ["k"] = key }, TestKeys.TestGuard,
            auditPath: Path.Combine(auditDir, "audit.log"));
        await using var signer = await SignerProcess.StartAsync(dir, config, waitUntilListening: false);
        Assert.Equal(3, await signer.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains($"audit log directory '{auditDir}' belongs to uid 65534, not to root or the signer", signer.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_DirectoryAboveTheStateWritableByOthers_RefusesToStart_StickyIsFine()
    {
        // Whoever can write a directory above could rename the audit and state directories away
        // and reset the rolling caps. With the sticky bit (like /tmp) they cannot.
        using var dir = new TempDir();
        var key = TestKeys.SealHmac(dir, "k.sealed");
        var shared = Directory.CreateDirectory(dir.File("shared")).FullName;
        var run = Directory.CreateDirectory(Path.Combine(shared, "run")).FullName;
        File.SetUnixFileMode(run, (UnixFileMode)0b111_000_000);
        File.SetUnixFileMode(shared, (UnixFileMode)0b111_111_111);
        var config = TestKeys.Config(Path.Combine(run, "s.sock"), new Dictionary<string, (string, string)> { ["k"] = key });
        await using (var signer = await SignerProcess.StartAsync(dir, config, waitUntilListening: false))
        {
            Assert.Equal(3, await signer.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains($"'{shared}' (above the socket) is writable by group or others without the sticky bit", signer.Log, StringComparison.Ordinal);
        }
        File.SetUnixFileMode(shared, (UnixFileMode)0b1_111_111_111);
        await using var sticky = await SignerProcess.StartAsync(dir, config);
        Assert.DoesNotContain("BAD_PERMISSIONS", sticky.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_PassphraseFileIsAFifo_RefusesToStart_NoHang()
    {
        using var dir = new TempDir();
        var (sealedPath, passphrasePath) = TestKeys.SealHmac(dir, "k.sealed");
        File.Delete(passphrasePath);
        var mkfifo = await Run.ProcessAsync("mkfifo", ["-m", "600", passphrasePath]);
        Assert.True(mkfifo.ExitCode == 0, mkfifo.ToString());
        var config = TestKeys.Config(dir.File("s.sock"), new Dictionary<string, (string, string)> { ["k"] = (sealedPath, passphrasePath) });
        await using var signer = await SignerProcess.StartAsync(dir, config, waitUntilListening: false);
        Assert.Equal(3, await signer.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("is not a regular file", signer.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_AuditDirectoryWritableByGroup_RefusesToStart()
    {
        using var dir = new TempDir();
        var key = TestKeys.SealHmac(dir, "k.sealed");
        var auditDir = Directory.CreateDirectory(dir.File("audit")).FullName;
        File.SetUnixFileMode(auditDir, (UnixFileMode)0b111_111_000);
        var config = TestKeys.ConfigWithGuard(dir.File("s.sock"), new Dictionary<string, (string, string)> { ["k"] = key }, TestKeys.TestGuard,
            auditPath: Path.Combine(auditDir, "audit.log"));
        await using var signer = await SignerProcess.StartAsync(dir, config, waitUntilListening: false);
        Assert.Equal(3, await signer.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("audit log directory", signer.Log, StringComparison.Ordinal);
    }
}
