using System.Diagnostics;
using Uncoded.Simulator.Faults;
using Uncoded.Simulator.Tests.Support;

namespace Uncoded.Simulator.Tests.Functional;

/// <summary>Injected faults: the order executes (or not) exactly as each fault says, whatever the answer.</summary>
public sealed class FaultTests
{
    private const string Order = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=50000.00&newClientOrderId=fault-1";

    private static async Task<Answer> QueryAsync(BinanceClient client) =>
        await client.SignedAsync(HttpMethod.Get, "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=fault-1");

    [Theory]
    [InlineData(FaultKind.Http500AfterExecute, 500, -1000)]
    [InlineData(FaultKind.Error1006AfterExecute, 500, -1006)]
    [InlineData(FaultKind.Error1007AfterExecute, 408, -1007)]
    public async Task NewOrder_FaultAfterExecute_ErrorAnswerButOrderExists(FaultKind kind, int status, int code)
    {
        var key = TestKeys.Hmac();
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);
        sim.Faults.Inject(new FaultSpec { Kind = kind, Method = "POST", Path = "/api/v3/order" });

        var answer = await client.OrderAsync(Order);
        var query = await QueryAsync(client);

        Assert.Equal((status, code), (answer.Status, answer.Code));
        Assert.Equal("NEW", query.Get("status"));
        Assert.Equal(0, sim.Faults.Pending);
    }

    [Fact]
    public async Task NewOrder_TimeoutAfterExecute_ClientTimesOutButOrderExists()
    {
        var key = TestKeys.Hmac();
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        // The answer never comes, so the client always times out; 5 s (not 1 s) so that a loaded
        // machine still gets the request executed before the client gives up.
        using var impatient = new BinanceClient(sim, key, timeout: TimeSpan.FromSeconds(5));
        using var client = new BinanceClient(sim, key);
        sim.Faults.Inject(new FaultSpec { Kind = FaultKind.TimeoutAfterExecute, Path = "/api/v3/order", Method = "POST" });

        await Assert.ThrowsAnyAsync<TaskCanceledException>(() => impatient.OrderAsync(Order));
        var query = await QueryAsync(client);

        Assert.Equal("NEW", query.Get("status"));
        Assert.Equal(0.01m * 50_000m, sim.Exchange.Balances("trader")["USDT"].Locked);
    }

    [Fact]
    public async Task NewOrder_503BeforeExecute_NothingExecuted()
    {
        var key = TestKeys.Hmac();
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);
        sim.Faults.Inject(new FaultSpec { Kind = FaultKind.Unavailable503BeforeExecute, Path = "/api/v3/order" });

        var answer = await client.OrderAsync(Order);
        var query = await QueryAsync(client);
        var retry = await client.OrderAsync(Order);

        Assert.Equal(503, answer.Status);
        Assert.Equal(-2013, query.Code);
        Assert.Equal(200, retry.Status);
    }

    [Fact]
    public async Task Time_SlowResponseForTwoRequests_DelaysOnlyThoseTwo()
    {
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market());
        using var client = new BinanceClient(sim);
        sim.Faults.Inject(new FaultSpec { Kind = FaultKind.SlowResponse, Count = 2, DelayMs = 400, Path = "/api/v3/time" });

        var elapsed = new List<TimeSpan>();
        for (var i = 0; i < 3; i++)
        {
            var watch = Stopwatch.StartNew();
            Assert.Equal(200, (await client.PublicAsync("/api/v3/time")).Status);
            elapsed.Add(watch.Elapsed);
        }

        Assert.True(elapsed[0] >= TimeSpan.FromMilliseconds(350), $"first took {elapsed[0]}");
        Assert.True(elapsed[1] >= TimeSpan.FromMilliseconds(350), $"second took {elapsed[1]}");
        Assert.Equal(0, sim.Faults.Pending);
    }

    [Fact]
    public async Task NewOrder_DelayedPastRecvWindowBeforeEngine_Rejected1021AndNotExecuted()
    {
        var key = TestKeys.Hmac();
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);
        sim.Faults.Inject(new FaultSpec { Kind = FaultKind.SlowResponse, DelayMs = 1500, Path = "/api/v3/order" });

        var answer = await client.OrderAsync(Order + "&recvWindow=1000");
        var query = await QueryAsync(client);

        Assert.Equal((-1021, "Timestamp for this request is outside of the recvWindow."), (answer.Code, answer.Msg));
        Assert.Equal(-2013, query.Code);
    }

    /// <summary>Faults listed in the scenario file are queued when it loads, exactly like injected ones.</summary>
    [Fact]
    public async Task NewOrder_FaultSeededByScenario_HitsFirstOrderOnly()
    {
        var key = TestKeys.Hmac();
        var scenario = TestScenarios.Market(key) with
        {
            Faults = [new FaultSpec { Kind = FaultKind.Http500AfterExecute, Count = 1, Method = "POST", Path = "/api/v3/order" }],
        };
        await using var sim = await TestScenarios.StartAsync(scenario);
        using var client = new BinanceClient(sim, key);
        var time = await client.PublicAsync("/api/v3/time");

        var first = await client.OrderAsync(Order);
        var query = await QueryAsync(client);
        var second = await client.OrderAsync(Order.Replace("fault-1", "fault-2", StringComparison.Ordinal));

        Assert.Equal(200, time.Status);
        Assert.Equal((500, -1000), (first.Status, first.Code));
        Assert.Equal("NEW", query.Get("status"));
        Assert.True(second.Status == 200, second.ToString());
        Assert.Equal(0, sim.Faults.Pending);
    }
}
