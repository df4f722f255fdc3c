using Grpc.Core;
using Uncoded.Client;
using Uncoded.Signer.Tests.Support;
using Uncoded.Testing;

namespace Uncoded.Signer.Tests.Guards;

public sealed class CapAndRateTests
{
    private const string Order = "/api/v3/order";

    /// <summary>Notional 1 per order (price 1 × quantity 1).</summary>
    private const string OneUnit = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1&recvWindow=5000&timestamp={now}";

    // The widest skew configuration allows: 1,000 calls stamped at once may queue for seconds on a busy machine.
    private static object CapGuard(decimal maxDaily, int perMinute = 100_000, int perPeer = 100_000) => new
    {
        Symbols = new Dictionary<string, object> { ["LTCBTC"] = new { MaxOrderNotional = 10m } },
        MaxDailyNotional = maxDaily,
        MaxClockSkewMs = 10_000,
        SignaturesPerMinute = perMinute,
        SignaturesPerMinutePerPeer = perPeer,
    };

    [Fact]
    public async Task RollingCap_SurvivesKill9AndRestart_RebuiltFromTheAuditLog()
    {
        await using var signer = await GuardedSigner.StartAsync(CapGuard(10));
        for (var i = 0; i < 7; i++)
        {
            await signer.SignAsync("POST", Order, OneUnit);
        }
        // Test orders count too: their signature is just as valid on /api/v3/order.
        await signer.SignAsync("POST", "/api/v3/order/test", OneUnit);
        var order = signer.LastAuditRecord();
        Assert.Equal("1", order.GetProperty("notional").GetString());

        // SIGKILL within the checkpoint interval: only the audit log knows about the 8 orders.
        await signer.KillAndRestartAsync();
        Assert.Contains("8 counted orders replayed from the audit log after seq 0", signer.Process.Log, StringComparison.Ordinal);

        await signer.SignAsync("POST", Order, OneUnit);
        await signer.SignAsync("POST", Order, OneUnit.Replace("quantity=1", "quantity=0.5", StringComparison.Ordinal).Replace("price=1", "price=2", StringComparison.Ordinal));
        var refused = await signer.RefusedAsync("POST", Order, OneUnit);
        Assert.Equal("ROLLING_CAP", refused.Reason);
        Assert.Equal(StatusCode.ResourceExhausted, refused.Code);
        Assert.Equal("notional-24h", refused.Metadata["rule"]);
        Assert.Equal("10 + 1", refused.Metadata["observed"]);
        Assert.Equal("10", refused.Metadata["limit"]);
        // Reads are not capped, and carry no notional.
        await signer.SignAsync("GET", "/api/v3/account", "recvWindow=5000&timestamp={now}");
        Assert.False(signer.LastAuditRecord().TryGetProperty("notional", out _));
    }

    [Fact]
    public async Task RollingCap_CheckpointThenKill9_EveryOrderCountedExactlyOnce()
    {
        await using var signer = await GuardedSigner.StartAsync(CapGuard(10));
        for (var i = 0; i < 4; i++)
        {
            await signer.SignAsync("POST", Order, OneUnit);
        }
        // A clean stop writes the checkpoint at the log's end (seq 4).
        await signer.StopAndRestartAsync();
        Assert.Contains("\"auditSeq\":4,", await File.ReadAllTextAsync(signer.CheckpointPath), StringComparison.Ordinal);
        Assert.Contains("0 counted orders replayed from the audit log after seq 4", signer.Process.Log, StringComparison.Ordinal);
        for (var i = 0; i < 4; i++)
        {
            await signer.SignAsync("POST", Order, OneUnit);
        }
        // The checkpoint holds 4, the log after it 4 more: replay adds those, not the first 4 again.
        await signer.KillAndRestartAsync();
        Assert.Contains("4 counted orders replayed from the audit log after seq 4", signer.Process.Log, StringComparison.Ordinal);
        await signer.SignAsync("POST", Order, OneUnit);
        await signer.SignAsync("POST", Order, OneUnit);
        var refused = await signer.RefusedAsync("POST", Order, OneUnit);
        Assert.Equal("ROLLING_CAP", refused.Reason);
        Assert.Equal("10 + 1", refused.Metadata["observed"]);
    }

    [Fact]
    public async Task RollingCap_TimerCheckpoint_FailureIsOnlyAWarning_ThenKill9ReplaysFromIt()
    {
        await using var signer = await GuardedSigner.StartAsync(CapGuard(6));
        for (var i = 0; i < 3; i++)
        {
            await signer.SignAsync("POST", Order, OneUnit);
        }
        // Tests run as root: the immutable attribute, not a chmod, makes the state directory unwritable.
        await Chattr("+i", signer.StatePath);
        try
        {
            await signer.WaitForLogAsync("the audit log still holds every counted order");
            // The audit log still holds every counted order: signing goes on.
            await signer.SignAsync("POST", Order, OneUnit);
        }
        finally
        {
            await Chattr("-i", signer.StatePath);
        }
        await signer.WaitForLogAsync("written again");
        Assert.Contains("\"auditSeq\":4,", await File.ReadAllTextAsync(signer.CheckpointPath), StringComparison.Ordinal);

        await signer.SignAsync("POST", Order, OneUnit);
        await signer.SignAsync("POST", Order, OneUnit);
        await signer.KillAndRestartAsync();
        // Replayed from the seq-4 checkpoint (or from a later one, should the timer have fired again):
        // checkpoint and replay together count each of the 6 orders once.
        var replay = System.Text.RegularExpressions.Regex.Match(signer.Process.Log, "(\\d+) counted orders replayed from the audit log after seq (\\d+)");
        Assert.True(replay.Success, signer.Process.Log);
        Assert.Equal(6, int.Parse(replay.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) +
            int.Parse(replay.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        var refused = await signer.RefusedAsync("POST", Order, OneUnit);
        Assert.Equal("6 + 1", refused.Metadata["observed"]);
    }

    private static async Task Chattr(string flag, string path)
    {
        var result = await Run.ProcessAsync("chattr", [flag, path]);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task RollingCap_StateFileOfAnEarlierBuild_ImportedNotReset()
    {
        await using var signer = await GuardedSigner.StartAsync(CapGuard(10));
        await signer.SignAsync("GET", "/api/v3/account", "recvWindow=5000&timestamp={now}");
        Assert.Equal(0, await signer.Process.TerminateAsync());
        // What a build before the write-ahead cap left: no checkpoint, the window (9 signed this
        // minute) in <key>.rolling.json, and orders in the log without a notional.
        File.Delete(signer.CheckpointPath);
        var legacy = Path.Combine(signer.StatePath, "k.rolling.json");
        var minute = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 60_000;
        await File.WriteAllTextAsync(legacy, $"{{\"version\":1,\"key\":\"k\",\"auditSeq\":1,\"minutes\":[[{minute},\"9\"]]}}\n");

        await signer.StartAgainAsync();
        Assert.Contains("Rolling cap of key k imported from", signer.Process.Log, StringComparison.Ordinal);
        Assert.False(File.Exists(legacy));
        Assert.Contains("\"9\"", await File.ReadAllTextAsync(signer.CheckpointPath), StringComparison.Ordinal);
        await signer.SignAsync("POST", Order, OneUnit);
        var refused = await signer.RefusedAsync("POST", Order, OneUnit);
        Assert.Equal("ROLLING_CAP", refused.Reason);
        Assert.Equal("10 + 1", refused.Metadata["observed"]);
    }

    [Fact]
    public async Task RollingCap_CorruptCheckpoint_RefusesToStart()
    {
        await using var signer = await GuardedSigner.StartAsync(CapGuard(10));
        await signer.SignAsync("POST", Order, OneUnit);
        Assert.Equal(0, await signer.Process.TerminateAsync());
        var text = await File.ReadAllTextAsync(signer.CheckpointPath);
        await File.WriteAllTextAsync(signer.CheckpointPath, text.Replace("\"1\"", "\"x\"", StringComparison.Ordinal));
        await using var again = await SignerProcess.StartWithConfigAsync(signer.Process.ConfigPath, signer.Process.SocketPath, waitUntilListening: false);
        Assert.Equal(3, await again.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("GUARD_STATE_CORRUPT", again.Log, StringComparison.Ordinal);
        Assert.Contains("refusing to start with an unknown 24 h total", again.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RollingCap_1000ConcurrentCalls_NeverSignMoreThanTheCap()
    {
        // Every refusal recorded in full: 900 is over the default refusal budget of 600 a minute.
        await using var signer = await GuardedSigner.StartAsync(CapGuard(100), env: RefusalBudget(1000));
        var calls = Enumerable.Range(0, 1000).Select(async _ =>
        {
            try
            {
                await signer.SignAsync("POST", Order, OneUnit);
                return true;
            }
            catch (SignerRefusedException e) when (e.Reason == "ROLLING_CAP")
            {
                return false;
            }
        });
        var results = await Task.WhenAll(calls);
        Assert.Equal(100, results.Count(signed => signed));
        var audit = signer.AuditLines();
        Assert.Equal(100, audit.Count(l => l.Contains("\"decision\":\"allow\"", StringComparison.Ordinal)));
        Assert.Equal(900, audit.Count(l => l.Contains("\"reason\":\"ROLLING_CAP\"", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Refusals_OverThePeerBudget_AnsweredAndCountedInOneSummaryRecord()
    {
        await using var signer = await GuardedSigner.StartAsync(CapGuard(100), env: RefusalBudget(3));
        // The budget is per clock minute: start the flood early in one, so it cannot refill halfway.
        if (DateTime.UtcNow.Second >= 45)
        {
            await Task.Delay(TimeSpan.FromSeconds(61 - DateTime.UtcNow.Second));
        }
        for (var i = 0; i < 6; i++)
        {
            var refused = await signer.RefusedAsync("POST", "/sapi/v1/capital/withdraw/apply", "coin=BTC&recvWindow=5000&timestamp={now}");
            Assert.Equal("NEVER_SIGN_PATH", refused.Reason);
        }
        for (var i = 0; i < 4; i++)
        {
            var refused = await signer.RefusedAsync("POST", Order, OneUnit.Replace("{now}", "1499827319559", StringComparison.Ordinal));
            Assert.Equal("STALE_TIMESTAMP", refused.Reason);
        }
        // The flood costs the caller nothing it is allowed to do.
        var signed = await signer.SignAsync("POST", Order, OneUnit);
        var lines = signer.AuditLines();
        Assert.Equal(3, lines.Count(l => l.Contains("\"decision\":\"deny\"", StringComparison.Ordinal)));
        Assert.Equal(signed.AuditSeq, signer.LastAuditRecord().GetProperty("seq").GetUInt64());

        // Nor the signer's own log: one line per recorded refusal, none for the counted ones.
        Assert.Equal(3, signer.Process.Log.Split("Refused Sign").Length - 1);

        // The 7 refusals not recorded one by one are summarised (at the latest at shutdown).
        Assert.Equal(0, await signer.Process.TerminateAsync());
        Assert.Contains("7 refusals of peer uid", signer.Process.Log, StringComparison.Ordinal);
        var summary = System.Text.Json.JsonDocument.Parse(signer.AuditLines()[^1]).RootElement;
        Assert.Equal("REFUSALS_NOT_RECORDED", summary.GetProperty("reason").GetString());
        Assert.Equal("deny", summary.GetProperty("decision").GetString());
        Assert.Equal(Hardening.Libc.getuid(), summary.GetProperty("peer").GetProperty("uid").GetUInt32());
        var detail = summary.GetProperty("detail");
        Assert.Equal("7", detail.GetProperty("count").GetString());
        Assert.Equal("NEVER_SIGN_PATH:3,STALE_TIMESTAMP:4", detail.GetProperty("reasons").GetString());
        var verify = await Run.SignerAsync("verify-audit", "--log", signer.AuditPath);
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    private static Dictionary<string, string?> RefusalBudget(int perMinute) =>
        new() { ["UNCODED_Signer__Audit__MaxRefusalsPerMinutePerPeer"] = perMinute.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    [Fact]
    public async Task Rate_PerKeyBucket_RefusesOverTheLimit()
    {
        await using var signer = await GuardedSigner.StartAsync(CapGuard(1000, perMinute: 5));
        for (var i = 0; i < 5; i++)
        {
            await signer.SignAsync("GET", "/api/v3/account", "recvWindow=5000&timestamp={now}");
        }
        var refused = await signer.RefusedAsync("GET", "/api/v3/account", "recvWindow=5000&timestamp={now}");
        Assert.Equal("RATE_LIMITED", refused.Reason);
        Assert.Equal(StatusCode.ResourceExhausted, refused.Code);
        Assert.Equal("rate-per-key", refused.Metadata["rule"]);
        Assert.Equal("5/min", refused.Metadata["limit"]);
    }

    [Fact]
    public async Task Rate_PerPeerBucket_RefusesOverTheLimit()
    {
        await using var signer = await GuardedSigner.StartAsync(CapGuard(1000, perMinute: 100, perPeer: 3));
        for (var i = 0; i < 3; i++)
        {
            await signer.SignAsync("GET", "/api/v3/account", "recvWindow=5000&timestamp={now}");
        }
        var refused = await signer.RefusedAsync("GET", "/api/v3/account", "recvWindow=5000&timestamp={now}");
        Assert.Equal("RATE_LIMITED", refused.Reason);
        Assert.Equal("rate-per-peer", refused.Metadata["rule"]);
    }

    [Fact]
    public async Task Rate_RefusedRequests_SpendNoTokens()
    {
        await using var signer = await GuardedSigner.StartAsync(CapGuard(1000, perMinute: 2));
        for (var i = 0; i < 5; i++)
        {
            await signer.RefusedAsync("POST", "/sapi/v1/capital/withdraw/apply", "coin=BTC&recvWindow=5000&timestamp={now}");
        }
        await signer.SignAsync("GET", "/api/v3/account", "recvWindow=5000&timestamp={now}");
        await signer.SignAsync("GET", "/api/v3/account", "recvWindow=5000&timestamp={now}");
    }
}
