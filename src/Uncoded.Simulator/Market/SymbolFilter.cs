using System.Text.Json.Serialization;
using Uncoded.Simulator.Api;

namespace Uncoded.Simulator.Market;

/// <summary>
/// One exchangeInfo symbol filter (filters.md). A value of 0 disables that rule. Each filter
/// checks an order and answers with the Binance failure message or null.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "filterType")]
[JsonDerivedType(typeof(PriceFilter), "PRICE_FILTER")]
[JsonDerivedType(typeof(LotSizeFilter), "LOT_SIZE")]
[JsonDerivedType(typeof(MarketLotSizeFilter), "MARKET_LOT_SIZE")]
[JsonDerivedType(typeof(NotionalFilter), "NOTIONAL")]
[JsonDerivedType(typeof(MinNotionalFilter), "MIN_NOTIONAL")]
[JsonDerivedType(typeof(PercentPriceBySideFilter), "PERCENT_PRICE_BY_SIDE")]
[JsonDerivedType(typeof(MaxNumOrdersFilter), "MAX_NUM_ORDERS")]
public abstract record SymbolFilter
{
    internal abstract string FilterType { get; }

    internal string Failure => "Filter failure: " + FilterType;

    /// <summary>The exchangeInfo object, in Binance's field order and number formats.</summary>
    internal abstract IReadOnlyDictionary<string, object> ToWire();

    internal abstract bool Accepts(OrderCheck order);

    internal static bool OnStep(decimal value, decimal min, decimal step) => step == 0 || (value - min) % step == 0;
}

/// <summary>What the filters see of a new order.</summary>
internal sealed record OrderCheck(Side Side, OrderType Type, decimal? Price, decimal? Quantity, decimal? QuoteOrderQty, decimal AvgPrice, int OpenOrders);

public sealed record PriceFilter(decimal MinPrice, decimal MaxPrice, decimal TickSize) : SymbolFilter
{
    internal override string FilterType => "PRICE_FILTER";

    internal override IReadOnlyDictionary<string, object> ToWire() => new Dictionary<string, object>
    {
        ["filterType"] = FilterType, ["minPrice"] = Wire.Dec(MinPrice), ["maxPrice"] = Wire.Dec(MaxPrice), ["tickSize"] = Wire.Dec(TickSize),
    };

    internal override bool Accepts(OrderCheck order) =>
        order.Price is not { } price
        || ((MinPrice == 0 || price >= MinPrice) && (MaxPrice == 0 || price <= MaxPrice) && OnStep(price, MinPrice, TickSize));
}

public record LotSizeFilter(decimal MinQty, decimal MaxQty, decimal StepSize) : SymbolFilter
{
    internal override string FilterType => "LOT_SIZE";

    internal override IReadOnlyDictionary<string, object> ToWire() => new Dictionary<string, object>
    {
        ["filterType"] = FilterType, ["minQty"] = Wire.Dec(MinQty), ["maxQty"] = Wire.Dec(MaxQty), ["stepSize"] = Wire.Dec(StepSize),
    };

    internal override bool Accepts(OrderCheck order) => order.Quantity is not { } qty || QuantityFits(qty);

    internal bool QuantityFits(decimal qty) =>
        qty >= MinQty && (MaxQty == 0 || qty <= MaxQty) && OnStep(qty, MinQty, StepSize);
}

/// <summary>LOT_SIZE's rules, applied to MARKET orders only.</summary>
public sealed record MarketLotSizeFilter(decimal MinQty, decimal MaxQty, decimal StepSize) : LotSizeFilter(MinQty, MaxQty, StepSize)
{
    internal override string FilterType => "MARKET_LOT_SIZE";

    internal override bool Accepts(OrderCheck order) => order.Type != OrderType.Market || base.Accepts(order);
}

public sealed record NotionalFilter(decimal MinNotional, bool ApplyMinToMarket, decimal MaxNotional, bool ApplyMaxToMarket, int AvgPriceMins) : SymbolFilter
{
    internal override string FilterType => "NOTIONAL";

    internal override IReadOnlyDictionary<string, object> ToWire() => new Dictionary<string, object>
    {
        ["filterType"] = FilterType, ["minNotional"] = Wire.Dec(MinNotional), ["applyMinToMarket"] = ApplyMinToMarket,
        ["maxNotional"] = Wire.Dec(MaxNotional), ["applyMaxToMarket"] = ApplyMaxToMarket, ["avgPriceMins"] = AvgPriceMins,
    };

    internal override bool Accepts(OrderCheck order)
    {
        var market = order.Type == OrderType.Market;
        if (Notional.Of(order) is not { } notional)
        {
            return true;
        }
        var minOk = (market && !ApplyMinToMarket) || notional >= MinNotional;
        var maxOk = (market && !ApplyMaxToMarket) || MaxNotional == 0 || notional <= MaxNotional;
        return minOk && maxOk;
    }
}

public sealed record MinNotionalFilter(decimal MinNotional, bool ApplyToMarket, int AvgPriceMins) : SymbolFilter
{
    internal override string FilterType => "MIN_NOTIONAL";

    internal override IReadOnlyDictionary<string, object> ToWire() => new Dictionary<string, object>
    {
        ["filterType"] = FilterType, ["minNotional"] = Wire.Dec(MinNotional), ["applyToMarket"] = ApplyToMarket, ["avgPriceMins"] = AvgPriceMins,
    };

    internal override bool Accepts(OrderCheck order) =>
        (order.Type == OrderType.Market && !ApplyToMarket) || Notional.Of(order) is not { } notional || notional >= MinNotional;
}

public sealed record PercentPriceBySideFilter(decimal BidMultiplierUp, decimal BidMultiplierDown, decimal AskMultiplierUp, decimal AskMultiplierDown, int AvgPriceMins) : SymbolFilter
{
    internal override string FilterType => "PERCENT_PRICE_BY_SIDE";

    internal override IReadOnlyDictionary<string, object> ToWire() => new Dictionary<string, object>
    {
        ["filterType"] = FilterType, ["bidMultiplierUp"] = Wire.Plain(BidMultiplierUp), ["bidMultiplierDown"] = Wire.Plain(BidMultiplierDown),
        ["askMultiplierUp"] = Wire.Plain(AskMultiplierUp), ["askMultiplierDown"] = Wire.Plain(AskMultiplierDown), ["avgPriceMins"] = AvgPriceMins,
    };

    // Applies to priced orders; MARKET orders carry no price to compare (that gap is the
    // pump-and-dump attack: a market buy walks to any ask, however far from the average).
    internal override bool Accepts(OrderCheck order)
    {
        if (order.Price is not { } price)
        {
            return true;
        }
        // BINANCE.md: a filter value of 0 disables that rule (here: that side's bound).
        var (up, down) = order.Side == Side.Buy ? (BidMultiplierUp, BidMultiplierDown) : (AskMultiplierUp, AskMultiplierDown);
        return (up == 0 || price <= order.AvgPrice * up) && (down == 0 || price >= order.AvgPrice * down);
    }
}

public sealed record MaxNumOrdersFilter(int MaxNumOrders) : SymbolFilter
{
    internal override string FilterType => "MAX_NUM_ORDERS";

    internal override IReadOnlyDictionary<string, object> ToWire() => new Dictionary<string, object>
    {
        ["filterType"] = FilterType, ["maxNumOrders"] = MaxNumOrders,
    };

    internal override bool Accepts(OrderCheck order) => MaxNumOrders == 0 || order.OpenOrders < MaxNumOrders;
}

internal static class Notional
{
    /// <summary>price × quantity; for MARKET orders the average price stands in, or quoteOrderQty is the notional.</summary>
    public static decimal? Of(OrderCheck order) =>
        order.QuoteOrderQty ?? (order.Quantity is { } qty ? qty * (order.Price ?? order.AvgPrice) : null);
}
