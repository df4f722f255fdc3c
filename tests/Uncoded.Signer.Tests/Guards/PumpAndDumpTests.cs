using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Guards;

/// <summary>What a compromised executor would ask for to drain the account: every shape refused, every one audited.</summary>
public sealed class PumpAndDumpTests
{
    [Fact]
    public async Task Sign_PumpAndDumpShapes_AllRefusedAndAudited()
    {
        await using var signer = await GuardedSigner.StartAsync(TestKeys.TestGuard);
        // {now} is filled in right before each call, so a slow machine cannot make a payload stale.
        var fresh = TestKeys.WithTimestamp(TestKeys.BinanceExamplePayload, 0).Replace("timestamp=0", "timestamp={now}", StringComparison.Ordinal);
        (string Path, string Payload, string Reason)[] attacks =
        [
            ("/api/v3/order", "symbol=PUMPBTC&side=BUY&type=MARKET&quoteOrderQty=5&recvWindow=5000&timestamp={now}", "SYMBOL_NOT_ALLOWED"),
            ("/api/v3/order", fresh.Replace("LTCBTC", "PUMPBTC", StringComparison.Ordinal), "SYMBOL_NOT_ALLOWED"),
            ("/api/v3/order", fresh.Replace("price=0.1", "price=100000", StringComparison.Ordinal), "NOTIONAL_CAP"),
            ("/api/v3/order", fresh + "&address=bc1qattacker", "NEVER_SIGN_PARAMETER"),
            ("/sapi/v1/capital/withdraw/apply", fresh, "NEVER_SIGN_PATH"),
            ("/api/v3/order", fresh.Replace("{now}", "{10 minutes ago}", StringComparison.Ordinal), "STALE_TIMESTAMP"),
            ("/api/v3/order", fresh.Replace("recvWindow=5000", "recvWindow=60000", StringComparison.Ordinal), "RECV_WINDOW_TOO_LONG"),
        ];
        foreach (var (path, payload, reason) in attacks)
        {
            var tenMinutesAgo = (TestKeys.NowMs() - 10 * 60 * 1000).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var refused = await signer.RefusedAsync("POST", path, payload.Replace("{10 minutes ago}", tenMinutesAgo, StringComparison.Ordinal));
            Assert.Equal(reason, refused.Reason);
        }
        var records = signer.AuditLines().Skip(1).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(attacks.Length, records.Count);
        Assert.All(records, r => Assert.Equal("deny", r.GetProperty("decision").GetString()));
        Assert.Equal(attacks.Select(a => a.Reason), records.Select(r => r.GetProperty("reason").GetString()));
        Assert.Equal(attacks.Select(a => a.Path), records.Select(r => r.GetProperty("path").GetString()));
    }
}
