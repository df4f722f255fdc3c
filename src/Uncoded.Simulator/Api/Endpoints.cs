using System.Security.Cryptography;
using System.Text.Json;
using Uncoded.Simulator.Auth;
using Uncoded.Simulator.Market;

namespace Uncoded.Simulator.Api;

/// <summary>The REST surface: Binance Spot paths, parameters, weights and JSON shapes (rest-api.md).</summary>
internal static class Endpoints
{
    private const string SymbolsRange = "^\\[(\"[\\w\\-._&&[^a-z]]{1,50}\"(,\"[\\w\\-._&&[^a-z]]{1,50}\"){0,}){0,1}\\]$";

    private static readonly string[] SignedParams = ["timestamp", "recvWindow"];

    private static readonly string[] NewOrderParams =
    [
        "symbol", "side", "type", "timeInForce", "quantity", "quoteOrderQty", "price", "newClientOrderId", "newOrderRespType",
        "selfTradePreventionMode", "stopPrice", "trailingDelta", "icebergQty", "strategyId", "strategyType",
    ];

    public static IReadOnlyList<Endpoint> All { get; } =
    [
        Public("GET", "/api/v3/ping", _ => 1, [], _ => new { }),
        Public("GET", "/api/v3/time", _ => 1, [], c => new { serverTime = c.Now }),
        Public("GET", "/api/v3/exchangeInfo", _ => 20, ["symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus"], ExchangeInfo),
        Public("GET", "/api/v3/depth", p => DepthWeight(DepthLimit(p)), ["symbol", "limit"], Depth),
        Public("GET", "/api/v3/ticker/24hr", p => p.Has("symbol") ? 2 : 80, ["symbol", "symbols", "type"], Ticker24h),
        Public("GET", "/api/v3/ticker/price", p => p.Has("symbol") ? 2 : 4, ["symbol", "symbols"], TickerPrice),
        Signed("POST", "/api/v3/order", Permission.SpotTrading, _ => 1, NewOrderParams, c => NewOrder(c, testOnly: false), placesOrder: true),
        Signed("POST", "/api/v3/order/test", Permission.SpotTrading, p => p.Optional("computeCommissionRates") == "true" ? 20 : 1,
            [.. NewOrderParams, "computeCommissionRates"], c => NewOrder(c, testOnly: true)),
        Signed("GET", "/api/v3/order", Permission.Reading, _ => 4, ["symbol", "orderId", "origClientOrderId"], QueryOrder),
        Signed("DELETE", "/api/v3/order", Permission.SpotTrading, _ => 1,
            ["symbol", "orderId", "origClientOrderId", "newClientOrderId", "cancelRestrictions"], CancelOrder),
        Signed("GET", "/api/v3/openOrders", Permission.Reading, p => p.Has("symbol") ? 6 : 80, ["symbol"], OpenOrders),
        Signed("DELETE", "/api/v3/openOrders", Permission.SpotTrading, _ => 1, ["symbol"], CancelAll),
        Signed("GET", "/api/v3/account", Permission.Reading, _ => 20, ["omitZeroBalances"], Account),
        Signed("GET", "/sapi/v1/account/apiRestrictions", Permission.Reading, _ => 1, [], ApiRestrictions, countsWeight: false),
        Signed("POST", "/sapi/v1/capital/withdraw/apply", Permission.Withdrawals, _ => 1,
            ["coin", "withdrawOrderId", "network", "address", "addressTag", "amount", "transactionFeeFlag", "name", "walletType"], Withdraw,
            countsWeight: false),
    ];

    private static Endpoint Public(string method, string path, Func<RequestParameters, int> weight, string[] parameters, Func<EndpointContext, object> handle) =>
        new(method, path, Security.None, Permission.Reading, weight, parameters.ToHashSet(StringComparer.Ordinal), handle);

    private static Endpoint Signed(string method, string path, Permission permission, Func<RequestParameters, int> weight, string[] parameters,
        Func<EndpointContext, object> handle, bool placesOrder = false, bool countsWeight = true) =>
        new(method, path, Security.Signed, permission, weight, parameters.Concat(SignedParams).ToHashSet(StringComparer.Ordinal), handle,
            placesOrder, countsWeight);

    // ---- market data ----

    private static object ExchangeInfo(EndpointContext c)
    {
        var exchange = c.State.Exchange;
        var wanted = Symbols(c.Parameters, exchange);
        var limits = c.State.Limiter.Spec;
        return new
        {
            timezone = "UTC",
            serverTime = c.Now,
            rateLimits = new object[]
            {
                new { rateLimitType = "REQUEST_WEIGHT", interval = "MINUTE", intervalNum = 1, limit = limits.RequestWeightPerMinute },
                new { rateLimitType = "ORDERS", interval = "SECOND", intervalNum = 10, limit = limits.OrdersPer10Seconds },
                new { rateLimitType = "ORDERS", interval = "DAY", intervalNum = 1, limit = limits.OrdersPerDay },
            },
            exchangeFilters = Array.Empty<object>(),
            symbols = exchange.ReadSymbols(s => s).Where(s => wanted is null || wanted.Contains(s.Spec.Symbol)).Select(s => new
            {
                symbol = s.Spec.Symbol,
                status = s.Spec.Status,
                baseAsset = s.Spec.BaseAsset,
                baseAssetPrecision = s.Spec.BaseAssetPrecision,
                quoteAsset = s.Spec.QuoteAsset,
                quotePrecision = s.Spec.QuoteAssetPrecision,
                quoteAssetPrecision = s.Spec.QuoteAssetPrecision,
                baseCommissionPrecision = s.Spec.BaseAssetPrecision,
                quoteCommissionPrecision = s.Spec.QuoteAssetPrecision,
                orderTypes = s.Spec.OrderTypes,
                icebergAllowed = false,
                ocoAllowed = false,
                otoAllowed = false,
                quoteOrderQtyMarketAllowed = s.Spec.QuoteOrderQtyMarketAllowed,
                allowTrailingStop = false,
                cancelReplaceAllowed = false,
                amendAllowed = false,
                isSpotTradingAllowed = true,
                isMarginTradingAllowed = false,
                filters = s.Spec.Filters.Select(f => f.ToWire()).ToList(),
                permissions = Array.Empty<string>(),
                permissionSets = new[] { new[] { "SPOT" } },
                defaultSelfTradePreventionMode = s.Spec.DefaultSelfTradePreventionMode,
                allowedSelfTradePreventionModes = s.Spec.AllowedSelfTradePreventionModes,
            }).ToList(),
        };
    }

    /// <summary>
    /// symbol=X or symbols=["X","Y"]; null when neither (all symbols); -1121 for an unknown one. Binance
    /// matches <c>symbols</c> against a pattern, not a JSON parser: no spaces, no null, upper case only.
    /// </summary>
    private static HashSet<string>? Symbols(RequestParameters p, Exchange exchange)
    {
        if (p.Has("symbol"))
        {
            var symbol = p.Symbol();
            return exchange.HasSymbol(symbol) ? [symbol] : throw BinanceError.InvalidSymbol();
        }
        if (p.Optional("symbols") is not { } list)
        {
            return null;
        }
        var names = SymbolList(list) ?? throw BinanceError.Illegal("symbols", SymbolsRange);
        var wanted = names.ToHashSet(StringComparer.Ordinal);
        if (wanted.Count != names.Length)
        {
            throw new BinanceError(-1151, "Symbol is present multiple times in the list.");
        }
        return names.All(exchange.HasSymbol) ? wanted : throw BinanceError.InvalidSymbol();
    }

    /// <summary>The names of <c>["A","B"]</c> exactly as <see cref="SymbolsRange"/> allows, else null.</summary>
    private static string[]? SymbolList(string list)
    {
        if (list.Length < 2 || list[0] != '[' || list[^1] != ']')
        {
            return null;
        }
        if (list.Length == 2)
        {
            return [];
        }
        var items = list[1..^1].Split(',');
        return items.All(i => i.Length >= 2 && i[0] == '"' && i[^1] == '"' && RequestParameters.IsSymbolName(i[1..^1]))
            ? items.Select(i => i[1..^1]).ToArray()
            : null;
    }

    private static int DepthLimit(RequestParameters p) => (int)Math.Clamp(p.OptionalLong("limit") ?? 100, 1, 5000);

    private static int DepthWeight(int limit) => limit switch
    {
        <= 100 => 5,
        <= 500 => 25,
        <= 1000 => 50,
        _ => 250,
    };

    private static object Depth(EndpointContext c)
    {
        var symbol = c.Parameters.Symbol();
        var limit = DepthLimit(c.Parameters);
        return c.State.Exchange.ReadSymbol(symbol, s => new
        {
            lastUpdateId = s.Book.LastUpdateId,
            bids = OrderBook.Levels(s.Book.Bids, limit).Select(l => new[] { Wire.Dec(l.Price), Wire.Dec(l.Qty) }).ToList(),
            asks = OrderBook.Levels(s.Book.Asks, limit).Select(l => new[] { Wire.Dec(l.Price), Wire.Dec(l.Qty) }).ToList(),
        });
    }

    private static object Ticker24h(EndpointContext c)
    {
        var now = c.Now;
        object Render(SymbolState s)
        {
            var bid = s.Book.Bids.Count > 0 ? s.Book.Bids[0] : null;
            var ask = s.Book.Asks.Count > 0 ? s.Book.Asks[0] : null;
            var change = s.LastPrice - s.OpenPrice;
            return new
            {
                symbol = s.Spec.Symbol,
                priceChange = Wire.Dec(change),
                priceChangePercent = (change / s.OpenPrice * 100).ToString("F3", System.Globalization.CultureInfo.InvariantCulture),
                weightedAvgPrice = Wire.Dec(s.Volume > 0 ? Math.Round(s.QuoteVolume / s.Volume, 8) : s.AvgPrice),
                prevClosePrice = Wire.Dec(s.OpenPrice),
                lastPrice = Wire.Dec(s.LastPrice),
                lastQty = Wire.Dec(s.LastQty),
                bidPrice = Wire.Dec(bid?.Price ?? 0),
                bidQty = Wire.Dec(bid is null ? 0 : OrderBook.Levels(s.Book.Bids, 1).First().Qty),
                askPrice = Wire.Dec(ask?.Price ?? 0),
                askQty = Wire.Dec(ask is null ? 0 : OrderBook.Levels(s.Book.Asks, 1).First().Qty),
                openPrice = Wire.Dec(s.OpenPrice),
                highPrice = Wire.Dec(s.HighPrice),
                lowPrice = Wire.Dec(s.LowPrice),
                volume = Wire.Dec(s.Volume),
                quoteVolume = Wire.Dec(s.QuoteVolume),
                openTime = now - 86_400_000,
                closeTime = now,
                firstId = s.FirstTradeId,
                lastId = s.LastTradeId,
                count = s.TradeCount,
            };
        }
        return Snapshot(c, Render);
    }

    private static object TickerPrice(EndpointContext c) =>
        Snapshot(c, s => new { symbol = s.Spec.Symbol, price = Wire.Dec(s.LastPrice) });

    /// <summary>One object for symbol=, an array for symbols= or for all symbols.</summary>
    private static object Snapshot(EndpointContext c, Func<SymbolState, object> render)
    {
        var exchange = c.State.Exchange;
        if (c.Parameters.Has("symbol"))
        {
            return exchange.ReadSymbol(c.Parameters.Symbol(), render);
        }
        var wanted = Symbols(c.Parameters, exchange);
        return exchange.ReadSymbols(s => wanted is null || wanted.Contains(s.Spec.Symbol) ? render(s) : null).OfType<object>().ToList();
    }

    // ---- trading ----

    private static object NewOrder(EndpointContext c, bool testOnly)
    {
        var (request, responseType) = OrderParser.Parse(c.Parameters, c.State.Exchange);
        // Binance checks the recvWindow again just before the matching engine.
        Authenticator.CheckTimestamp(c.Parameters, c.Now);
        var result = c.State.Exchange.Place(c.Account, request, testOnly);
        if (result is null)
        {
            return c.Parameters.Optional("computeCommissionRates") == "true" ? CommissionForOrder() : new { };
        }
        var o = result.Order;
        var response = new Dictionary<string, object>
        {
            ["symbol"] = o.Symbol,
            ["orderId"] = o.OrderId,
            ["orderListId"] = -1,
            ["clientOrderId"] = o.ClientOrderId,
            ["transactTime"] = o.Time,
        };
        if (responseType == ResponseType.Ack)
        {
            return response;
        }
        response["price"] = Wire.Dec(o.Price);
        response["origQty"] = Wire.Dec(o.OrigQty);
        response["executedQty"] = Wire.Dec(o.ExecutedQty);
        response["origQuoteOrderQty"] = Wire.Dec(o.OrigQuoteOrderQty);
        response["cummulativeQuoteQty"] = Wire.Dec(o.CumQuote);
        response["status"] = o.Status.Name();
        response["timeInForce"] = o.Tif.Name();
        response["type"] = o.Type.Name();
        response["side"] = o.Side.Name();
        response["workingTime"] = o.Time;
        response["selfTradePreventionMode"] = o.Stp.Name();
        if (responseType == ResponseType.Full)
        {
            response["fills"] = result.Fills.Select(f => new
            {
                price = Wire.Dec(f.Price),
                qty = Wire.Dec(f.Qty),
                commission = Wire.Dec(0),
                commissionAsset = f.CommissionAsset,
                tradeId = f.TradeId,
            }).ToList();
        }
        return response;
    }

    /// <summary>
    /// What POST /api/v3/order/test answers with computeCommissionRates (rest-api.md "Test new order"):
    /// the account's rates, zero in the simulator (scenarios have no commission), and no BNB discount.
    /// </summary>
    private static object CommissionForOrder()
    {
        var zero = Wire.Dec(0);
        var rates = new { maker = zero, taker = zero };
        return new
        {
            standardCommissionForOrder = rates,
            specialCommissionForOrder = rates,
            taxCommissionForOrder = rates,
            discount = new { enabledForAccount = false, enabledForSymbol = false, discountAsset = "BNB", discount = zero },
        };
    }

    private static (long? OrderId, string? ClientOrderId) OrderRef(RequestParameters p)
    {
        var orderId = p.OptionalLong("orderId");
        var clientOrderId = p.Optional("origClientOrderId");
        return orderId is null && clientOrderId is null
            ? throw new BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
            : (orderId, clientOrderId);
    }

    private static object QueryOrder(EndpointContext c)
    {
        var symbol = c.Parameters.Symbol();
        var (orderId, clientOrderId) = OrderRef(c.Parameters);
        return OrderDetails(c.State.Exchange.Query(c.Account, symbol, orderId, clientOrderId));
    }

    private static object OrderDetails(OrderView o) => new
    {
        symbol = o.Symbol,
        orderId = o.OrderId,
        orderListId = -1,
        clientOrderId = o.ClientOrderId,
        price = Wire.Dec(o.Price),
        origQty = Wire.Dec(o.OrigQty),
        executedQty = Wire.Dec(o.ExecutedQty),
        cummulativeQuoteQty = Wire.Dec(o.CumQuote),
        status = o.Status.Name(),
        timeInForce = o.Tif.Name(),
        type = o.Type.Name(),
        side = o.Side.Name(),
        stopPrice = Wire.Dec(0),
        icebergQty = Wire.Dec(0),
        time = o.Time,
        updateTime = o.UpdateTime,
        isWorking = true,
        workingTime = o.Time,
        origQuoteOrderQty = Wire.Dec(o.OrigQuoteOrderQty),
        selfTradePreventionMode = o.Stp.Name(),
    };

    private static object CancelOrder(EndpointContext c)
    {
        var symbol = c.Parameters.Symbol();
        var (orderId, clientOrderId) = OrderRef(c.Parameters);
        var newClientOrderId = OrderParser.ClientOrderId(c.Parameters, "newClientOrderId");
        // rest-api.md "Regarding cancelRestrictions": the order is canceled only in the named status.
        var onlyIf = c.Parameters.Optional("cancelRestrictions") switch
        {
            null => (OrderStatus?)null,
            "ONLY_NEW" => OrderStatus.New,
            "ONLY_PARTIALLY_FILLED" => OrderStatus.PartiallyFilled,
            _ => throw new BinanceError(-1145, "Invalid cancelRestrictions"),
        };
        return Canceled(c.State.Exchange.Cancel(c.Account, symbol, orderId, clientOrderId, onlyIf), newClientOrderId, c.Now);
    }

    private static object Canceled(OrderView o, string clientOrderId, long now) => new
    {
        symbol = o.Symbol,
        origClientOrderId = o.ClientOrderId,
        orderId = o.OrderId,
        orderListId = -1,
        clientOrderId,
        transactTime = now,
        price = Wire.Dec(o.Price),
        origQty = Wire.Dec(o.OrigQty),
        executedQty = Wire.Dec(o.ExecutedQty),
        origQuoteOrderQty = Wire.Dec(o.OrigQuoteOrderQty),
        cummulativeQuoteQty = Wire.Dec(o.CumQuote),
        status = o.Status.Name(),
        timeInForce = o.Tif.Name(),
        type = o.Type.Name(),
        side = o.Side.Name(),
        selfTradePreventionMode = o.Stp.Name(),
    };

    private static object OpenOrders(EndpointContext c)
    {
        var symbol = c.Parameters.Has("symbol") ? c.Parameters.Symbol() : null;
        return c.State.Exchange.OpenOrders(c.Account, symbol).Select(OrderDetails).ToList();
    }

    private static object CancelAll(EndpointContext c)
    {
        var symbol = c.Parameters.Symbol();
        return c.State.Exchange.CancelAll(c.Account, symbol).Select(o => Canceled(o, OrderParser.NewId(), c.Now)).ToList();
    }

    // ---- account ----

    private static object Account(EndpointContext c)
    {
        var omitZero = c.Parameters.Optional("omitZeroBalances") == "true";
        var commission = Wire.Dec(0);
        return new
        {
            makerCommission = 0,
            takerCommission = 0,
            buyerCommission = 0,
            sellerCommission = 0,
            commissionRates = new { maker = commission, taker = commission, buyer = commission, seller = commission },
            canTrade = true,
            canWithdraw = true,
            canDeposit = true,
            brokered = false,
            requireSelfTradePrevention = false,
            preventSor = false,
            updateTime = c.Now,
            accountType = "SPOT",
            balances = c.State.Exchange.Balances(c.Account)
                .Where(b => !omitZero || b.Value.Free != 0 || b.Value.Locked != 0)
                .OrderBy(b => b.Key, StringComparer.Ordinal)
                .Select(b => new { asset = b.Key, free = Wire.Dec(b.Value.Free), locked = Wire.Dec(b.Value.Locked) })
                .ToList(),
            permissions = new[] { "SPOT" },
            uid = BitConverter.ToUInt32(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(c.Account))),
        };
    }

    private static object ApiRestrictions(EndpointContext c)
    {
        var key = c.Key!;
        bool Has(Permission p) => key.Permissions.Contains(p);
        return new
        {
            ipRestrict = key.IpAllowlist.Count > 0,
            createTime = key.CreateTime,
            enableInternalTransfer = Has(Permission.InternalTransfer),
            enableFutures = Has(Permission.Futures),
            enablePortfolioMarginTrading = false,
            enableVanillaOptions = Has(Permission.VanillaOptions),
            permitsUniversalTransfer = Has(Permission.UniversalTransfer),
            enableReading = Has(Permission.Reading),
            enableSpotAndMarginTrading = Has(Permission.SpotTrading),
            enableWithdrawals = Has(Permission.Withdrawals),
            enableMargin = Has(Permission.Margin),
            enableFixApiTrade = false,
            enableFixReadOnly = false,
        };
    }

    private static object Withdraw(EndpointContext c)
    {
        var coin = c.Parameters.Required("coin");
        c.Parameters.Required("address");
        var amount = c.Parameters.OptionalDecimal("amount") ?? throw BinanceError.Mandatory("amount");
        c.State.Exchange.Withdraw(c.Account, coin, amount);
        return new { id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) };
    }
}
