using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Uncoded.Client;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Audit;

public sealed class AuditLogTests(AuditLogTests.Fixture fixture) : IClassFixture<AuditLogTests.Fixture>
{
    private const string Account = "recvWindow=5000&timestamp={now}";

    /// <summary>One log of thousands of records (signed by a real signer, some refused), shared by the tamper tests.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        internal TempDir Dir { get; } = new();

        internal string LogPath { get; private set; } = "";

        internal ulong LastSeq { get; private set; }

        public async Task InitializeAsync()
        {
            await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard);
            using var gate = new SemaphoreSlim(16);
            var seqs = await Task.WhenAll(Enumerable.Range(0, 3000).Select(async i =>
            {
                await gate.WaitAsync();
                try
                {
                    if (i % 100 == 0)
                    {
                        await signer.RefusedAsync("POST", "/sapi/v1/capital/withdraw/apply", "coin=BTC&address=x&amount=1&" + Account);
                        return 0UL;
                    }
                    return (await signer.SignAsync("GET", "/api/v3/account", Account)).AuditSeq;
                }
                finally
                {
                    gate.Release();
                }
            }));
            Assert.Equal(2970, seqs.Where(s => s > 0).Distinct().Count());
            LastSeq = seqs.Max();
            LogPath = Dir.File("audit.log");
            File.Copy(signer.AuditPath, LogPath);
        }

        public Task DisposeAsync()
        {
            Dir.Dispose();
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task VerifyAudit_ThousandsOfRecords_Passes()
    {
        var result = await Run.SignerAsync("verify-audit", "--log", fixture.LogPath);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("3000 records", result.Stdout, StringComparison.Ordinal);
        var lines = File.ReadAllLines(fixture.LogPath);
        Assert.Equal(3001, lines.Length);
        Assert.Equal("uncoded-signer-audit", JsonDocument.Parse(lines[0]).RootElement.GetProperty("type").GetString());
        Assert.Equal(64, JsonDocument.Parse(lines[0]).RootElement.GetProperty("genesis").GetString()!.Length);
        Assert.Equal(3000, lines.Skip(1).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetUInt64()).Distinct().Count());
    }

    [Fact]
    public async Task VerifyAudit_FlippedByte_Detected()
    {
        var bytes = await File.ReadAllBytesAsync(fixture.LogPath);
        var line = LineStarts(bytes)[1500];
        var at = Array.IndexOf(bytes, (byte)'&', line);
        bytes[at] = (byte)'%';
        await AssertDetectedAsync(bytes, "line 1501");
    }

    [Fact]
    public async Task VerifyAudit_FlippedDigitInSeq_Detected()
    {
        var lines = File.ReadAllLines(fixture.LogPath);
        lines[700] = lines[700].Replace("\"seq\":700", "\"seq\":701", StringComparison.Ordinal);
        await AssertDetectedAsync(Join(lines), "line 701");
    }

    [Fact]
    public async Task VerifyAudit_DeletedLine_Detected()
    {
        var lines = File.ReadAllLines(fixture.LogPath).ToList();
        lines.RemoveAt(1200);
        await AssertDetectedAsync(Join(lines), "line 1201");
    }

    [Fact]
    public async Task VerifyAudit_SwappedLines_Detected()
    {
        var lines = File.ReadAllLines(fixture.LogPath);
        (lines[100], lines[101]) = (lines[101], lines[100]);
        await AssertDetectedAsync(Join(lines), "line 101");
    }

    [Fact]
    public async Task VerifyAudit_TailTruncatedMidLine_Detected()
    {
        var bytes = await File.ReadAllBytesAsync(fixture.LogPath);
        await AssertDetectedAsync(bytes[..^40], "truncated");
    }

    [Fact]
    public async Task VerifyAudit_WholeRecordsCutOffTheEnd_DetectedAgainstTheLastAuditSeq()
    {
        var lines = File.ReadAllLines(fixture.LogPath);
        var path = fixture.Dir.File("cut.log");
        await File.WriteAllBytesAsync(path, Join(lines[..^3]));
        var seq = fixture.LastSeq.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var result = await Run.SignerAsync("verify-audit", "--log", path, "--min-seq", seq);
        Assert.True(result.ExitCode == 5, result.ToString());
        Assert.Contains("cut off the end", result.Stderr, StringComparison.Ordinal);
        var intact = await Run.SignerAsync("verify-audit", "--log", fixture.LogPath, "--min-seq", seq);
        Assert.True(intact.ExitCode == 0, intact.ToString());
    }

    [Fact]
    public async Task VerifyAudit_HeaderRemoved_Detected()
    {
        var lines = File.ReadAllLines(fixture.LogPath);
        await AssertDetectedAsync(Join(lines[1..]), "line 1");
    }

    [Fact]
    public async Task VerifyAudit_RecordRewrittenWithRecomputedChainButOldGenesis_Detected()
    {
        // Editing a record and recomputing every later prev still breaks at the edited record's successor
        // unless the attacker rewrites the whole tail: then only an outside anchor (audit_seq/last hash) helps.
        var lines = File.ReadAllLines(fixture.LogPath);
        // The first allowed record from the third line on (concurrent callers decide which records are refusals).
        var edited = Array.FindIndex(lines, 2, l => l.Contains("\"decision\":\"allow\"", StringComparison.Ordinal));
        lines[edited] = lines[edited].Replace("\"decision\":\"allow\"", "\"decision\":\"deny\"", StringComparison.Ordinal);
        await AssertDetectedAsync(Join(lines), $"line {edited + 2}");
    }

    [Fact]
    public async Task VerifyAudit_MissingFile_NonZeroExit()
    {
        var result = await Run.SignerAsync("verify-audit", "--log", fixture.Dir.File("absent.log"));
        Assert.NotEqual(0, result.ExitCode);
    }

    private async Task AssertDetectedAsync(byte[] content, string expected)
    {
        var path = fixture.Dir.File(Guid.NewGuid().ToString("N") + ".log");
        await File.WriteAllBytesAsync(path, content);
        var result = await Run.SignerAsync("verify-audit", "--log", path);
        Assert.True(result.ExitCode == 5, result.ToString());
        Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
    }

    private static List<int> LineStarts(byte[] bytes)
    {
        var starts = new List<int> { 0 };
        for (var i = 0; i < bytes.Length - 1; i++)
        {
            if (bytes[i] == (byte)'\n')
            {
                starts.Add(i + 1);
            }
        }
        return starts;
    }

    private static byte[] Join(IEnumerable<string> lines) => Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n");
}

public sealed class AuditLifecycleTests
{
    private const string Account = "recvWindow=5000&timestamp={now}";

    [Fact]
    public async Task Restart_AfterKill9_ContinuesTheChain()
    {
        await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard);
        for (var i = 0; i < 5; i++)
        {
            await signer.SignAsync("GET", "/api/v3/account", Account);
        }
        await signer.KillAndRestartAsync();
        var next = await signer.SignAsync("GET", "/api/v3/account", Account);
        Assert.Equal(6UL, next.AuditSeq);
        Assert.Contains("continued after seq 5", signer.Process.Log, StringComparison.Ordinal);
        var result = await Run.SignerAsync("verify-audit", "--log", signer.AuditPath);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(1, signer.AuditLines().Count(l => l.Contains("\"genesis\"", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("")]
    [InlineData(".lock")]
    public void Open_LogOrLockIsASymbolicLink_RefusedAndTheTargetUntouched(string suffix)
    {
        using var dir = new TempDir();
        var path = dir.File("audit.log");
        var target = dir.Write("elsewhere", "someone else's file\n");
        File.CreateSymbolicLink(path + suffix, target);
        var e = Assert.Throws<Service.SignerException>(() =>
            Signer.Audit.AuditLog.Open(path, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance));
        Assert.Contains("is a symbolic link", e.Message, StringComparison.Ordinal);
        Assert.Equal("someone else's file\n", File.ReadAllText(target));
    }

    [Fact]
    public async Task Restart_TailTruncatedMidLine_RefusesToStart()
    {
        await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard);
        await signer.SignAsync("GET", "/api/v3/account", Account);
        signer.Process.Kill();
        var bytes = await File.ReadAllBytesAsync(signer.AuditPath);
        await File.WriteAllBytesAsync(signer.AuditPath, bytes[..^10]);
        await using var again = await SignerProcess.StartWithConfigAsync(signer.Process.ConfigPath, signer.Process.SocketPath, waitUntilListening: false);
        Assert.Equal(3, await again.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("AUDIT_LOG_CORRUPT", again.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Restart_WholeRecordsCutOffTheEnd_GuardStateNotices()
    {
        await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard);
        for (var i = 0; i < 3; i++)
        {
            await signer.SignAsync("POST", "/api/v3/order", "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp={now}");
        }
        // A clean stop leaves the rolling-cap checkpoint at the log's end (seq 3); cutting records behind it is noticed.
        Assert.Equal(0, await signer.Process.TerminateAsync());
        var lines = signer.AuditLines();
        await File.WriteAllLinesAsync(signer.AuditPath, lines[..^2]);
        Assert.Equal(0, (await Run.SignerAsync("verify-audit", "--log", signer.AuditPath)).ExitCode);
        await using var again = await SignerProcess.StartWithConfigAsync(signer.Process.ConfigPath, signer.Process.SocketPath, waitUntilListening: false);
        Assert.Equal(3, await again.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("records were cut off the end of the log", again.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ArchivingTheLog_AsDocumented_NeedsTheCheckpointGone_AndResetsTheCap()
    {
        const string Order = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1&recvWindow=5000&timestamp={now}";
        await using var signer = await GuardedSigner.StartAsync(new
        {
            Symbols = new Dictionary<string, object> { ["LTCBTC"] = new { MaxOrderNotional = 10m } },
            MaxDailyNotional = 2m,
        });
        await signer.SignAsync("POST", "/api/v3/order", Order);
        await signer.SignAsync("POST", "/api/v3/order", Order);
        Assert.Equal("ROLLING_CAP", (await signer.RefusedAsync("POST", "/api/v3/order", Order)).Reason);
        Assert.Equal(0, await signer.Process.TerminateAsync());
        File.Move(signer.AuditPath, signer.AuditPath + ".archived");

        // The checkpoint belongs to the archived log: start-up refuses it rather than guess.
        await using (var refused = await SignerProcess.StartWithConfigAsync(signer.Process.ConfigPath, signer.Process.SocketPath, waitUntilListening: false))
        {
            Assert.Equal(3, await refused.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("AUDIT_LOG_CORRUPT", refused.Log, StringComparison.Ordinal);
        }
        File.Delete(signer.CheckpointPath);
        await signer.StartAgainAsync();
        var first = await signer.SignAsync("POST", "/api/v3/order", Order);
        Assert.Equal(1UL, first.AuditSeq);
        Assert.Equal(0, (await Run.SignerAsync("verify-audit", "--log", signer.AuditPath + ".archived")).ExitCode);
    }

    [Fact]
    public async Task Restart_LastRecordEditedAfterCheckpoint_RefusesToStart()
    {
        await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard);
        for (var i = 0; i < 2; i++)
        {
            await signer.SignAsync("POST", "/api/v3/order", "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp={now}");
        }
        Assert.Equal(0, await signer.Process.TerminateAsync());
        // Same length, chain between the last two lines intact: only the checkpoint's hash of the last line tells.
        var lines = signer.AuditLines();
        lines[^1] = lines[^1].Replace("\"notional\":\"0.1\"", "\"notional\":\"0.0\"", StringComparison.Ordinal);
        await File.WriteAllLinesAsync(signer.AuditPath, lines);
        await using var again = await SignerProcess.StartWithConfigAsync(signer.Process.ConfigPath, signer.Process.SocketPath, waitUntilListening: false);
        Assert.Equal(3, await again.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("AUDIT_LOG_CORRUPT", again.Log, StringComparison.Ordinal);
        Assert.Contains("seq 2", again.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sign_LogBecomesUnwritable_FailsClosed()
    {
        await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard);
        await signer.SignAsync("GET", "/api/v3/account", Account);
        // Tests run as root, so a chmod would not stop the writer; the immutable attribute does (EPERM on write).
        await Chattr("+i", signer.AuditPath);
        try
        {
            var refused = await signer.RefusedAsync("POST", "/api/v3/order", TestKeys.FreshExamplePayload());
            Assert.Equal("AUDIT_UNAVAILABLE", refused.Reason);
            Assert.Equal(StatusCode.Unavailable, refused.Code);
            Assert.DoesNotContain(signer.AuditPath, refused.Message, StringComparison.Ordinal);
            Assert.Contains(signer.AuditPath, signer.Process.Log, StringComparison.Ordinal);
            // Stays closed: nothing is signed after the log failed, even reads.
            var again = await signer.RefusedAsync("GET", "/api/v3/account", Account);
            Assert.Equal("AUDIT_UNAVAILABLE", again.Reason);
            Assert.Contains("cannot be written", signer.Process.Log, StringComparison.Ordinal);
        }
        finally
        {
            await Chattr("-i", signer.AuditPath);
        }
        Assert.Equal(2, signer.AuditLines().Length);
    }

    [Fact]
    public async Task Start_AuditPathUnusable_RefusesToStart()
    {
        using var dir = new TempDir();
        var key = TestKeys.SealHmac(dir, "k.sealed");
        var blocker = dir.Write("not-a-dir", "x");
        var config = TestKeys.ConfigWithGuard(dir.File("s.sock"), new Dictionary<string, (string, string)> { ["k"] = key }, TestKeys.TestGuard,
            auditPath: Path.Combine(blocker, "audit.log"));
        await using var signer = await SignerProcess.StartAsync(dir, config, waitUntilListening: false);
        Assert.Equal(3, await signer.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("AUDIT_UNAVAILABLE", signer.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_AuditLogUsedByAnotherSigner_RefusesToStart()
    {
        await using var first = await GuardedSigner.StartAsync(TestKeys.TestGuard);
        var config = TestKeys.ConfigWithGuard(first.Dir.File("t.sock"), new Dictionary<string, (string, string)> { ["k"] = first.Key }, TestKeys.TestGuard,
            auditPath: first.AuditPath);
        var configPath = first.Dir.Write("second.json", System.Text.Json.JsonSerializer.Serialize(new { Signer = config }));
        await using var second = await SignerProcess.StartWithConfigAsync(configPath, first.Dir.File("t.sock"), waitUntilListening: false);
        Assert.Equal(3, await second.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("AUDIT_LOG_IN_USE", second.Log, StringComparison.Ordinal);
        await first.SignAsync("GET", "/api/v3/account", Account);
    }

    private static async Task Chattr(string flag, string path)
    {
        var result = await Run.ProcessAsync("chattr", [flag, path]);
        Assert.True(result.ExitCode == 0, result.ToString());
    }
}
