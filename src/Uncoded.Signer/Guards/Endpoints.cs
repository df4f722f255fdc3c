using System.Collections.Frozen;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Uncoded.Signer.Guards;

/// <summary>What an allowed endpoint does, which decides the guards that apply beyond its schema.</summary>
internal enum EndpointKind
{
    NewOrder,
    TestOrder,
    CancelOrder,
    CancelOpenOrders,
    QueryOrder,
    OpenOrders,
    Account,
    ApiRestrictions,
}

/// <summary>The kind of value a parameter may hold; each maps to one strict check.</summary>
internal enum ValueType
{
    Symbol,
    Side,
    OrderType,
    TimeInForce,
    PositiveDecimal,
    UnsignedInteger,
    ClientOrderId,
    ResponseType,
    SelfTradePrevention,
    Boolean,
    CancelRestrictions,
    PegPriceType,
    PegOffsetType,
}

/// <summary>
/// One signed endpoint the signer knows (method + path) and its parameter schema: every
/// parameter must be listed, required ones must be present, and at least one parameter of each
/// <see cref="OneOf"/> group must be present.
/// </summary>
internal sealed record EndpointSchema(
    EndpointKind Kind,
    string Method,
    string Path,
    FrozenDictionary<string, ValueType> Parameters,
    FrozenSet<string> Required,
    string[] OneOf)
{
    public string Name => $"{Method} {Path}";
}

/// <summary>The signed spot endpoints of BINANCE.md, the only ones the signer can ever be configured to sign.</summary>
internal static partial class Endpoints
{
    /// <summary>Parameters of stop orders (STOP_LOSS*, TAKE_PROFIT*), refused unless AllowStopOrders.</summary>
    public static readonly string[] StopParameters = ["stopPrice", "trailingDelta"];

    /// <summary>Refused unless AllowIcebergOrders.</summary>
    public static readonly string[] IcebergParameters = ["icebergQty"];

    /// <summary>Refused unless AllowPeggedOrders.</summary>
    public static readonly string[] PegParameters = ["pegPriceType", "pegOffsetValue", "pegOffsetType"];

    public static readonly FrozenDictionary<string, EndpointSchema> All = Build().ToFrozenDictionary(e => e.Name, StringComparer.Ordinal);

    private static IEnumerable<EndpointSchema> Build()
    {
        var freshness = new Dictionary<string, ValueType>
        {
            ["timestamp"] = ValueType.UnsignedInteger,
            ["recvWindow"] = ValueType.UnsignedInteger,
        };
        string[] signedRequired = ["timestamp", "recvWindow"];
        var newOrder = new Dictionary<string, ValueType>(freshness)
        {
            ["symbol"] = ValueType.Symbol,
            ["side"] = ValueType.Side,
            ["type"] = ValueType.OrderType,
            ["timeInForce"] = ValueType.TimeInForce,
            ["quantity"] = ValueType.PositiveDecimal,
            ["quoteOrderQty"] = ValueType.PositiveDecimal,
            ["price"] = ValueType.PositiveDecimal,
            ["newClientOrderId"] = ValueType.ClientOrderId,
            ["newOrderRespType"] = ValueType.ResponseType,
            ["selfTradePreventionMode"] = ValueType.SelfTradePrevention,
            ["stopPrice"] = ValueType.PositiveDecimal,
            ["trailingDelta"] = ValueType.UnsignedInteger,
            ["icebergQty"] = ValueType.PositiveDecimal,
            ["pegPriceType"] = ValueType.PegPriceType,
            ["pegOffsetValue"] = ValueType.UnsignedInteger,
            ["pegOffsetType"] = ValueType.PegOffsetType,
        };
        string[] orderRequired = [.. signedRequired, "symbol", "side", "type"];
        yield return Schema(EndpointKind.NewOrder, "POST", "/api/v3/order", newOrder, orderRequired);
        yield return Schema(EndpointKind.TestOrder, "POST", "/api/v3/order/test",
            new(newOrder) { ["computeCommissionRates"] = ValueType.Boolean }, orderRequired);
        var byOrder = new Dictionary<string, ValueType>(freshness)
        {
            ["symbol"] = ValueType.Symbol,
            ["orderId"] = ValueType.UnsignedInteger,
            ["origClientOrderId"] = ValueType.ClientOrderId,
        };
        string[] orderIds = ["orderId", "origClientOrderId"];
        yield return Schema(EndpointKind.CancelOrder, "DELETE", "/api/v3/order",
            new(byOrder) { ["newClientOrderId"] = ValueType.ClientOrderId, ["cancelRestrictions"] = ValueType.CancelRestrictions },
            [.. signedRequired, "symbol"], orderIds);
        yield return Schema(EndpointKind.QueryOrder, "GET", "/api/v3/order", byOrder, [.. signedRequired, "symbol"], orderIds);
        yield return Schema(EndpointKind.CancelOpenOrders, "DELETE", "/api/v3/openOrders",
            new(freshness) { ["symbol"] = ValueType.Symbol }, [.. signedRequired, "symbol"]);
        yield return Schema(EndpointKind.OpenOrders, "GET", "/api/v3/openOrders",
            new(freshness) { ["symbol"] = ValueType.Symbol }, signedRequired);
        yield return Schema(EndpointKind.Account, "GET", "/api/v3/account",
            new(freshness) { ["omitZeroBalances"] = ValueType.Boolean }, signedRequired);
        yield return Schema(EndpointKind.ApiRestrictions, "GET", "/sapi/v1/account/apiRestrictions", freshness, signedRequired);
    }

    private static EndpointSchema Schema(EndpointKind kind, string method, string path, Dictionary<string, ValueType> parameters,
        string[] required, string[]? oneOf = null) =>
        new(kind, method, path, parameters.ToFrozenDictionary(StringComparer.Ordinal), required.ToFrozenSet(StringComparer.Ordinal), oneOf ?? []);

    /// <summary>Whether <paramref name="value"/> is a well-formed <paramref name="type"/>; <paramref name="expected"/> describes the form.</summary>
    public static bool IsValid(ValueType type, string value, out string expected)
    {
        (var ok, expected) = type switch
        {
            ValueType.Symbol => (SymbolPattern().IsMatch(value), "[A-Z0-9]{1,20}"),
            ValueType.Side => (value is "BUY" or "SELL", "BUY|SELL"),
            ValueType.OrderType => (value is "LIMIT" or "MARKET" or "LIMIT_MAKER" or "STOP_LOSS" or "STOP_LOSS_LIMIT" or "TAKE_PROFIT" or "TAKE_PROFIT_LIMIT",
                "a Binance spot order type"),
            ValueType.TimeInForce => (value is "GTC" or "IOC" or "FOK", "GTC|IOC|FOK"),
            ValueType.PositiveDecimal => (TryDecimal(value, out var d) && d > 0, "a positive decimal, invariant culture"),
            ValueType.UnsignedInteger => (IntegerPattern().IsMatch(value) && ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out _), "digits"),
            ValueType.ClientOrderId => (ClientOrderIdPattern().IsMatch(value), "[a-zA-Z0-9-_]{1,36}"),
            ValueType.ResponseType => (value is "ACK" or "RESULT" or "FULL", "ACK|RESULT|FULL"),
            ValueType.SelfTradePrevention => (value is "NONE" or "EXPIRE_TAKER" or "EXPIRE_MAKER" or "EXPIRE_BOTH" or "DECREMENT",
                "NONE|EXPIRE_TAKER|EXPIRE_MAKER|EXPIRE_BOTH|DECREMENT"),
            ValueType.Boolean => (value is "true" or "false", "true|false"),
            ValueType.CancelRestrictions => (value is "ONLY_NEW" or "ONLY_PARTIALLY_FILLED", "ONLY_NEW|ONLY_PARTIALLY_FILLED"),
            ValueType.PegPriceType => (value is "PRIMARY_PEG" or "MARKET_PEG", "PRIMARY_PEG|MARKET_PEG"),
            ValueType.PegOffsetType => (value is "PRICE_LEVEL", "PRICE_LEVEL"),
            _ => (false, "?"),
        };
        return ok;
    }

    /// <summary>Money: plain digits with an optional fraction, no sign, exponent, spaces or thousands separators.</summary>
    public static bool TryDecimal(string? value, out decimal result)
    {
        result = 0;
        return value is not null && DecimalPattern().IsMatch(value) &&
            decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out result);
    }

    /// <summary>A symbol as Binance names them (also what configuration may list).</summary>
    public static bool IsSymbol(string value) => SymbolPattern().IsMatch(value);

    [GeneratedRegex("^[A-Z0-9]{1,20}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex SymbolPattern();

    [GeneratedRegex("^[0-9]{1,19}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex IntegerPattern();

    [GeneratedRegex("^[0-9]{1,20}(\\.[0-9]{1,20})?\\z", RegexOptions.CultureInvariant)]
    private static partial Regex DecimalPattern();

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,36}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex ClientOrderIdPattern();
}
