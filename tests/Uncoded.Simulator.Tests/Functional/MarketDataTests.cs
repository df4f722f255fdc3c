using Uncoded.Simulator.Scenarios;
using Uncoded.Simulator.Tests.Support;

namespace Uncoded.Simulator.Tests.Functional;

/// <summary>Public endpoints: Binance's JSON shapes and number formats.</summary>
public sealed class MarketDataTests
{
    [Fact]
    public async Task ExchangeInfo_Symbol_FiltersAndLimitsInBinanceFormat()
    {
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market() with { RateLimits = new RateLimitSpec { RequestWeightPerMinute = 1200 } });
        using var client = new BinanceClient(sim);

        var answer = await client.PublicAsync("/api/v3/exchangeInfo?symbol=BTCUSDT");
        var unknown = await client.PublicAsync("/api/v3/exchangeInfo?symbol=NOPE");

        Assert.Equal("20", answer.Header("X-MBX-USED-WEIGHT-1M"));
        var limits = answer.Json.GetProperty("rateLimits")[0];
        Assert.Equal(("REQUEST_WEIGHT", 1200), (limits.GetProperty("rateLimitType").GetString(), limits.GetProperty("limit").GetInt32()));
        var symbol = Assert.Single(answer.Json.GetProperty("symbols").EnumerateArray());
        Assert.Equal(("BTC", "USDT", "TRADING"), (symbol.GetProperty("baseAsset").GetString(), symbol.GetProperty("quoteAsset").GetString(), symbol.GetProperty("status").GetString()));
        var filters = symbol.GetProperty("filters").EnumerateArray().ToDictionary(f => f.GetProperty("filterType").GetString()!);
        Assert.Equal("0.01000000", filters["PRICE_FILTER"].GetProperty("tickSize").GetString());
        Assert.Equal("0.00001000", filters["LOT_SIZE"].GetProperty("stepSize").GetString());
        Assert.Equal("5.00000000", filters["NOTIONAL"].GetProperty("minNotional").GetString());
        Assert.True(filters["NOTIONAL"].GetProperty("applyMinToMarket").GetBoolean());
        Assert.Equal(("5", "0.2"), (filters["PERCENT_PRICE_BY_SIDE"].GetProperty("askMultiplierUp").GetString(), filters["PERCENT_PRICE_BY_SIDE"].GetProperty("bidMultiplierDown").GetString()));
        Assert.Equal(200, filters["MAX_NUM_ORDERS"].GetProperty("maxNumOrders").GetInt32());
        Assert.Equal((400, -1121, "Invalid symbol."), (unknown.Status, unknown.Code, unknown.Msg));
    }

    [Fact]
    public async Task Depth_Limit_BestLevelsFirstAsStringPairs()
    {
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market());
        using var client = new BinanceClient(sim);

        var answer = await client.PublicAsync("/api/v3/depth?symbol=BTCUSDT&limit=2");

        var bids = answer.Json.GetProperty("bids").EnumerateArray().Select(l => (l[0].GetString(), l[1].GetString())).ToList();
        var asks = answer.Json.GetProperty("asks").EnumerateArray().Select(l => (l[0].GetString(), l[1].GetString())).ToList();
        Assert.Equal([("59999.00000000", "0.50000000"), ("59998.00000000", "0.50000000")], bids);
        Assert.Equal([("60001.00000000", "0.50000000"), ("60002.00000000", "0.50000000")], asks);
        Assert.True(answer.Json.GetProperty("lastUpdateId").GetInt64() > 0);
    }

    [Fact]
    public async Task TickerPrice_AllSymbols_ArrayInScenarioOrder()
    {
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market());
        using var client = new BinanceClient(sim);

        var answer = await client.PublicAsync("/api/v3/ticker/price");
        var some = await client.PublicAsync("/api/v3/ticker/price?symbols=" + Uri.EscapeDataString("[\"LTCBTC\"]"));

        Assert.Equal(["BTCUSDT:60000.00000000", "LTCBTC:0.10000000"],
            answer.Json.EnumerateArray().Select(t => $"{t.GetProperty("symbol").GetString()}:{t.GetProperty("price").GetString()}"));
        Assert.Equal("LTCBTC", Assert.Single(some.Json.EnumerateArray()).GetProperty("symbol").GetString());
        Assert.Equal("4", answer.Header("X-MBX-USED-WEIGHT-1M"));
    }

    public static TheoryData<string> SymbolsEndpoints => new() { "/api/v3/exchangeInfo", "/api/v3/ticker/24hr", "/api/v3/ticker/price" };

    /// <summary>
    /// Binance matches <c>symbols</c> against a pattern, not a JSON parser: <c>[null]</c>, a space after
    /// the comma or a lower-case name is -1100; a name twice is -1151 (errors.md). Never HTTP 500.
    /// </summary>
    [Theory]
    [MemberData(nameof(SymbolsEndpoints))]
    public async Task SymbolsList_MalformedOrRepeated_Rejected1100Or1151(string path)
    {
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market());
        using var client = new BinanceClient(sim);
        Task<Answer> Ask(string symbols) => client.PublicAsync($"{path}?symbols={Uri.EscapeDataString(symbols)}");

        var nulls = await Ask("[null]");
        var spaced = await Ask("[\"BTCUSDT\", \"LTCBTC\"]");
        var lower = await Ask("[\"btcusdt\"]");
        var twice = await Ask("[\"BTCUSDT\",\"BTCUSDT\"]");
        var fine = await Ask("[\"BTCUSDT\",\"LTCBTC\"]");

        const string illegal = "Illegal characters found in parameter 'symbols'; legal range is "
            + "'^\\[(\"[\\w\\-._&&[^a-z]]{1,50}\"(,\"[\\w\\-._&&[^a-z]]{1,50}\"){0,}){0,1}\\]$'.";
        Assert.Equal((400, -1100, illegal), (nulls.Status, nulls.Code, nulls.Msg));
        Assert.Equal((400, -1100), (spaced.Status, spaced.Code));
        Assert.Equal((400, -1100), (lower.Status, lower.Code));
        Assert.Equal((400, -1151, "Symbol is present multiple times in the list."), (twice.Status, twice.Code, twice.Msg));
        Assert.Equal(200, fine.Status);
    }
}
