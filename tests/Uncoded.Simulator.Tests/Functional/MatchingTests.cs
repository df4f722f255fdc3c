using System.Text.Json;
using Uncoded.Simulator.Tests.Support;

namespace Uncoded.Simulator.Tests.Functional;

/// <summary>
/// Matching against the test book: asks 60001×0.5, 60002×0.5, 60003×1; bids 59999×0.5, 59998×0.5,
/// 59997×1 (owned by the market maker); the trader holds 100000 USDT and 10 BTC.
/// </summary>
public sealed class MatchingTests : MarketTest
{
    private decimal Free(string account, string asset) => Sim.Exchange.Balances(account)[asset].Free;

    private decimal Locked(string account, string asset) => Sim.Exchange.Balances(account)[asset].Locked;

    private static List<(string Price, string Qty)> Fills(Answer answer) =>
        answer.Json.GetProperty("fills").EnumerateArray().Select(f => (f.GetProperty("price").GetString()!, f.GetProperty("qty").GetString()!)).ToList();

    [Fact]
    public async Task MarketBuy_QuantityAcrossThreeLevels_WalksBookAndPaysRestingAsks()
    {
        var makerUsdtBefore = Free(Market.Exchange.MarketMaker, "USDT");

        var answer = await Client.OrderAsync("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1.2");
        var depth = await Client.PublicAsync("/api/v3/depth?symbol=BTCUSDT&limit=5");

        Assert.True(answer.Status == 200, answer.ToString());
        Assert.Equal("FILLED", answer.Get("status"));
        Assert.Equal("1.20000000", answer.Get("executedQty"));
        Assert.Equal([("60001.00000000", "0.50000000"), ("60002.00000000", "0.50000000"), ("60003.00000000", "0.20000000")], Fills(answer));
        const decimal cost = (0.5m * 60001m) + (0.5m * 60002m) + (0.2m * 60003m);
        Assert.Equal(cost, answer.Dec("cummulativeQuoteQty"));
        Assert.Equal(100_000m - cost, Free("trader", "USDT"));
        Assert.Equal(11.2m, Free("trader", "BTC"));
        Assert.Equal(makerUsdtBefore + cost, Free(Market.Exchange.MarketMaker, "USDT"));
        var asks = depth.Json.GetProperty("asks").EnumerateArray().Select(l => (l[0].GetString(), l[1].GetString())).ToList();
        Assert.Equal([("60003.00000000", "0.80000000")], asks);
    }

    [Fact]
    public async Task MarketBuy_QuoteOrderQty_SpendsAtMostQuoteInWholeSteps()
    {
        var answer = await Client.OrderAsync("symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=100");

        Assert.Equal("FILLED", answer.Get("status"));
        Assert.Equal("0.00166000", answer.Get("executedQty"));
        Assert.Equal("0.00166000", answer.Get("origQty"));
        Assert.Equal("100.00000000", answer.Get("origQuoteOrderQty"));
        Assert.Equal(0.00166m * 60001m, answer.Dec("cummulativeQuoteQty"));
        Assert.Equal(100_000m - (0.00166m * 60001m), Free("trader", "USDT"));
    }

    [Fact]
    public async Task MarketSell_Quantity_HitsBidsBestFirst()
    {
        var answer = await Client.OrderAsync("symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.7");

        Assert.Equal([("59999.00000000", "0.50000000"), ("59998.00000000", "0.20000000")], Fills(answer));
        Assert.Equal(9.3m, Free("trader", "BTC"));
        Assert.Equal(100_000m + (0.5m * 59999m) + (0.2m * 59998m), Free("trader", "USDT"));
    }

    [Fact]
    public async Task LimitBuyGtc_CrossesPartially_RestsRemainderThenCancelReleasesFunds()
    {
        var placed = await Client.OrderAsync("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.8&price=60001.50&newClientOrderId=partial-1");
        var open = await Client.SignedAsync(HttpMethod.Get, "/api/v3/openOrders", "symbol=BTCUSDT");
        var lockedWhileOpen = Locked("trader", "USDT");
        var canceled = await Client.SignedAsync(HttpMethod.Delete, "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=partial-1");
        var queried = await Client.SignedAsync(HttpMethod.Get, "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=partial-1");

        Assert.Equal("PARTIALLY_FILLED", placed.Get("status"));
        Assert.Equal([("60001.00000000", "0.50000000")], Fills(placed));
        Assert.Equal("partial-1", Assert.Single(open.Json.EnumerateArray()).GetProperty("clientOrderId").GetString());
        Assert.Equal(0.3m * 60001.50m, lockedWhileOpen);
        Assert.Equal("CANCELED", canceled.Get("status"));
        Assert.Equal("partial-1", canceled.Get("origClientOrderId"));
        Assert.Equal("CANCELED", queried.Get("status"));
        Assert.Equal("0.50000000", queried.Get("executedQty"));
        Assert.Equal(0m, Locked("trader", "USDT"));
        Assert.Equal(100_000m - (0.5m * 60001m), Free("trader", "USDT"));
    }

    [Fact]
    public async Task LimitFok_NotFullyFillable_ExpiredWithoutTrades()
    {
        var answer = await Client.OrderAsync("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=FOK&quantity=1.5&price=60002.00");

        Assert.Equal("EXPIRED", answer.Get("status"));
        Assert.Equal("0.00000000", answer.Get("executedQty"));
        Assert.Empty(Fills(answer));
        Assert.Equal(new Market.AssetBalance(100_000m, 0m), Sim.Exchange.Balances("trader")["USDT"]);
    }

    [Fact]
    public async Task LimitIoc_PartiallyFillable_ExpiresRestAfterFill()
    {
        var answer = await Client.OrderAsync("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.7&price=60001.00");
        var open = await Client.SignedAsync(HttpMethod.Get, "/api/v3/openOrders", "symbol=BTCUSDT");

        Assert.Equal("EXPIRED", answer.Get("status"));
        Assert.Equal("0.50000000", answer.Get("executedQty"));
        Assert.Equal("[]", open.Body);
        Assert.Equal(new Market.AssetBalance(100_000m - (0.5m * 60001m), 0m), Sim.Exchange.Balances("trader")["USDT"]);
    }

    [Fact]
    public async Task LimitMaker_WouldTake_Rejected2010()
    {
        var crossing = await Client.OrderAsync("symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=0.1&price=60001.00");
        var resting = await Client.OrderAsync("symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=0.1&price=60000.00");

        Assert.Equal((-2010, "Order would immediately match and take."), (crossing.Code, crossing.Msg));
        Assert.Equal(200, resting.Status);
        Assert.False(resting.Json.TryGetProperty("status", out _), "LIMIT_MAKER answers ACK by default");
    }

    [Fact]
    public async Task MarketBuy_MoreThanBalance_Rejected2010AndNothingMoves()
    {
        var answer = await Client.OrderAsync("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=2");

        Assert.Equal((400, -2010, "Account has insufficient balance for requested action."), (answer.Status, answer.Code, answer.Msg));
        Assert.Equal(100_000m, Free("trader", "USDT"));
    }

    [Fact]
    public async Task NewOrder_ClientOrderIdOfAnOpenOrder_Rejected2010()
    {
        const string order = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=50000.00&newClientOrderId=dup-1";

        var first = await Client.OrderAsync(order);
        var second = await Client.OrderAsync(order);
        await Client.SignedAsync(HttpMethod.Delete, "/api/v3/order", $"symbol=BTCUSDT&orderId={first.Get("orderId")}");
        var afterCancel = await Client.OrderAsync(order);

        Assert.Equal(200, first.Status);
        Assert.Equal((-2010, "Duplicate order sent."), (second.Code, second.Msg));
        Assert.Equal(200, afterCancel.Status);
    }

    /// <summary>rest-api.md "Regarding cancelRestrictions": an order not in the named status is not canceled (-2011).</summary>
    [Fact]
    public async Task CancelOrder_CancelRestrictions_OnlyCancelsOrdersInThatStatus()
    {
        await Client.OrderAsync("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.8&price=60001.50&newClientOrderId=partial");
        await Client.OrderAsync("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=50000.00&newClientOrderId=fresh");
        Task<Answer> Cancel(string id, string restriction) =>
            Client.SignedAsync(HttpMethod.Delete, "/api/v3/order", $"symbol=BTCUSDT&origClientOrderId={id}&cancelRestrictions={restriction}");

        var partialOnlyNew = await Cancel("partial", "ONLY_NEW");
        var freshOnlyPartial = await Cancel("fresh", "ONLY_PARTIALLY_FILLED");
        var stillOpen = await Client.SignedAsync(HttpMethod.Get, "/api/v3/openOrders", "symbol=BTCUSDT");
        var partialOnlyPartial = await Cancel("partial", "ONLY_PARTIALLY_FILLED");
        var freshOnlyNew = await Cancel("fresh", "ONLY_NEW");
        var invalid = await Cancel("fresh", "ONLY_FILLED");

        const string refused = "Order was not canceled due to cancel restrictions.";
        Assert.Equal((400, -2011, refused), (partialOnlyNew.Status, partialOnlyNew.Code, partialOnlyNew.Msg));
        Assert.Equal((400, -2011, refused), (freshOnlyPartial.Status, freshOnlyPartial.Code, freshOnlyPartial.Msg));
        Assert.Equal(["PARTIALLY_FILLED", "NEW"], stillOpen.Json.EnumerateArray().Select(o => o.GetProperty("status").GetString()));
        Assert.Equal("CANCELED", partialOnlyPartial.Get("status"));
        Assert.Equal("CANCELED", freshOnlyNew.Get("status"));
        Assert.Equal((400, -1145, "Invalid cancelRestrictions"), (invalid.Status, invalid.Code, invalid.Msg));
        Assert.Equal(0m, Locked("trader", "USDT"));
    }

    [Fact]
    public async Task CancelAll_TwoOpenOrders_BothCanceledThenUnknownOrder()
    {
        await Client.OrderAsync("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=50000.00");
        await Client.OrderAsync("symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.01&price=70000.00");

        var canceled = await Client.SignedAsync(HttpMethod.Delete, "/api/v3/openOrders", "symbol=BTCUSDT");
        var again = await Client.SignedAsync(HttpMethod.Delete, "/api/v3/openOrders", "symbol=BTCUSDT");

        Assert.Equal(["CANCELED", "CANCELED"], canceled.Json.EnumerateArray().Select(o => o.GetProperty("status").GetString()));
        Assert.Equal((-2011, "Unknown order sent."), (again.Code, again.Msg));
        Assert.Equal(new Market.AssetBalance(10m, 0m), Sim.Exchange.Balances("trader")["BTC"]);
        Assert.Equal(new Market.AssetBalance(100_000m, 0m), Sim.Exchange.Balances("trader")["USDT"]);
    }

    [Fact]
    public async Task QueryOrder_Unknown_Rejected2013()
    {
        var answer = await Client.SignedAsync(HttpMethod.Get, "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=never-sent");

        Assert.Equal((-2013, "Order does not exist."), (answer.Code, answer.Msg));
    }

    [Fact]
    public async Task Ticker_AfterTrade_ReportsLastPriceAndBook()
    {
        await Client.OrderAsync("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.6");

        var ticker = await Client.PublicAsync("/api/v3/ticker/24hr?symbol=BTCUSDT");
        var price = await Client.PublicAsync("/api/v3/ticker/price?symbol=BTCUSDT");

        Assert.Equal("60002.00000000", ticker.Get("lastPrice"));
        Assert.Equal("60002.00000000", ticker.Get("askPrice"));
        Assert.Equal("0.40000000", ticker.Get("askQty"));
        Assert.Equal("59999.00000000", ticker.Get("bidPrice"));
        Assert.Equal(2, ticker.Json.GetProperty("count").GetInt64());
        Assert.Equal("60002.00000000", price.Get("price"));
        Assert.Equal(JsonValueKind.String, ticker.Json.GetProperty("quoteVolume").ValueKind);
    }

    [Theory]
    [InlineData("ACK", false, false)]
    [InlineData("RESULT", true, false)]
    [InlineData("FULL", true, true)]
    public async Task MarketBuy_NewOrderRespType_ShapesAnswer(string type, bool hasStatus, bool hasFills)
    {
        var answer = await Client.OrderAsync($"symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.1&newOrderRespType={type}&newClientOrderId=resp-{type}");

        Assert.Equal(200, answer.Status);
        Assert.Equal($"resp-{type}", answer.Get("clientOrderId"));
        Assert.Equal(-1, answer.Json.GetProperty("orderListId").GetInt32());
        Assert.Equal(hasStatus, answer.Json.TryGetProperty("status", out _));
        Assert.Equal(hasFills, answer.Json.TryGetProperty("fills", out _));
        Assert.Equal(10.1m, Free("trader", "BTC"));
    }

    /// <summary>The trader's own ask at 60000.50 sits in front of the market maker's 60001.</summary>
    [Theory]
    [InlineData("", "FILLED", "EXPIRED_IN_MATCH", "60001.00000000")]
    [InlineData("&selfTradePreventionMode=EXPIRE_MAKER", "FILLED", "EXPIRED_IN_MATCH", "60001.00000000")]
    [InlineData("&selfTradePreventionMode=EXPIRE_TAKER", "EXPIRED_IN_MATCH", "NEW", null)]
    [InlineData("&selfTradePreventionMode=EXPIRE_BOTH", "EXPIRED_IN_MATCH", "EXPIRED_IN_MATCH", null)]
    [InlineData("&selfTradePreventionMode=NONE", "FILLED", "FILLED", "60000.50000000")]
    public async Task MarketBuy_IntoOwnAsk_SelfTradePreventionMode(string mode, string takerStatus, string makerStatus, string? fillPrice)
    {
        var ask = await Client.OrderAsync("symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.1&price=60000.50&newClientOrderId=own-ask");

        var buy = await Client.OrderAsync("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.1" + mode);
        var maker = await Client.SignedAsync(HttpMethod.Get, "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=own-ask");

        Assert.Equal(("NEW", "EXPIRE_MAKER"), (ask.Get("status"), ask.Get("selfTradePreventionMode")));
        Assert.Equal(takerStatus, buy.Get("status"));
        Assert.Equal(makerStatus, maker.Get("status"));
        Assert.Equal(fillPrice, Fills(buy).Select(f => f.Price).FirstOrDefault());
        Assert.Equal(makerStatus == "NEW" ? 0.1m : 0m, Locked("trader", "BTC"));
    }
}
