using Uncoded.Simulator.Hosting;
using Uncoded.Simulator.Market;
using Uncoded.Simulator.Scenarios;

namespace Uncoded.Simulator.Tests.Unit;

public sealed class ScenarioTests
{
    [Fact]
    public void Load_ShippedLiquid_DeepBooksOnBtcAndEth()
    {
        var scenario = Scenario.Load("liquid");
        var exchange = new Exchange(scenario, new SimClock());

        Assert.Equal(["BTCUSDT", "ETHUSDT"], scenario.Symbols.Select(s => s.Symbol));
        Assert.All(scenario.Symbols, s => Assert.Equal(200, exchange.ReadSymbol(s.Symbol, st => st.Book.Asks.Count)));
        Assert.Equal(6, scenario.Symbols[0].Filters.Count);
    }

    [Fact]
    public void Load_ShippedPumpAndDump_AttackerAskFiveHundredPercentAboveLastTrade()
    {
        var scenario = Scenario.Load("pump-and-dump");
        var alt = Assert.Single(scenario.Symbols);
        var ask = Assert.Single(alt.Orders);

        Assert.Equal("attacker", ask.Account);
        Assert.Equal(alt.LastPrice * 6, ask.Price);
        Assert.DoesNotContain("withdrawals", scenario.ApiKeys.Single().Permissions);
        Assert.Equal(100_000m, new Exchange(scenario, new SimClock()).Balances("attacker")["ALT"].Locked);
    }

    [Fact]
    public void Parse_UnknownField_Rejected()
    {
        var error = Assert.Throws<ScenarioException>(() => Scenario.Parse("""{ "name": "x", "acounts": [] }"""));

        Assert.Contains("acounts", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_KeyNotInBinanceFormat_Rejected()
    {
        const string json = """{ "accounts": [{ "id": "a" }], "apiKeys": [{ "apiKey": "too-short", "account": "a", "secret": "s" }] }""";

        Assert.Throws<ScenarioException>(() => Scenario.Parse(json));
    }

    [Fact]
    public void Exchange_RestingOrderBeyondOwnersBalance_Rejected()
    {
        var scenario = Scenario.Load("pump-and-dump");
        var alt = scenario.Symbols[0] with { Orders = [new RestingOrderSpec { Account = "attacker", Side = "SELL", Price = 6m, Quantity = 100_001m }] };

        Assert.Throws<ScenarioException>(() => new Exchange(scenario with { Symbols = [alt] }, new SimClock()));
    }
}
