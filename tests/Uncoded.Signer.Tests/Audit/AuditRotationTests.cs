using System.Text.Json;
using System.Text.Json.Nodes;
using Uncoded.Signer.Audit;
using Uncoded.Signer.Tests.Support;
using Uncoded.Testing;

namespace Uncoded.Signer.Tests.Audit;

/// <summary>Rotation: the full log is archived, the chain goes on in a new file whose header names the archive, the caps survive it.</summary>
public sealed class AuditRotationTests
{
    private const string Account = "recvWindow=5000&timestamp={now}";
    private const string Order = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1&recvWindow=5000&timestamp={now}";

    private static readonly Dictionary<string, string?> SmallLogs = new() { ["UNCODED_Signer__Audit__RotateAtBytes"] = "65536" };

    private static object CapGuard(decimal maxDaily) => new
    {
        Symbols = new Dictionary<string, object> { ["LTCBTC"] = new { MaxOrderNotional = 10m } },
        MaxDailyNotional = maxDaily,
        SignaturesPerMinute = 100_000,
        SignaturesPerMinutePerPeer = 100_000,
    };

    [Fact]
    public async Task FullLog_IsArchived_ChainGoesOnInANewFile_AndBothVerify()
    {
        await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard, env: SmallLogs);
        var archives = await SignUntilRotatedAsync(signer, Account);
        var archive = Assert.Single(archives);

        var lines = signer.AuditLines();
        using var header = JsonDocument.Parse(lines[0]);
        var continues = header.RootElement.GetProperty("continues");
        var archivedLines = await File.ReadAllLinesAsync(archive);
        using var archivedLast = JsonDocument.Parse(archivedLines[^1]);
        var lastSeq = archivedLast.RootElement.GetProperty("seq").GetUInt64();
        Assert.Equal(Path.GetFileName(archive), continues.GetProperty("file").GetString());
        Assert.Equal(lastSeq, continues.GetProperty("seq").GetUInt64());
        Assert.Equal(AuditLog.Hash(System.Text.Encoding.UTF8.GetBytes(archivedLines[^1])), continues.GetProperty("hash").GetString());
        Assert.EndsWith(lastSeq.ToString("D12", System.Globalization.CultureInfo.InvariantCulture), archive, StringComparison.Ordinal);
        await signer.WaitForLogAsync("rotated: records up to seq");

        // The numbering goes on, across a kill -9 too.
        var next = await signer.SignAsync("GET", "/api/v3/account", Account);
        Assert.True(next.AuditSeq > lastSeq);
        await signer.KillAndRestartAsync();
        Assert.Equal(next.AuditSeq + 1, (await signer.SignAsync("GET", "/api/v3/account", Account)).AuditSeq);

        // One chain through both files, from seq 1.
        var whole = await Run.SignerAsync("verify-audit", "--log", signer.AuditPath);
        Assert.True(whole.ExitCode == 0, whole.ToString());
        Assert.Contains($"ok: 2 files, seq 1-{next.AuditSeq + 1}, chain intact across them", whole.Stdout, StringComparison.Ordinal);
        Assert.Contains($"oldest first: {Path.GetFileName(archive)}, {Path.GetFileName(signer.AuditPath)}", whole.Stdout, StringComparison.Ordinal);
        var current = await Run.SignerAsync("verify-audit", "--log", signer.AuditPath, "--no-archives");
        Assert.True(current.ExitCode == 0, current.ToString());
        Assert.Contains($"continuing {Path.GetFileName(archive)} after seq {lastSeq}", current.Stdout, StringComparison.Ordinal);
        Assert.Contains("(not checked: --no-archives)", current.Stdout, StringComparison.Ordinal);
        var archived = await Run.SignerAsync("verify-audit", "--log", archive);
        Assert.True(archived.ExitCode == 0, archived.ToString());
        Assert.Equal(1, signer.AuditLines().Count(l => l.Contains("\"genesis\"", StringComparison.Ordinal)));

        // An archive moved away (retention) is a gap the verdict says; accepting it is explicit.
        File.Move(archive, archive + ".elsewhere");
        var alone = await Run.SignerAsync("verify-audit", "--log", signer.AuditPath);
        Assert.Equal(6, alone.ExitCode);
        Assert.Contains($"INCOMPLETE: audit.log continues {Path.GetFileName(archive)}, which is not next to it", alone.Stderr, StringComparison.Ordinal);
        var accepted = await Run.SignerAsync("verify-audit", "--log", signer.AuditPath, "--allow-missing-archives");
        Assert.True(accepted.ExitCode == 0, accepted.ToString());
    }

    [Fact]
    public async Task RecordEditedInsideAnArchive_VerifyAuditOnTheLiveLog_NamesTheArchiveAndLine()
    {
        await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard, env: SmallLogs);
        var archive = Assert.Single(await SignUntilRotatedAsync(signer, Account));
        await signer.SignAsync("GET", "/api/v3/account", Account);
        var lines = await File.ReadAllLinesAsync(archive);
        lines[10] = lines[10].Replace("\"decision\":\"allow\"", "\"decision\":\"deny\"", StringComparison.Ordinal);
        await File.WriteAllLinesAsync(archive, lines);

        var result = await Run.SignerAsync("verify-audit", "--log", signer.AuditPath);
        Assert.Equal(5, result.ExitCode);
        Assert.Contains($"{archive}: FAILED at line 12: prev does not match the SHA-256 of line 11", result.Stderr, StringComparison.Ordinal);
        // Checking the live file alone cannot see it: that is what --no-archives gives up.
        Assert.Equal(0, (await Run.SignerAsync("verify-audit", "--log", signer.AuditPath, "--no-archives")).ExitCode);
    }

    [Fact]
    public async Task ArchiveHeaderNamingItself_RefusesToStart_NoEndlessRecursion()
    {
        await using var signer = await GuardedSigner.StartAsync(CapGuard(10), env: SmallLogs);
        var archive = Assert.Single(await SignUntilRotatedAsync(signer, Account));
        signer.Process.Kill();
        var lines = await File.ReadAllLinesAsync(archive);
        var header = JsonNode.Parse(lines[0])!.AsObject();
        header["continues"] = new JsonObject { ["file"] = Path.GetFileName(archive), ["seq"] = 5, ["hash"] = new string('a', 64) };
        lines[0] = header.ToJsonString();
        await File.WriteAllLinesAsync(archive, lines);
        await AssertStartRefusedAsync(signer, "AUDIT_LOG_CORRUPT", "that file starts at seq 5");
        var verify = await Run.SignerAsync("verify-audit", "--log", signer.AuditPath);
        Assert.Equal(5, verify.ExitCode);
        // It ends: the walk back needs seqs to go down at each step.
        Assert.StartsWith($"{archive}: FAILED at line 1: the header says it comes after seq 5", verify.Stderr, StringComparison.Ordinal);
        Assert.Contains("a loop or a forged header", verify.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ArchiveEditedAfterRotation_TheNewFilesHeaderTellsVerifyAudit()
    {
        await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard, env: SmallLogs);
        var archive = Assert.Single(await SignUntilRotatedAsync(signer, Account));
        // The archive's last line has no successor in its own file: only the new header's hash of it tells.
        var lines = await File.ReadAllLinesAsync(archive);
        lines[^1] = lines[^1].Replace("\"decision\":\"allow\"", "\"decision\":\"deny\"", StringComparison.Ordinal);
        await File.WriteAllLinesAsync(archive, lines);
        Assert.Equal(0, (await Run.SignerAsync("verify-audit", "--log", archive)).ExitCode);

        var result = await Run.SignerAsync("verify-audit", "--log", signer.AuditPath);
        Assert.Equal(5, result.ExitCode);
        Assert.Contains($"{signer.AuditPath}: FAILED at line 1: the header continues {Path.GetFileName(archive)} after seq", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("that file's last line is not the one this header names", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RollingCap_CheckpointBeforeTheRotation_Kill9_ReplaysTheArchiveToo()
    {
        await using var signer = await GuardedSigner.StartAsync(CapGuard(10), env: SmallLogs);
        for (var i = 0; i < 3; i++)
        {
            await signer.SignAsync("POST", "/api/v3/order", Order);
        }
        Assert.Single(await SignUntilRotatedAsync(signer, Account));
        await signer.SignAsync("POST", "/api/v3/order", Order);

        // SIGKILL: the checkpoint is the one written at start-up, in what is now the archive.
        await signer.KillAndRestartAsync();
        AssertReplayedSinceStart(signer, orders: 4);
        for (var i = 0; i < 6; i++)
        {
            await signer.SignAsync("POST", "/api/v3/order", Order);
        }
        var refused = await signer.RefusedAsync("POST", "/api/v3/order", Order);
        Assert.Equal("ROLLING_CAP", refused.Reason);
        Assert.Equal("10 + 1", refused.Metadata["observed"]);

        // A clean stop checkpoints in the new file; the next start reads no archive.
        await signer.StopAndRestartAsync();
        Assert.Contains("0 counted orders replayed", signer.Process.Log, StringComparison.Ordinal);
        Assert.Equal("10 + 1", (await signer.RefusedAsync("POST", "/api/v3/order", Order)).Metadata["observed"]);
    }

    [Fact]
    public async Task RotatedLogWithoutCheckpoint_RefusesToStart_SaysWhatToDo()
    {
        await using var signer = await GuardedSigner.StartAsync(CapGuard(10), env: SmallLogs);
        await SignUntilRotatedAsync(signer, Account);
        Assert.Equal(0, await signer.Process.TerminateAsync());
        File.Delete(signer.CheckpointPath);
        await AssertStartRefusedAsync(signer, "GUARD_STATE_MISSING", "restore it");
    }

    [Fact]
    public async Task CheckpointInAnArchiveThatIsGone_RefusesToStart()
    {
        await using var signer = await GuardedSigner.StartAsync(CapGuard(10), env: SmallLogs);
        var archive = Assert.Single(await SignUntilRotatedAsync(signer, Account));
        signer.Process.Kill();
        File.Move(archive, archive + ".elsewhere");
        await AssertStartRefusedAsync(signer, "AUDIT_LOG_CORRUPT", "cannot be read");
    }

    [Fact]
    public async Task TwoRotationsSinceTheCheckpoint_Kill9_ReplaysThroughBothArchives()
    {
        await using var signer = await GuardedSigner.StartAsync(CapGuard(10), env: SmallLogs);
        await signer.SignAsync("POST", "/api/v3/order", Order);
        Assert.Equal(2, (await SignUntilRotatedAsync(signer, Account, times: 2)).Length);
        await signer.SignAsync("POST", "/api/v3/order", Order);
        await signer.KillAndRestartAsync();
        AssertReplayedSinceStart(signer, orders: 2);
        for (var i = 0; i < 8; i++)
        {
            await signer.SignAsync("POST", "/api/v3/order", Order);
        }
        Assert.Equal("10 + 1", (await signer.RefusedAsync("POST", "/api/v3/order", Order)).Metadata["observed"]);
        var verify = await Run.SignerAsync("verify-audit", "--log", signer.AuditPath);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Contains("ok: 3 files, seq 1-", verify.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RotationInterruptedBeforeItsRename_SpareFilesRemoved_LogGoesOn()
    {
        await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard, env: SmallLogs);
        for (var i = 0; i < 3; i++)
        {
            await signer.SignAsync("GET", "/api/v3/account", Account);
        }
        Assert.Equal(0, await signer.Process.TerminateAsync());
        // What a crash between steps (2) and (3) leaves: the new header under the temp name, the live log linked as the archive.
        var archive = signer.AuditPath + ".000000000003";
        var lastHash = AuditLog.Hash(System.Text.Encoding.UTF8.GetBytes(signer.AuditLines()[^1]));
        var header = JsonSerializer.Serialize(new
        {
            type = "uncoded-signer-audit",
            version = 1,
            genesis = new string('0', 64),
            created = "2026-11-30T00:00:00.000000Z",
            continues = new { file = Path.GetFileName(archive), seq = 3, hash = lastHash },
        });
        await File.WriteAllTextAsync(signer.AuditPath + ".rotating", header + "\n");
        var ln = await Run.ProcessAsync("ln", [signer.AuditPath, archive]);
        Assert.True(ln.ExitCode == 0, ln.ToString());

        await signer.StartAgainAsync();
        Assert.Contains("a rotation was interrupted before its rename", signer.Process.Log, StringComparison.Ordinal);
        Assert.False(File.Exists(archive));
        Assert.False(File.Exists(signer.AuditPath + ".rotating"));
        Assert.Equal(4UL, (await signer.SignAsync("GET", "/api/v3/account", Account)).AuditSeq);
        Assert.Equal(0, (await Run.SignerAsync("verify-audit", "--log", signer.AuditPath)).ExitCode);
    }

    [Fact]
    public async Task RotationInterruptedBeforeItsLink_AFileOfTheArchiveNameFromAnEarlierChainStays()
    {
        await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard, env: SmallLogs);
        await signer.SignAsync("GET", "/api/v3/account", Account);
        Assert.Equal(0, await signer.Process.TerminateAsync());
        var unrelated = signer.AuditPath + ".000000000001";
        await File.WriteAllTextAsync(unrelated, "an earlier chain's archive\n");
        var header = JsonSerializer.Serialize(new
        {
            type = "uncoded-signer-audit",
            version = 1,
            genesis = new string('0', 64),
            created = "2026-11-30T00:00:00.000000Z",
            continues = new { file = Path.GetFileName(unrelated), seq = 1, hash = new string('b', 64) },
        });
        await File.WriteAllTextAsync(signer.AuditPath + ".rotating", header + "\n");

        await signer.StartAgainAsync();
        Assert.False(File.Exists(signer.AuditPath + ".rotating"));
        Assert.Equal("an earlier chain's archive\n", await File.ReadAllTextAsync(unrelated));
        Assert.Equal(2UL, (await signer.SignAsync("GET", "/api/v3/account", Account)).AuditSeq);
    }

    /// <summary>
    /// The orders replayed at start-up, when the last checkpoint is the start-up one (seq 0, now in
    /// an archive). On a very slow machine the 10 s timer may have checkpointed later; the cap
    /// checks that follow hold either way.
    /// </summary>
    private static void AssertReplayedSinceStart(GuardedSigner signer, int orders)
    {
        var replay = System.Text.RegularExpressions.Regex.Match(signer.Process.Log, "(\\d+) counted orders replayed from the audit log after seq (\\d+)");
        Assert.True(replay.Success, signer.Process.Log);
        if (replay.Groups[2].Value == "0")
        {
            Assert.Equal(orders, int.Parse(replay.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Starting the stopped signer again fails (exit 3) with a log that says each of <paramref name="expected"/>.</summary>
    private static async Task AssertStartRefusedAsync(GuardedSigner signer, params string[] expected)
    {
        await using var again = await SignerProcess.StartWithConfigAsync(signer.Process.ConfigPath, signer.Process.SocketPath, waitUntilListening: false, env: SmallLogs);
        Assert.Equal(3, await again.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.All(expected, text => Assert.Contains(text, again.Log, StringComparison.Ordinal));
    }

    /// <summary>Signs until the log has been rotated <paramref name="times"/> times; returns the archives.</summary>
    private static async Task<string[]> SignUntilRotatedAsync(GuardedSigner signer, string payload, int times = 1)
    {
        for (var i = 0; i < 2_000 * times; i++)
        {
            await signer.SignAsync("GET", "/api/v3/account", payload);
            var archives = Directory.GetFiles(Path.GetDirectoryName(signer.AuditPath)!, Path.GetFileName(signer.AuditPath) + ".0*");
            if (archives.Length >= times)
            {
                return archives;
            }
        }
        throw new InvalidOperationException($"the log was not rotated {times} times after {2_000 * times} records");
    }
}
