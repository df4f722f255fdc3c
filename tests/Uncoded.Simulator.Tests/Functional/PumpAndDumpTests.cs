using Uncoded.Simulator.Scenarios;
using Uncoded.Simulator.Tests.Support;

namespace Uncoded.Simulator.Tests.Functional;

/// <summary>
/// The order-book arbitrage attack of DESIGN.md, replayed on the shipped pump-and-dump scenario with
/// raw signed requests: proof the scenario drains a victim before the executor learns to refuse it.
/// </summary>
public sealed class PumpAndDumpTests
{
    private static async Task<(Hosting.SimulatorHost Sim, BinanceClient Victim)> StartAsync()
    {
        var scenario = Scenario.Load("pump-and-dump");
        var sim = await TestScenarios.StartAsync(scenario);
        return (sim, new BinanceClient(sim, TestKeys.ForScenarioKey(scenario.ApiKeys.Single(k => k.Account == "victim"))));
    }

    [Fact]
    public async Task MarketBuy_LeakedTradeOnlyKey_DrainsVictimUsdtIntoAttackerAsk()
    {
        var (sim, victim) = await StartAsync();
        await using var _ = sim;
        using var __ = victim;
        var before = await victim.PublicAsync("/api/v3/ticker/price?symbol=ALTUSDT");

        var answer = await victim.OrderAsync("symbol=ALTUSDT&side=BUY&type=MARKET&quoteOrderQty=10000");
        var after = await victim.PublicAsync("/api/v3/ticker/price?symbol=ALTUSDT");

        Assert.True(answer.Status == 200, answer.ToString());
        var fills = answer.Json.GetProperty("fills").EnumerateArray().Select(f => (f.GetProperty("price").GetString(), f.GetProperty("qty").GetString())).ToList();
        Assert.Equal([("1.01000000", "30.00000000"), ("1.03000000", "20.00000000"), ("6.00000000", "1658.00000000")], fills);
        // The victim paid 10 000 USDT less change for 1708 ALT that were worth ~1 USDT each.
        Assert.Equal(10_000m - 50.9m - (1658m * 6m), sim.Exchange.Balances("victim")["USDT"].Free);
        Assert.Equal(1708m, sim.Exchange.Balances("victim")["ALT"].Free);
        Assert.Equal(1658m * 6m, sim.Exchange.Balances("attacker")["USDT"].Free);
        Assert.Equal("1.00000000", before.Get("price"));
        Assert.Equal("6.00000000", after.Get("price"));
    }

    [Fact]
    public async Task Withdraw_LeakedTradeOnlyKey_Rejected2015()
    {
        var (sim, victim) = await StartAsync();
        await using var _ = sim;
        using var __ = victim;

        var answer = await victim.SignedAsync(HttpMethod.Post, "/sapi/v1/capital/withdraw/apply", "coin=USDT&address=TXattacker&amount=10000");

        Assert.Equal((401, -2015), (answer.Status, answer.Code));
        Assert.Equal(10_000m, sim.Exchange.Balances("victim")["USDT"].Free);
    }
}
