using System.Security.Cryptography;
using Uncoded.Simulator.Market;

namespace Uncoded.Simulator.Api;

/// <summary>The mandatory/forbidden parameter rules of POST /api/v3/order, per order type.</summary>
internal static class OrderParser
{
    private const string ClientIdRange = "^[a-zA-Z0-9-_]{1,36}$";
    private const string IdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private static readonly string[] StopTypes = ["STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"];

    public static (NewOrder Order, ResponseType ResponseType) Parse(RequestParameters p, Exchange exchange)
    {
        var symbol = p.Symbol();
        var (basePrecision, quotePrecision) = exchange.ReadSymbol(symbol, s => (s.Spec.BaseAssetPrecision, s.Spec.QuoteAssetPrecision));
        var side = p.Side();
        var typeName = p.Required("type");
        var type = EnumWire.ParseType(typeName)
            ?? (StopTypes.Contains(typeName) ? throw BinanceError.Rejected("Unsupported order combination") : throw new BinanceError(-1116, "Invalid orderType."));
        var tif = p.Optional("timeInForce") is { } t ? EnumWire.ParseTif(t) ?? throw new BinanceError(-1115, "Invalid timeInForce.") : (TimeInForce?)null;
        var quantity = Positive(p, "quantity", basePrecision, "Invalid quantity.");
        var quote = Positive(p, "quoteOrderQty", quotePrecision, "Invalid quoteOrderQty.");
        var price = Positive(p, "price", quotePrecision, "Invalid price.");
        // Well-formed decimals first (-1100), even for the parameters refused below.
        _ = p.OptionalDecimal("stopPrice", quotePrecision);
        _ = p.OptionalDecimal("icebergQty", basePrecision);
        foreach (var unsupported in new[] { "stopPrice", "trailingDelta" })
        {
            if (p.Has(unsupported))
            {
                throw BinanceError.NotRequired(unsupported);
            }
        }
        if (p.Has("icebergQty"))
        {
            throw BinanceError.Rejected("Iceberg orders are not supported for this symbol.");
        }
        switch (type)
        {
            case OrderType.Limit:
                _ = tif ?? throw BinanceError.Mandatory("timeInForce");
                _ = quantity ?? throw BinanceError.Mandatory("quantity");
                _ = price ?? throw BinanceError.Mandatory("price");
                Forbid(quote, "quoteOrderQty");
                break;
            case OrderType.LimitMaker:
                Forbid(tif, "timeInForce");
                _ = quantity ?? throw BinanceError.Mandatory("quantity");
                _ = price ?? throw BinanceError.Mandatory("price");
                Forbid(quote, "quoteOrderQty");
                break;
            default:
                Forbid(tif, "timeInForce");
                Forbid(price, "price");
                if (quantity is null && quote is null)
                {
                    throw new BinanceError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!");
                }
                if (quantity is not null)
                {
                    Forbid(quote, "quoteOrderQty");
                }
                break;
        }
        var responseType = p.Optional("newOrderRespType") is { } r
            ? EnumWire.ParseResponseType(r) ?? throw BinanceError.Illegal("newOrderRespType", "ACK, RESULT, FULL")
            : type == OrderType.LimitMaker ? ResponseType.Ack : ResponseType.Full;
        var stp = p.Optional("selfTradePreventionMode") is { } mode
            ? EnumWire.ParseStp(mode) ?? throw new BinanceError(-1130, "Data sent for parameter 'selfTradePreventionMode' is not valid.")
            : (StpMode?)null;
        return (new NewOrder(symbol, side, type, tif, quantity, quote, price, ClientOrderId(p, "newClientOrderId"), stp), responseType);
    }

    /// <summary>The client's id if valid (else -1100), or a fresh one like Binance's (22 characters).</summary>
    public static string ClientOrderId(RequestParameters p, string name)
    {
        var id = p.Optional(name);
        if (id is null)
        {
            return NewId();
        }
        return id.Length <= 36 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') ? id : throw BinanceError.Illegal(name, ClientIdRange);
    }

    public static string NewId() => RandomNumberGenerator.GetString(IdAlphabet, 22);

    private static decimal? Positive(RequestParameters p, string name, int precision, string invalid) =>
        p.OptionalDecimal(name, precision) is { } value ? value > 0 ? value : throw BinanceError.Filter(invalid) : null;

    private static void Forbid<T>(T? value, string name)
    {
        if (value is not null)
        {
            throw BinanceError.NotRequired(name);
        }
    }
}
