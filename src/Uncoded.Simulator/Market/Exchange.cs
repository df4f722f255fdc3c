using Uncoded.Simulator.Api;
using Uncoded.Simulator.Scenarios;

namespace Uncoded.Simulator.Market;

/// <summary>A symbol's book, statistics and rules.</summary>
internal sealed class SymbolState(SymbolSpec spec)
{
    public SymbolSpec Spec { get; } = spec;

    public OrderBook Book { get; } = new();

    public decimal LastPrice { get; set; } = spec.LastPrice;

    public decimal LastQty { get; set; }

    public decimal AvgPrice { get; } = spec.AvgPrice ?? spec.LastPrice;

    public decimal OpenPrice { get; } = spec.Ticker.OpenPrice ?? spec.LastPrice;

    public decimal HighPrice { get; set; } = spec.Ticker.HighPrice ?? spec.LastPrice;

    public decimal LowPrice { get; set; } = spec.Ticker.LowPrice ?? spec.LastPrice;

    public decimal Volume { get; set; } = spec.Ticker.Volume;

    public decimal QuoteVolume { get; set; } = spec.Ticker.QuoteVolume;

    public long FirstTradeId { get; set; } = -1;

    public long LastTradeId { get; set; } = -1;

    public long TradeCount { get; set; }

    public decimal StepSize => Spec.Filters.OfType<LotSizeFilter>().FirstOrDefault(f => f is not MarketLotSizeFilter)?.StepSize ?? 0;
}

/// <summary>A new order as parsed from the request.</summary>
internal sealed record NewOrder(
    string Symbol, Side Side, OrderType Type, TimeInForce? Tif, decimal? Quantity, decimal? QuoteOrderQty, decimal? Price,
    string ClientOrderId, StpMode? Stp);

/// <summary>An order's state at one instant, safe to read outside the exchange lock.</summary>
internal sealed record OrderView(
    string Symbol, long OrderId, string ClientOrderId, decimal Price, decimal OrigQty, decimal ExecutedQty, decimal CumQuote,
    OrderStatus Status, TimeInForce Tif, OrderType Type, Side Side, long Time, long UpdateTime, decimal OrigQuoteOrderQty, bool IsOpen,
    StpMode Stp)
{
    public static OrderView Of(Order o) => new(o.Symbol, o.OrderId, o.ClientOrderId, o.Price, o.OrigQty, o.ExecutedQty, o.CumQuote,
        o.Status, o.Tif, o.Type, o.Side, o.Time, o.UpdateTime, o.OrigQuoteOrderQty, o.IsOpen, o.Stp);
}

internal sealed record PlaceResult(OrderView Order, IReadOnlyList<Fill> Fills);

/// <summary>
/// The matching engine and the ledger: accounts, books, orders. One lock guards all of it, so
/// every order executes atomically and balances always add up.
/// </summary>
public sealed class Exchange
{
    /// <summary>Owns the anonymous book liquidity of a scenario (funded for exactly what it rests).</summary>
    public const string MarketMaker = "market-maker";

    private readonly Lock _gate = new();
    private readonly TimeProvider _clock;
    private readonly Dictionary<string, Dictionary<string, AssetBalanceState>> _accounts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SymbolState> _symbols = new(StringComparer.Ordinal);
    private readonly Dictionary<long, Order> _orders = [];
    private long _nextOrderId = 1;
    private long _nextTradeId = 1;
    private long _sequence;

    internal Exchange(Scenario scenario, TimeProvider clock)
    {
        _clock = clock;
        foreach (var account in scenario.Accounts)
        {
            _accounts[account.Id] = account.Balances.ToDictionary(b => b.Key, b => new AssetBalanceState { Free = b.Value }, StringComparer.Ordinal);
        }
        _accounts.TryAdd(MarketMaker, new Dictionary<string, AssetBalanceState>(StringComparer.Ordinal));
        foreach (var spec in scenario.Symbols)
        {
            var symbol = new SymbolState(spec);
            _symbols[spec.Symbol] = symbol;
            foreach (var (side, level) in Levels(spec.Book))
            {
                var asset = side == Side.Buy ? spec.QuoteAsset : spec.BaseAsset;
                Balance(MarketMaker, asset).Free += side == Side.Buy ? level[0] * level[1] : level[1];
                Seed(symbol, MarketMaker, side, level[0], level[1], null);
            }
            foreach (var order in spec.Orders)
            {
                var side = EnumWire.ParseSide(order.Side) ?? throw new ScenarioException($"resting order side '{order.Side}' is not BUY or SELL");
                Seed(symbol, order.Account, side, order.Price, order.Quantity, order.ClientOrderId);
            }
        }
    }

    private long Now => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    public IReadOnlyCollection<string> Accounts
    {
        get
        {
            lock (_gate)
            {
                return _accounts.Keys.ToList();
            }
        }
    }

    /// <summary>An account's balances (free and locked per asset); empty for an unknown account.</summary>
    public IReadOnlyDictionary<string, AssetBalance> Balances(string account)
    {
        lock (_gate)
        {
            return _accounts.TryGetValue(account, out var balances)
                ? balances.ToDictionary(b => b.Key, b => new AssetBalance(b.Value.Free, b.Value.Locked), StringComparer.Ordinal)
                : new Dictionary<string, AssetBalance>();
        }
    }

    internal bool HasSymbol(string symbol) => _symbols.ContainsKey(symbol);

    /// <summary>Runs <paramref name="read"/> on a symbol under the lock (market data snapshots).</summary>
    internal T ReadSymbol<T>(string symbol, Func<SymbolState, T> read)
    {
        lock (_gate)
        {
            return _symbols.TryGetValue(symbol, out var state) ? read(state) : throw BinanceError.InvalidSymbol();
        }
    }

    internal IReadOnlyList<T> ReadSymbols<T>(Func<SymbolState, T> read)
    {
        lock (_gate)
        {
            return _symbols.Values.Select(read).ToList();
        }
    }

    /// <summary>Validates an order against the symbol's rules and filters; with <paramref name="testOnly"/> stops there.</summary>
    internal PlaceResult? Place(string account, NewOrder request, bool testOnly)
    {
        lock (_gate)
        {
            var symbol = _symbols.TryGetValue(request.Symbol, out var s) ? s : throw BinanceError.InvalidSymbol();
            Validate(account, symbol, request);
            return testOnly ? null : Execute(account, symbol, request);
        }
    }

    private void Validate(string account, SymbolState symbol, NewOrder request)
    {
        var spec = symbol.Spec;
        if (spec.Status != "TRADING")
        {
            throw BinanceError.Rejected("Market is closed.");
        }
        if (!spec.OrderTypes.Contains(request.Type.Name()))
        {
            throw BinanceError.Rejected(request.Type == OrderType.Market ? "Market orders are not supported for this symbol." : "Unsupported order combination");
        }
        if (request.Stp is { } stp && !spec.AllowedSelfTradePreventionModes.Contains(stp.Name()))
        {
            throw new BinanceError(-1130, "Data sent for parameter 'selfTradePreventionMode' is not valid.");
        }
        if (request.QuoteOrderQty is not null && !spec.QuoteOrderQtyMarketAllowed)
        {
            throw BinanceError.Rejected("Quote order qty market orders are not support for this symbol.");
        }
        var open = _orders.Values.Count(o => o.IsOpen && o.Account == account && o.Symbol == spec.Symbol);
        var check = new OrderCheck(request.Side, request.Type, request.Price, request.Quantity, request.QuoteOrderQty, symbol.AvgPrice, open);
        foreach (var filter in spec.Filters)
        {
            if (!filter.Accepts(check))
            {
                throw BinanceError.Filter(filter.Failure);
            }
        }
        if (_orders.Values.Any(o => o.IsOpen && o.Account == account && o.ClientOrderId == request.ClientOrderId))
        {
            throw BinanceError.Rejected("Duplicate order sent.");
        }
    }

    private PlaceResult Execute(string account, SymbolState symbol, NewOrder request)
    {
        var spec = symbol.Spec;
        var book = symbol.Book;
        var limit = request.Type == OrderType.Market ? (decimal?)null : request.Price;
        var opposite = book.Opposite(request.Side);
        var stp = request.Stp ?? EnumWire.ParseStp(spec.DefaultSelfTradePreventionMode)!.Value;
        var (plan, exhausted, selfMakers, takerPrevented) =
            Plan(opposite, request.Side, limit, request.Quantity, request.QuoteOrderQty, symbol.StepSize, account, stp);
        var crosses = opposite.Count > 0 && (request.Side == Side.Buy ? opposite[0].Price <= request.Price : opposite[0].Price >= request.Price);
        if (request.Type == OrderType.LimitMaker && crosses)
        {
            throw BinanceError.Rejected("Order would immediately match and take.");
        }
        if (request.QuoteOrderQty is not null && opposite.Count == 0)
        {
            throw BinanceError.Rejected("Order book liquidity is less than symbol minimum quantity.");
        }
        var planQty = plan.Sum(p => p.Qty);
        var planCost = plan.Sum(p => p.Qty * p.Maker.Price);
        var (reserveAsset, reserve) = request.Side == Side.Buy
            ? (spec.QuoteAsset, request.Type == OrderType.Market ? request.QuoteOrderQty ?? planCost : request.Quantity!.Value * request.Price!.Value)
            : (spec.BaseAsset, request.Quantity ?? planQty);
        var balance = Balance(account, reserveAsset);
        if (balance.Free < reserve)
        {
            throw BinanceError.InsufficientBalance();
        }
        var now = Now;
        var order = new Order
        {
            OrderId = _nextOrderId++,
            Symbol = spec.Symbol,
            Account = account,
            ClientOrderId = request.ClientOrderId,
            Side = request.Side,
            Type = request.Type,
            Tif = request.Tif ?? TimeInForce.Gtc,
            Stp = stp,
            Price = request.Price ?? 0,
            OrigQty = request.Quantity ?? 0,
            OrigQuoteOrderQty = request.QuoteOrderQty ?? 0,
            Time = now,
            UpdateTime = now,
            Sequence = _sequence++,
        };
        _orders[order.OrderId] = order;
        balance.Free -= reserve;
        balance.Locked += reserve;
        order.Reserved = reserve;

        var fills = new List<Fill>();
        var fillOrKillFails = request.Tif == TimeInForce.Fok && planQty < request.Quantity;
        if (!fillOrKillFails)
        {
            foreach (var (maker, qty) in plan)
            {
                fills.Add(Trade(symbol, order, maker, qty, now));
            }
            foreach (var maker in selfMakers)
            {
                book.Remove(maker);
                Release(maker, maker.Reserved);
                maker.Status = OrderStatus.ExpiredInMatch;
                maker.UpdateTime = now;
            }
        }
        if (request.QuoteOrderQty is not null)
        {
            order.OrigQty = order.ExecutedQty;
        }

        var rests = order.Remaining > 0 && !fillOrKillFails && !takerPrevented
            && (order.Type == OrderType.LimitMaker || (order.Type == OrderType.Limit && order.Tif == TimeInForce.Gtc));
        if (rests)
        {
            // A buy that traded below its limit keeps only what the rest of it can cost.
            var keep = order.Side == Side.Buy ? order.Remaining * order.Price : order.Remaining;
            Release(order, order.Reserved - keep);
            order.Status = order.ExecutedQty > 0 ? OrderStatus.PartiallyFilled : OrderStatus.New;
            book.Add(order);
        }
        else
        {
            Release(order, order.Reserved);
            var complete = order.ExecutedQty > 0 && (request.QuoteOrderQty is not null ? !exhausted : order.Remaining == 0);
            order.Status = takerPrevented && !fillOrKillFails ? OrderStatus.ExpiredInMatch : complete ? OrderStatus.Filled : OrderStatus.Expired;
        }
        return new PlaceResult(OrderView.Of(order), fills);
    }

    /// <summary>
    /// Which resting orders a taker would hit, and how much of each; nothing is changed. Orders of
    /// the taker's own account are handled by self-trade prevention: skipped and expired
    /// (EXPIRE_MAKER, EXPIRE_BOTH) and/or the taker stops there (EXPIRE_TAKER, EXPIRE_BOTH).
    /// </summary>
    private static (List<(Order Maker, decimal Qty)> Plan, bool Exhausted, List<Order> SelfMakers, bool TakerPrevented) Plan(
        IReadOnlyList<Order> opposite, Side takerSide, decimal? limit, decimal? quantity, decimal? quoteQty, decimal step, string account, StpMode stp)
    {
        var plan = new List<(Order, decimal)>();
        var selfMakers = new List<Order>();
        var remainingQty = quantity ?? 0;
        var remainingQuote = quoteQty ?? 0;
        foreach (var maker in opposite)
        {
            if (limit is { } l && (takerSide == Side.Buy ? maker.Price > l : maker.Price < l))
            {
                return (plan, false, selfMakers, false);
            }
            if (maker.Account == account && stp != StpMode.None)
            {
                if (stp != StpMode.ExpireTaker)
                {
                    selfMakers.Add(maker);
                }
                if (stp == StpMode.ExpireMaker)
                {
                    continue;
                }
                return (plan, false, selfMakers, true);
            }
            var take = quantity is not null
                ? Math.Min(maker.Remaining, remainingQty)
                : Math.Min(maker.Remaining, FloorToStep(remainingQuote / maker.Price, step));
            if (take <= 0)
            {
                return (plan, false, selfMakers, false);
            }
            plan.Add((maker, take));
            remainingQty -= take;
            remainingQuote -= take * maker.Price;
            if ((quantity is not null && remainingQty == 0) || (quantity is null && take < maker.Remaining))
            {
                return (plan, false, selfMakers, false);
            }
        }
        return (plan, true, selfMakers, false);
    }

    private static decimal FloorToStep(decimal value, decimal step) =>
        step == 0 ? Math.Round(value, 8, MidpointRounding.ToZero) : Math.Floor(value / step) * step;

    /// <summary>Executes <paramref name="qty"/> at the maker's price and moves both parties' balances.</summary>
    private Fill Trade(SymbolState symbol, Order taker, Order maker, decimal qty, long now)
    {
        var spec = symbol.Spec;
        var price = maker.Price;
        var quote = qty * price;
        foreach (var (order, isTaker) in new[] { (taker, true), (maker, false) })
        {
            var buys = order.Side == Side.Buy;
            var spent = buys ? quote : qty;
            order.Reserved -= spent;
            Balance(order.Account, buys ? spec.QuoteAsset : spec.BaseAsset).Locked -= spent;
            Balance(order.Account, buys ? spec.BaseAsset : spec.QuoteAsset).Free += buys ? qty : quote;
            order.ExecutedQty += qty;
            order.CumQuote += quote;
            order.UpdateTime = now;
            if (!isTaker)
            {
                order.Status = order.Remaining == 0 ? OrderStatus.Filled : OrderStatus.PartiallyFilled;
            }
        }
        if (maker.Remaining == 0)
        {
            symbol.Book.Remove(maker);
        }
        else
        {
            symbol.Book.Touch();
        }
        var tradeId = _nextTradeId++;
        symbol.LastPrice = price;
        symbol.LastQty = qty;
        symbol.HighPrice = Math.Max(symbol.HighPrice, price);
        symbol.LowPrice = Math.Min(symbol.LowPrice, price);
        symbol.Volume += qty;
        symbol.QuoteVolume += quote;
        symbol.TradeCount++;
        if (symbol.FirstTradeId < 0)
        {
            symbol.FirstTradeId = tradeId;
        }
        symbol.LastTradeId = tradeId;
        return new Fill(price, qty, taker.Side == Side.Buy ? spec.BaseAsset : spec.QuoteAsset, tradeId);
    }

    private void Release(Order order, decimal amount)
    {
        if (amount == 0)
        {
            return;
        }
        var spec = _symbols[order.Symbol].Spec;
        var balance = Balance(order.Account, order.Side == Side.Buy ? spec.QuoteAsset : spec.BaseAsset);
        balance.Locked -= amount;
        balance.Free += amount;
        order.Reserved -= amount;
    }

    /// <summary>Cancels an open order; with <paramref name="onlyIf"/> (cancelRestrictions) only an order in that status.</summary>
    internal OrderView Cancel(string account, string symbol, long? orderId, string? clientOrderId, OrderStatus? onlyIf = null)
    {
        lock (_gate)
        {
            var state = _symbols.TryGetValue(symbol, out var s) ? s : throw BinanceError.InvalidSymbol();
            var order = Find(account, symbol, orderId, clientOrderId);
            if (order is null || !order.IsOpen)
            {
                throw new BinanceError(-2011, "Unknown order sent.");
            }
            if (onlyIf is { } status && order.Status != status)
            {
                throw new BinanceError(-2011, "Order was not canceled due to cancel restrictions.");
            }
            CancelOpen(state, order);
            return OrderView.Of(order);
        }
    }

    internal IReadOnlyList<OrderView> CancelAll(string account, string symbol)
    {
        lock (_gate)
        {
            var state = _symbols.TryGetValue(symbol, out var s) ? s : throw BinanceError.InvalidSymbol();
            var open = _orders.Values.Where(o => o.IsOpen && o.Account == account && o.Symbol == symbol).OrderBy(o => o.OrderId).ToList();
            if (open.Count == 0)
            {
                throw new BinanceError(-2011, "Unknown order sent.");
            }
            foreach (var order in open)
            {
                CancelOpen(state, order);
            }
            return open.Select(OrderView.Of).ToList();
        }
    }

    private void CancelOpen(SymbolState state, Order order)
    {
        state.Book.Remove(order);
        Release(order, order.Reserved);
        order.Status = OrderStatus.Canceled;
        order.UpdateTime = Now;
    }

    internal OrderView Query(string account, string symbol, long? orderId, string? clientOrderId)
    {
        lock (_gate)
        {
            if (!_symbols.ContainsKey(symbol))
            {
                throw BinanceError.InvalidSymbol();
            }
            var order = Find(account, symbol, orderId, clientOrderId) ?? throw new BinanceError(-2013, "Order does not exist.");
            return OrderView.Of(order);
        }
    }

    internal IReadOnlyList<OrderView> OpenOrders(string account, string? symbol)
    {
        lock (_gate)
        {
            if (symbol is not null && !_symbols.ContainsKey(symbol))
            {
                throw BinanceError.InvalidSymbol();
            }
            return _orders.Values.Where(o => o.IsOpen && o.Account == account && (symbol is null || o.Symbol == symbol))
                .OrderBy(o => o.OrderId).Select(OrderView.Of).ToList();
        }
    }

    /// <summary>Takes <paramref name="amount"/> of <paramref name="coin"/> out of the account (the withdrawal "leaves" the exchange).</summary>
    internal void Withdraw(string account, string coin, decimal amount)
    {
        lock (_gate)
        {
            var balance = Balance(account, coin);
            if (amount <= 0 || balance.Free < amount)
            {
                throw new BinanceError(-4026, "User has insufficient balance");
            }
            balance.Free -= amount;
        }
    }

    private Order? Find(string account, string symbol, long? orderId, string? clientOrderId) =>
        orderId is { } id
            ? _orders.TryGetValue(id, out var byId) && byId.Account == account && byId.Symbol == symbol
                && (clientOrderId is null || byId.ClientOrderId == clientOrderId) ? byId : null
            : _orders.Values.Where(o => o.Account == account && o.Symbol == symbol && o.ClientOrderId == clientOrderId)
                .OrderByDescending(o => o.OrderId).FirstOrDefault();

    private AssetBalanceState Balance(string account, string asset)
    {
        var balances = _accounts.TryGetValue(account, out var b) ? b : _accounts[account] = new Dictionary<string, AssetBalanceState>(StringComparer.Ordinal);
        if (!balances.TryGetValue(asset, out var balance))
        {
            balances[asset] = balance = new AssetBalanceState();
        }
        return balance;
    }

    private void Seed(SymbolState symbol, string account, Side side, decimal price, decimal qty, string? clientOrderId)
    {
        var spec = symbol.Spec;
        var (asset, amount) = side == Side.Buy ? (spec.QuoteAsset, price * qty) : (spec.BaseAsset, qty);
        var balance = Balance(account, asset);
        if (price <= 0 || qty <= 0 || balance.Free < amount)
        {
            throw new ScenarioException($"{account} cannot rest {side.Name()} {qty} {spec.Symbol} @ {price}: needs {amount} {asset} free, has {balance.Free}");
        }
        var now = Now;
        var order = new Order
        {
            OrderId = _nextOrderId++,
            Symbol = spec.Symbol,
            Account = account,
            ClientOrderId = clientOrderId ?? $"seed-{_nextOrderId}",
            Side = side,
            Type = OrderType.Limit,
            Price = price,
            OrigQty = qty,
            Time = now,
            UpdateTime = now,
            Sequence = _sequence++,
            Reserved = amount,
        };
        balance.Free -= amount;
        balance.Locked += amount;
        _orders[order.OrderId] = order;
        symbol.Book.Add(order);
    }

    private static IEnumerable<(Side, decimal[])> Levels(BookSpec book)
    {
        foreach (var level in book.Bids)
        {
            yield return (Side.Buy, Level(level));
        }
        foreach (var level in book.Asks)
        {
            yield return (Side.Sell, Level(level));
        }
        if (book.Ladder is { } ladder)
        {
            for (var i = 0; i < ladder.Levels; i++)
            {
                yield return (Side.Buy, [ladder.BestBid - (i * ladder.Step), ladder.Quantity]);
                yield return (Side.Sell, [ladder.BestAsk + (i * ladder.Step), ladder.Quantity]);
            }
        }
    }

    private static decimal[] Level(decimal[] level) =>
        level.Length == 2 ? level : throw new ScenarioException("a book level is [price, quantity]");
}
