namespace Uncoded.Simulator.Market;

internal enum Side
{
    Buy,
    Sell,
}

internal enum OrderType
{
    Limit,
    Market,
    LimitMaker,
}

internal enum TimeInForce
{
    Gtc,
    Ioc,
    Fok,
}

internal enum OrderStatus
{
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    Expired,

    /// <summary>Expired by self-trade prevention.</summary>
    ExpiredInMatch,
}

/// <summary>Self-trade prevention: what happens when an order would trade with the same account's order.</summary>
internal enum StpMode
{
    None,
    ExpireTaker,
    ExpireMaker,
    ExpireBoth,
}

internal enum ResponseType
{
    Ack,
    Result,
    Full,
}

/// <summary>Binance's spellings of the enums (enums.md).</summary>
internal static class EnumWire
{
    public static string Name(this Side side) => side == Side.Buy ? "BUY" : "SELL";

    public static string Name(this OrderType type) => type switch
    {
        OrderType.Limit => "LIMIT",
        OrderType.Market => "MARKET",
        _ => "LIMIT_MAKER",
    };

    public static string Name(this TimeInForce tif) => tif switch
    {
        TimeInForce.Gtc => "GTC",
        TimeInForce.Ioc => "IOC",
        _ => "FOK",
    };

    public static string Name(this OrderStatus status) => status switch
    {
        OrderStatus.New => "NEW",
        OrderStatus.PartiallyFilled => "PARTIALLY_FILLED",
        OrderStatus.Filled => "FILLED",
        OrderStatus.Canceled => "CANCELED",
        OrderStatus.Expired => "EXPIRED",
        _ => "EXPIRED_IN_MATCH",
    };

    public static string Name(this StpMode mode) => mode switch
    {
        StpMode.None => "NONE",
        StpMode.ExpireTaker => "EXPIRE_TAKER",
        StpMode.ExpireMaker => "EXPIRE_MAKER",
        _ => "EXPIRE_BOTH",
    };

    public static StpMode? ParseStp(string value) => value switch
    {
        "NONE" => StpMode.None,
        "EXPIRE_TAKER" => StpMode.ExpireTaker,
        "EXPIRE_MAKER" => StpMode.ExpireMaker,
        "EXPIRE_BOTH" => StpMode.ExpireBoth,
        _ => null,
    };

    public static Side? ParseSide(string value) => value switch
    {
        "BUY" => Side.Buy,
        "SELL" => Side.Sell,
        _ => null,
    };

    public static OrderType? ParseType(string value) => value switch
    {
        "LIMIT" => OrderType.Limit,
        "MARKET" => OrderType.Market,
        "LIMIT_MAKER" => OrderType.LimitMaker,
        _ => null,
    };

    public static TimeInForce? ParseTif(string value) => value switch
    {
        "GTC" => TimeInForce.Gtc,
        "IOC" => TimeInForce.Ioc,
        "FOK" => TimeInForce.Fok,
        _ => null,
    };

    public static ResponseType? ParseResponseType(string value) => value switch
    {
        "ACK" => ResponseType.Ack,
        "RESULT" => ResponseType.Result,
        "FULL" => ResponseType.Full,
        _ => null,
    };
}
