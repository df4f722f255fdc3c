using Uncoded.Simulator.Scenarios;
using Uncoded.Simulator.Tests.Support;

namespace Uncoded.Simulator.Tests.Functional;

/// <summary>REQUEST_WEIGHT per IP per minute (429, then 418) and ORDERS per account, with a frozen clock.</summary>
public sealed class RateLimitTests
{
    // 30 s into a minute window, so Retry-After is 30 and no window boundary falls inside a test.
    private const long Now = 1_700_000_010_000;

    [Fact]
    public async Task Time_WeightExceeded_429WithRetryAfterThen418()
    {
        var scenario = TestScenarios.Market() with
        {
            Clock = new ClockSpec { FixedUnixMs = Now },
            RateLimits = new RateLimitSpec { RequestWeightPerMinute = 10, RejectionsBeforeBan = 2, BanSeconds = 120 },
        };
        await using var sim = await TestScenarios.StartAsync(scenario);
        using var client = new BinanceClient(sim);

        var depth = await client.PublicAsync("/api/v3/depth?symbol=BTCUSDT");
        var allowed = new List<Answer>();
        for (var i = 0; i < 5; i++)
        {
            allowed.Add(await client.PublicAsync("/api/v3/time"));
        }
        var throttled1 = await client.PublicAsync("/api/v3/time");
        var throttled2 = await client.PublicAsync("/api/v3/time");
        var banned = await client.PublicAsync("/api/v3/time");
        sim.Clock.Advance(TimeSpan.FromSeconds(60));
        var stillBanned = await client.PublicAsync("/api/v3/time");
        sim.Clock.Advance(TimeSpan.FromSeconds(61));
        var afterBan = await client.PublicAsync("/api/v3/time");

        Assert.Equal("5", depth.Header("X-MBX-USED-WEIGHT-1M"));
        Assert.All(allowed, a => Assert.Equal(200, a.Status));
        Assert.Equal("10", allowed[^1].Header("X-MBX-USED-WEIGHT-1M"));
        Assert.Equal((429, -1003), (throttled1.Status, throttled1.Code));
        Assert.Equal("30", throttled1.Header("Retry-After"));
        Assert.Equal(429, throttled2.Status);
        Assert.Equal((418, -1003), (banned.Status, banned.Code));
        Assert.Equal("120", banned.Header("Retry-After"));
        Assert.StartsWith("Way too much request weight used; IP banned until", banned.Msg, StringComparison.Ordinal);
        Assert.Equal(418, stillBanned.Status);
        Assert.Equal(200, afterBan.Status);
    }

    [Fact]
    public async Task Order_MoreThanOrdersPer10Seconds_Rejected1015WithCountHeaders()
    {
        var key = TestKeys.Hmac();
        var scenario = TestScenarios.Market(key) with
        {
            Clock = new ClockSpec { FixedUnixMs = Now },
            RateLimits = new RateLimitSpec { OrdersPer10Seconds = 2 },
        };
        await using var sim = await TestScenarios.StartAsync(scenario);
        using var client = new BinanceClient(sim, key);
        const string order = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=50000.00";

        var first = await client.OrderAsync(order);
        var second = await client.OrderAsync(order);
        var third = await client.OrderAsync(order);
        sim.Clock.Advance(TimeSpan.FromSeconds(10));
        var nextWindow = await client.OrderAsync(order);

        Assert.Equal(("1", "1"), (first.Header("X-MBX-ORDER-COUNT-10S"), first.Header("X-MBX-ORDER-COUNT-1D")));
        Assert.Equal("2", second.Header("X-MBX-ORDER-COUNT-10S"));
        Assert.Equal((429, -1015, "Too many new orders; current limit is 2 orders per 10 SECOND."), (third.Status, third.Code, third.Msg));
        Assert.Equal(200, nextWindow.Status);
        Assert.Equal(("1", "3"), (nextWindow.Header("X-MBX-ORDER-COUNT-10S"), nextWindow.Header("X-MBX-ORDER-COUNT-1D")));
    }
}
