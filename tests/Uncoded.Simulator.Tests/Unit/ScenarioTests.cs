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

    /// <summary>YAML 1.2 is a superset of JSON: the shipped JSON read as YAML is the same scenario.</summary>
    [Theory]
    [InlineData("liquid")]
    [InlineData("pump-and-dump")]
    public void ParseYaml_ShippedJsonReadAsYaml_SameScenario(string name)
    {
        var json = File.ReadAllText(Path.Combine(Scenario.ShippedDirectory, name + ".json"));

        Assert.Equal(Scenario.Parse(json).ToJson(), Scenario.ParseYaml(json).ToJson());
    }

    private const string BlockYaml = """
        # a scenario in block style
        name: yaml-scenario
        clock: { fixedUnixMs: 1499827319559 }
        accounts:
          - id: trader
            balances: { USDT: "1000.50", BTC: 0.5 }
        apiKeys:
          - apiKey: 00000000000000000000000000000000000000000000000000000000000000aa
            account: trader
            type: HMAC
            secret: ! 0123
            permissions: [reading, spotTrading]
            ipAllowlist: [127.0.0.1]
        symbols:
          - symbol: BTCUSDT
            baseAsset: BTC
            quoteAsset: USDT
            lastPrice: 60000.00
            quoteOrderQtyMarketAllowed: false
            filters:
              - { filterType: NOTIONAL, minNotional: 5, applyMinToMarket: true, maxNotional: 9000000, applyMaxToMarket: false, avgPriceMins: 5 }
            book:
              asks: [[60001, 0.5]]
        faults:
          - kind: Http500AfterExecute
            count: 2
            method: POST
            path: /api/v3/order
        """;

    private const string BlockJson = """
        {
          "name": "yaml-scenario", "clock": { "fixedUnixMs": 1499827319559 },
          "accounts": [ { "id": "trader", "balances": { "USDT": "1000.50", "BTC": "0.5" } } ],
          "apiKeys": [ { "apiKey": "00000000000000000000000000000000000000000000000000000000000000aa", "account": "trader",
                         "type": "HMAC", "secret": "0123", "permissions": ["reading", "spotTrading"], "ipAllowlist": ["127.0.0.1"] } ],
          "symbols": [ { "symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "lastPrice": "60000.00",
                         "quoteOrderQtyMarketAllowed": false,
                         "filters": [ { "filterType": "NOTIONAL", "minNotional": "5", "applyMinToMarket": true, "maxNotional": "9000000",
                                        "applyMaxToMarket": false, "avgPriceMins": 5 } ],
                         "book": { "asks": [["60001", "0.5"]] } } ],
          "faults": [ { "kind": "Http500AfterExecute", "count": 2, "method": "POST", "path": "/api/v3/order" } ]
        }
        """;

    [Fact]
    public void ParseYaml_BlockStyleWithTypedAndQuotedScalars_SameAsJson()
    {
        var yaml = Scenario.ParseYaml(BlockYaml);

        Assert.Equal(Scenario.Parse(BlockJson).ToJson(), yaml.ToJson());
        Assert.Equal("0123", yaml.ApiKeys[0].Secret);
        Assert.Equal(1000.50m, yaml.Accounts[0].Balances["USDT"]);
        Assert.False(yaml.Symbols[0].QuoteOrderQtyMarketAllowed);
        Assert.Equal(2, yaml.Faults.Single().Count);
    }

    [Theory]
    [InlineData(".yaml")]
    [InlineData(".yml")]
    [InlineData(".json")]
    public void Load_FileByExtension_YamlOrJson(string extension)
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "scenario" + extension);
        File.WriteAllText(path, extension == ".json" ? BlockJson : BlockYaml);

        Assert.Equal("yaml-scenario", Scenario.Load(path).Name);
    }

    [Theory]
    [InlineData("name: a\nname: b\n", "appears twice")]
    [InlineData("base: &b { id: x }\naccounts: [*b]\n", "anchors and aliases")]
    [InlineData("name: !!binary aGk=\n", "not supported")]
    [InlineData("name: a\n---\nname: b\n", "more than one document")]
    [InlineData("name: [unclosed\n", "line")]
    [InlineData("acounts: []\n", "acounts")]
    [InlineData("", "empty")]
    public void ParseYaml_Malformed_ClearError(string yaml, string expected)
    {
        var error = Assert.Throws<ScenarioException>(() => Scenario.ParseYaml(yaml));

        Assert.StartsWith("invalid scenario YAML", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseYaml_DeeplyNested_Refused()
    {
        var yaml = "name: " + new string('[', 100) + new string(']', 100);

        var error = Assert.Throws<ScenarioException>(() => Scenario.ParseYaml(yaml));

        Assert.Contains("deeper than 64", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_KeyWithoutReading_RejectedEveryBinanceKeyCanRead()
    {
        var key = Scenario.Parse(BlockJson).ApiKeys[0] with { Permissions = ["spotTrading"] };

        var error = Assert.Throws<ScenarioException>(() => Scenario.Parse(Scenario.Parse(BlockJson).WithKey(key).ToJson()));

        Assert.Contains("'reading'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_WithdrawalsWithoutIpAllowlist_Rejected()
    {
        var scenario = Scenario.Parse(BlockJson);
        var unrestricted = scenario.ApiKeys[0] with { Permissions = ["reading", "withdrawals"], IpAllowlist = [] };
        var restricted = unrestricted with { IpAllowlist = ["127.0.0.1"] };

        var error = Assert.Throws<ScenarioException>(() => Scenario.Parse(scenario.WithKey(unrestricted).ToJson()));
        var loaded = Scenario.Parse(scenario.WithKey(restricted).ToJson());

        Assert.Contains("ipAllowlist", error.Message, StringComparison.Ordinal);
        Assert.Contains("withdrawals", loaded.ApiKeys[0].Permissions);
    }
}

internal static class ScenarioTestExtensions
{
    public static Scenario WithKey(this Scenario scenario, ApiKeySpec key) => scenario with { ApiKeys = [key] };
}
