using Uncoded.Simulator.Market;
using Uncoded.Simulator.Scenarios;
using Uncoded.Simulator.Tests.Support;

namespace Uncoded.Simulator.Tests.Functional;

/// <summary>exchangeInfo filters enforced on new orders: -1013 with Binance's "Filter failure: X".</summary>
public sealed class FilterTests
{
    private const string DecimalIllegal = "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.";

    [Theory]
    [InlineData("side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=50000.005", "Filter failure: PRICE_FILTER")]
    [InlineData("side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.000015&price=50000.00", "Filter failure: LOT_SIZE")]
    [InlineData("side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.00001&price=50000.00", "Filter failure: NOTIONAL")]
    [InlineData("side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.01&price=400000.00", "Filter failure: PERCENT_PRICE_BY_SIDE")]
    [InlineData("side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=10000.00", "Filter failure: PERCENT_PRICE_BY_SIDE")]
    [InlineData("side=BUY&type=MARKET&quantity=101", "Filter failure: MARKET_LOT_SIZE")]
    [InlineData("side=BUY&type=MARKET&quoteOrderQty=4", "Filter failure: NOTIONAL")]
    public async Task NewOrder_BreaksFilter_Rejected1013WithBinanceText(string order, string message)
    {
        var key = TestKeys.Hmac();
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        var answer = await client.OrderAsync("symbol=BTCUSDT&" + order);
        var test = await client.SignedAsync(HttpMethod.Post, "/api/v3/order/test", "symbol=BTCUSDT&" + order);

        Assert.Equal(400, answer.Status);
        Assert.Equal(-1013, answer.Code);
        Assert.Equal(message, answer.Msg);
        Assert.Equal(message, test.Msg);
        Assert.Equal(new AssetBalance(100_000m, 0m), sim.Exchange.Balances("trader")["USDT"]);
        Assert.Equal(new AssetBalance(10m, 0m), sim.Exchange.Balances("trader")["BTC"]);
    }

    [Fact]
    public async Task NewOrder_OnTickStepAndAboveMinNotional_Accepted()
    {
        var key = TestKeys.Hmac();
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        var answer = await client.OrderAsync("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.00009&price=59000.01");

        Assert.True(answer.Status == 200, answer.ToString());
        Assert.Equal("NEW", answer.Get("status"));
    }

    [Fact]
    public async Task NewOrder_MoreOpenOrdersThanMaxNumOrders_Rejected1013()
    {
        var key = TestKeys.Hmac();
        var scenario = TestScenarios.Market(key);
        var btc = scenario.Symbols[0] with { Filters = [.. TestScenarios.BtcFilters.Where(f => f is not MaxNumOrdersFilter), new MaxNumOrdersFilter(2)] };
        await using var sim = await TestScenarios.StartAsync(scenario with { Symbols = [btc, scenario.Symbols[1]] });
        using var client = new BinanceClient(sim, key);
        const string order = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=50000.00";

        var first = await client.OrderAsync(order);
        var second = await client.OrderAsync(order);
        var third = await client.OrderAsync(order);

        Assert.Equal((200, 200), (first.Status, second.Status));
        Assert.Equal("Filter failure: MAX_NUM_ORDERS", third.Msg);
    }

    /// <summary>rest-api.md "Test new order": <c>{}</c>, or with computeCommissionRates the rates (zero in the simulator).</summary>
    [Fact]
    public async Task OrderTest_ValidOrder_EmptyAnswerOrCommissionRatesAndNothingExecuted()
    {
        var key = TestKeys.Hmac();
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);
        const string order = "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1";

        var answer = await client.SignedAsync(HttpMethod.Post, "/api/v3/order/test", order);
        var rates = await client.SignedAsync(HttpMethod.Post, "/api/v3/order/test", order + "&computeCommissionRates=true");

        Assert.Equal((200, "{}"), (answer.Status, answer.Body));
        Assert.True(rates.Status == 200, rates.ToString());
        Assert.Equal("21", rates.Header("X-MBX-USED-WEIGHT-1M"));
        foreach (var group in new[] { "standardCommissionForOrder", "specialCommissionForOrder", "taxCommissionForOrder" })
        {
            var rate = rates.Json.GetProperty(group);
            Assert.Equal(("0.00000000", "0.00000000"), (rate.GetProperty("maker").GetString(), rate.GetProperty("taker").GetString()));
        }
        var discount = rates.Json.GetProperty("discount");
        Assert.False(discount.GetProperty("enabledForAccount").GetBoolean());
        Assert.Equal("BNB", discount.GetProperty("discountAsset").GetString());
        Assert.Equal("0.00000000", discount.GetProperty("discount").GetString());
        Assert.Equal(100_000m, sim.Exchange.Balances("trader")["USDT"].Free);
    }

    [Theory]
    [InlineData("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.01&price=50000", -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&price=50000", -1106, "Parameter 'price' sent when not required.")]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET", -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")]
    [InlineData("symbol=NOPEUSDT&side=BUY&type=MARKET&quantity=1", -1121, "Invalid symbol.")]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&newClientOrderId=has%20space", -1100, "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'.")]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&address=x", -1104, "Not all sent parameters were read; read '5' parameter(s) but was sent '6'.")]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.000000001", -1111, "Parameter 'quantity' has too much precision.")]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=100000000000", -1108, "Parameter 'quantity' overflowed.")]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1e3", -1100, DecimalIllegal)]
    [InlineData("symbol=BTCUSDT&symbol=ETHUSDT&side=BUY&type=MARKET&quantity=1", -1101, "Duplicate values for a parameter detected.")]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.0137000000000000000000000000", -1100, DecimalIllegal)]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.0137012345678901234567890123", -1100, DecimalIllegal)]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.000000000000000000001", -1100, DecimalIllegal)]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1000000000000000000000", -1100, DecimalIllegal)]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=100000000000000000000", -1100, DecimalIllegal)]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=10000000000000000000", -1108, "Parameter 'quantity' overflowed.")]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.00000000000000000001", -1111, "Parameter 'quantity' has too much precision.")]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&stopPrice=1e3", -1100, "Illegal characters found in parameter 'stopPrice'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")]
    [InlineData("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&icebergQty=-1", -1100, "Illegal characters found in parameter 'icebergQty'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")]
    public async Task NewOrder_MalformedParameters_RejectedWithBinanceCode(string order, int code, string message)
    {
        var key = TestKeys.Hmac();
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        var answer = await client.OrderAsync(order);

        Assert.Equal((400, code, message), (answer.Status, answer.Code, answer.Msg));
    }

    /// <summary>A value within Binance's decimal pattern but finer than the asset's precision is -1111 (baseAssetPrecision for quantity, quoteAssetPrecision for price).</summary>
    [Fact]
    public async Task OrderTest_MoreDecimalsThanAssetPrecision_Rejected1111()
    {
        var key = TestKeys.Hmac();
        var scenario = TestScenarios.Market(key);
        var ltc = scenario.Symbols[1] with { BaseAssetPrecision = 2, QuoteAssetPrecision = 4 };
        await using var sim = await TestScenarios.StartAsync(scenario with { Symbols = [scenario.Symbols[0], ltc] });
        using var client = new BinanceClient(sim, key);
        const string order = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC";

        var quantity = await client.SignedAsync(HttpMethod.Post, "/api/v3/order/test", order + "&quantity=1.001&price=0.1");
        var price = await client.SignedAsync(HttpMethod.Post, "/api/v3/order/test", order + "&quantity=1.01&price=0.10001");
        var fits = await client.SignedAsync(HttpMethod.Post, "/api/v3/order/test", order + "&quantity=1.01&price=0.1");

        Assert.Equal((400, -1111, "Parameter 'quantity' has too much precision."), (quantity.Status, quantity.Code, quantity.Msg));
        Assert.Equal((400, -1111, "Parameter 'price' has too much precision."), (price.Status, price.Code, price.Msg));
        Assert.Equal((200, "{}"), (fits.Status, fits.Body));
    }

    /// <summary>
    /// The older MIN_NOTIONAL filter (still on some symbols): a priced order under minNotional is
    /// refused; a MARKET order only when applyToMarket is true, then by the average price.
    /// </summary>
    [Theory]
    [InlineData(true, "side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.0001&price=59000.00", "Filter failure: MIN_NOTIONAL")]
    [InlineData(false, "side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.0001&price=59000.00", "Filter failure: MIN_NOTIONAL")]
    [InlineData(true, "side=BUY&type=MARKET&quantity=0.0001", "Filter failure: MIN_NOTIONAL")]
    [InlineData(false, "side=BUY&type=MARKET&quantity=0.0001", null)]
    [InlineData(true, "side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.0002&price=59000.00", null)]
    public async Task NewOrder_MinNotionalFilter_RefusedUnderMinimum(bool applyToMarket, string order, string? message)
    {
        var key = TestKeys.Hmac();
        var scenario = TestScenarios.Market(key);
        var btc = scenario.Symbols[0] with
        {
            Filters = [.. TestScenarios.BtcFilters.Where(f => f is not NotionalFilter), new MinNotionalFilter(10m, applyToMarket, 5)],
        };
        await using var sim = await TestScenarios.StartAsync(scenario with { Symbols = [btc, scenario.Symbols[1]] });
        using var client = new BinanceClient(sim, key);

        var answer = await client.OrderAsync("symbol=BTCUSDT&" + order);

        if (message is null)
        {
            Assert.True(answer.Status == 200, answer.ToString());
        }
        else
        {
            Assert.Equal((400, -1013, message), (answer.Status, answer.Code, answer.Msg));
        }
    }

    /// <summary>BINANCE.md: a filter value of 0 disables that rule; for PERCENT_PRICE_BY_SIDE each multiplier is one bound.</summary>
    [Theory]
    [InlineData(0, 0, "side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=10000.00", null)]
    [InlineData(0, 0, "side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.01&price=900000.00", null)]
    [InlineData(5, 0, "side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=10000.00", null)]
    [InlineData(5, 0, "side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.01&price=900000.00", "Filter failure: PERCENT_PRICE_BY_SIDE")]
    public async Task NewOrder_PercentPriceMultiplierZero_ThatBoundDisabled(decimal up, decimal down, string order, string? message)
    {
        var key = TestKeys.Hmac();
        var scenario = TestScenarios.Market(key);
        var btc = scenario.Symbols[0] with
        {
            Filters = [.. TestScenarios.BtcFilters.Where(f => f is not PercentPriceBySideFilter), new PercentPriceBySideFilter(up, down, up, down, 5)],
        };
        await using var sim = await TestScenarios.StartAsync(scenario with { Symbols = [btc, scenario.Symbols[1]] });
        using var client = new BinanceClient(sim, key);

        var answer = await client.SignedAsync(HttpMethod.Post, "/api/v3/order/test", "symbol=BTCUSDT&" + order);

        Assert.Equal(message is null ? 200 : 400, answer.Status);
        if (message is not null)
        {
            Assert.Equal(message, answer.Msg);
        }
    }
}
