using System.Collections.Frozen;
using System.Globalization;

namespace Uncoded.Signer.Guards;

// Bound from "Signer:Keys:<id>:Guard" (ErrorOnUnknownConfiguration), validated and frozen into
// GuardSettings. Every default is the safe one and is documented in the README ("Guards").

internal sealed class GuardOptions
{
    /// <summary>"METHOD /path" entries, a subset of <see cref="Endpoints.All"/>. Null: all of them.</summary>
    public List<string>? Endpoints { get; set; }

    /// <summary>Symbols new orders may name, with their caps. Empty (the default): no new order is signed.</summary>
    public Dictionary<string, SymbolOptions> Symbols { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Null: LIMIT, LIMIT_MAKER, MARKET (MARKET buys only by quoteOrderQty).</summary>
    public List<string>? OrderTypes { get; set; }

    public bool AllowStopOrders { get; set; }

    public bool AllowIcebergOrders { get; set; }

    public bool AllowPeggedOrders { get; set; }

    /// <summary>Rolling 24 h notional cap (quote units, summed over symbols); required when Symbols is not empty.</summary>
    public decimal? MaxDailyNotional { get; set; }

    public int MaxClockSkewMs { get; set; } = 2000;

    public int MaxRecvWindowMs { get; set; } = 5000;

    public int SignaturesPerMinute { get; set; } = 600;

    public int SignaturesPerMinutePerPeer { get; set; } = 600;
}

internal sealed class SymbolOptions
{
    /// <summary>Largest notional of one order (price × quantity, or quoteOrderQty), in the quote asset. Required.</summary>
    public decimal? MaxOrderNotional { get; set; }

    /// <summary>Largest base quantity of one order. Required for MARKET sells by base quantity.</summary>
    public decimal? MaxQuantity { get; set; }
}

internal sealed record SymbolLimits(decimal MaxOrderNotional, decimal? MaxQuantity);

/// <summary>A key's validated, immutable guard configuration.</summary>
internal sealed record GuardSettings(
    FrozenDictionary<string, EndpointSchema> Endpoints,
    FrozenDictionary<string, SymbolLimits> Symbols,
    FrozenSet<string> OrderTypes,
    bool AllowStopOrders,
    bool AllowIcebergOrders,
    bool AllowPeggedOrders,
    decimal MaxDailyNotional,
    int MaxClockSkewMs,
    int MaxRecvWindowMs,
    int SignaturesPerMinute,
    int SignaturesPerMinutePerPeer)
{
    /// <summary>Upper bounds configuration cannot exceed: a signature must stay usable for seconds only.</summary>
    public const int MaxClockSkewBoundMs = 10_000;
    public const int MaxRecvWindowBoundMs = 10_000;
    public const int MaxRateBound = 1_000_000;

    /// <summary>Caps at most 10^15 (in the quote asset): sums of a window's buckets can never overflow a decimal.</summary>
    public const decimal MaxMoney = 1_000_000_000_000_000m;

    public static readonly string[] DefaultOrderTypes = ["LIMIT", "LIMIT_MAKER", "MARKET"];
    public static readonly string[] StopOrderTypes = ["STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"];

    public static GuardSettings From(GuardOptions? options, string where, List<string> problems)
    {
        options ??= new GuardOptions();
        var endpoints = new Dictionary<string, EndpointSchema>(StringComparer.Ordinal);
        foreach (var name in options.Endpoints ?? [.. Guards.Endpoints.All.Keys])
        {
            if (Guards.Endpoints.All.TryGetValue(name, out var schema))
            {
                endpoints[name] = schema;
            }
            else
            {
                problems.Add($"{where}:Endpoints: '{name}' is not a known endpoint (known: {string.Join(", ", Guards.Endpoints.All.Keys)})");
            }
        }
        var orderTypes = (options.OrderTypes ?? [.. DefaultOrderTypes]).ToFrozenSet(StringComparer.Ordinal);
        foreach (var type in orderTypes)
        {
            if (!DefaultOrderTypes.Contains(type) && !StopOrderTypes.Contains(type))
            {
                problems.Add($"{where}:OrderTypes: '{type}' is not a Binance spot order type");
            }
            else if (StopOrderTypes.Contains(type) && !options.AllowStopOrders)
            {
                problems.Add($"{where}:OrderTypes: '{type}' needs AllowStopOrders = true");
            }
        }
        var symbols = new Dictionary<string, SymbolLimits>(StringComparer.Ordinal);
        foreach (var (symbol, limits) in options.Symbols)
        {
            if (!Guards.Endpoints.IsSymbol(symbol))
            {
                problems.Add($"{where}:Symbols: '{symbol}' is not a Binance symbol (upper-case letters and digits)");
            }
            if (limits.MaxOrderNotional is not > 0 || limits.MaxOrderNotional > MaxMoney)
            {
                problems.Add($"{where}:Symbols:{symbol}:MaxOrderNotional is required and must be > 0 and at most {MaxMoney}");
            }
            if (limits.MaxQuantity is <= 0)
            {
                problems.Add($"{where}:Symbols:{symbol}:MaxQuantity must be > 0 when set");
            }
            symbols[symbol] = new SymbolLimits(limits.MaxOrderNotional ?? 0, limits.MaxQuantity);
        }
        if (symbols.Count > 0 && options.MaxDailyNotional is not > 0)
        {
            problems.Add($"{where}:MaxDailyNotional is required (> 0) when Symbols are configured");
        }
        if (options.MaxDailyNotional is <= 0 || options.MaxDailyNotional > MaxMoney)
        {
            problems.Add($"{where}:MaxDailyNotional must be > 0 and at most {MaxMoney}");
        }
        Bound(problems, $"{where}:MaxClockSkewMs", options.MaxClockSkewMs, 1, MaxClockSkewBoundMs);
        Bound(problems, $"{where}:MaxRecvWindowMs", options.MaxRecvWindowMs, 1, MaxRecvWindowBoundMs);
        Bound(problems, $"{where}:SignaturesPerMinute", options.SignaturesPerMinute, 1, MaxRateBound);
        Bound(problems, $"{where}:SignaturesPerMinutePerPeer", options.SignaturesPerMinutePerPeer, 1, MaxRateBound);
        return new GuardSettings(endpoints.ToFrozenDictionary(StringComparer.Ordinal), symbols.ToFrozenDictionary(StringComparer.Ordinal),
            orderTypes, options.AllowStopOrders, options.AllowIcebergOrders, options.AllowPeggedOrders, options.MaxDailyNotional ?? 0,
            options.MaxClockSkewMs, options.MaxRecvWindowMs, options.SignaturesPerMinute, options.SignaturesPerMinutePerPeer);
    }

    private static void Bound(List<string> problems, string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{name} must be between {min} and {max} (is {value})"));
        }
    }
}
