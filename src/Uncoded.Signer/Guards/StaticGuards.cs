using System.Globalization;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Guards;

/// <summary>
/// The stateless guards, in order: never-sign path, never-sign parameters, endpoint allowlist,
/// endpoint schema, freshness, then for order-creating endpoints symbol, order type and shape,
/// and the per-order caps. <paramref name="notional"/> is what a signed order adds to the
/// rolling 24 h cap (null: the endpoint creates no order).
/// </summary>
internal static class StaticGuards
{
    public static GuardDecision Check(GuardSettings guard, string method, string path, ParsedPayload payload, long nowMs, out decimal? notional)
    {
        notional = null;
        var decision = NeverSign.CheckPath(path);
        if (!decision.IsAllowed)
        {
            return decision;
        }
        decision = NeverSign.CheckParameters(payload);
        if (!decision.IsAllowed)
        {
            return decision;
        }
        var name = method + " " + path;
        if (!guard.Endpoints.TryGetValue(name, out var schema))
        {
            return GuardDecision.Deny(ErrorKind.Denied, "ENDPOINT_NOT_ALLOWED", "endpoint", name, "Guard:Endpoints",
                $"'{GuardDecision.Clip(name)}' is not an endpoint this key may sign for");
        }
        decision = CheckSchema(schema, payload);
        if (!decision.IsAllowed)
        {
            return decision;
        }
        decision = CheckFreshness(guard, payload, nowMs);
        if (!decision.IsAllowed)
        {
            return decision;
        }
        if (schema.Kind is EndpointKind.NewOrder or EndpointKind.TestOrder)
        {
            // Test orders count like real ones: Binance does not sign the path, so a signature
            // obtained "for /api/v3/order/test" is just as valid on /api/v3/order.
            return CheckOrder(guard, payload, out notional);
        }
        return GuardDecision.Allow;
    }

    private static GuardDecision CheckSchema(EndpointSchema schema, ParsedPayload payload)
    {
        foreach (var (name, value) in payload.Parameters)
        {
            if (!schema.Parameters.TryGetValue(name, out var type))
            {
                return GuardDecision.Deny(ErrorKind.InvalidRequest, "UNKNOWN_PARAMETER", "schema", name, schema.Name,
                    $"'{GuardDecision.Clip(name)}' is not a parameter of {schema.Name}");
            }
            if (!Endpoints.IsValid(type, value, out var expected))
            {
                return GuardDecision.Deny(ErrorKind.InvalidRequest, "INVALID_PARAMETER", "schema", $"{name}={value}", expected,
                    $"'{GuardDecision.Clip(name)}' must be {expected}");
            }
        }
        foreach (var required in schema.Required)
        {
            if (!payload.Has(required))
            {
                return Missing(schema, required);
            }
        }
        if (schema.OneOf.Length > 0 && !schema.OneOf.Any(payload.Has))
        {
            return Missing(schema, string.Join("|", schema.OneOf));
        }
        return GuardDecision.Allow;
    }

    private static GuardDecision Missing(EndpointSchema schema, string name) =>
        GuardDecision.Deny(ErrorKind.InvalidRequest, "MISSING_PARAMETER", "schema", "absent", name,
            $"{schema.Name} requires '{name}'");

    private static GuardDecision CheckFreshness(GuardSettings guard, ParsedPayload payload, long nowMs)
    {
        // Both are present and digits (the schema made sure), but may not fit a long: then they are
        // absurdly far in the future / long, and refused as such.
        var timestamp = long.TryParse(payload["timestamp"], NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? t : long.MaxValue;
        var recvWindow = long.TryParse(payload["recvWindow"], NumberStyles.None, CultureInfo.InvariantCulture, out var r) ? r : long.MaxValue;
        var skew = timestamp - nowMs; // both ≥ 0: cannot overflow
        var limit = Invariant($"±{guard.MaxClockSkewMs} ms");
        if (skew < -guard.MaxClockSkewMs)
        {
            return GuardDecision.Deny(ErrorKind.Precondition, "STALE_TIMESTAMP", "freshness", Invariant($"{-skew} ms old"), limit,
                Invariant($"timestamp is {-skew} ms behind the signer's clock (at most {guard.MaxClockSkewMs} ms allowed)"));
        }
        if (skew > guard.MaxClockSkewMs)
        {
            return GuardDecision.Deny(ErrorKind.Precondition, "FUTURE_TIMESTAMP", "freshness", Invariant($"{skew} ms ahead"), limit,
                Invariant($"timestamp is {skew} ms ahead of the signer's clock (at most {guard.MaxClockSkewMs} ms allowed)"));
        }
        if (recvWindow > guard.MaxRecvWindowMs)
        {
            return GuardDecision.Deny(ErrorKind.Precondition, "RECV_WINDOW_TOO_LONG", "freshness", Invariant($"{recvWindow} ms"),
                Invariant($"{guard.MaxRecvWindowMs} ms"), Invariant($"recvWindow {recvWindow} exceeds {guard.MaxRecvWindowMs} ms"));
        }
        return GuardDecision.Allow;
    }

    private static GuardDecision CheckOrder(GuardSettings guard, ParsedPayload payload, out decimal? notional)
    {
        notional = null;
        var symbol = payload["symbol"]!;
        if (!guard.Symbols.TryGetValue(symbol, out var limits))
        {
            return GuardDecision.Deny(ErrorKind.Denied, "SYMBOL_NOT_ALLOWED", "symbols", symbol, string.Join(",", guard.Symbols.Keys),
                $"symbol {symbol} is not on this key's allowlist");
        }
        var type = payload["type"]!;
        if (!guard.OrderTypes.Contains(type))
        {
            return GuardDecision.Deny(ErrorKind.Denied, "ORDER_TYPE_NOT_ALLOWED", "order-types", type, string.Join(",", guard.OrderTypes),
                $"order type {type} is not allowed for this key");
        }
        var gated = Gate(payload, Endpoints.StopParameters, guard.AllowStopOrders, "STOP_ORDER_NOT_ALLOWED", "AllowStopOrders")
            ?? Gate(payload, Endpoints.IcebergParameters, guard.AllowIcebergOrders, "ICEBERG_NOT_ALLOWED", "AllowIcebergOrders")
            ?? Gate(payload, Endpoints.PegParameters, guard.AllowPeggedOrders, "PEGGED_ORDER_NOT_ALLOWED", "AllowPeggedOrders");
        if (gated is { } refused)
        {
            return refused;
        }
        var buy = payload["side"] == "BUY";
        // (Without AllowPeggedOrders the gate above has refused every peg parameter already.)
        if (buy && guard.AllowPeggedOrders && FirstPresent(payload, Endpoints.PegParameters) is { } peg)
        {
            // Binance prices a pegged order from the book when it arrives (MARKET_PEG: the best
            // ask; PRIMARY_PEG: the best bid), whatever 'price' says; whoever quotes the book sets
            // it. Even when pegged orders are allowed, a pegged buy's notional cannot be capped.
            return GuardDecision.Deny(ErrorKind.Denied, "PEGGED_BUY_NOT_ALLOWED", "order-types", $"{type} BUY with {peg}", "pegged sells only",
                "a pegged buy takes its price from the order book, which an attacker can quote: its notional cannot be capped");
        }
        Endpoints.TryDecimal(payload["quantity"], out var quantity);
        Endpoints.TryDecimal(payload["price"], out var price);
        var hasQuantity = payload.Has("quantity");
        var hasQuote = payload.Has("quoteOrderQty");
        var hasTrigger = payload.Has("stopPrice") || payload.Has("trailingDelta");
        var limitPriced = type is "LIMIT" or "LIMIT_MAKER" or "STOP_LOSS_LIMIT" or "TAKE_PROFIT_LIMIT";
        var shape = type switch
        {
            "LIMIT" or "STOP_LOSS_LIMIT" or "TAKE_PROFIT_LIMIT" => payload.Has("timeInForce") && hasQuantity && payload.Has("price") && !hasQuote,
            "LIMIT_MAKER" => hasQuantity && payload.Has("price") && !hasQuote && !payload.Has("timeInForce"),
            "MARKET" => hasQuantity != hasQuote && !payload.Has("price") && !payload.Has("timeInForce"),
            _ => hasQuantity && !hasQuote && !payload.Has("price") && !payload.Has("timeInForce"),
        };
        if (shape && (type.StartsWith("STOP_LOSS", StringComparison.Ordinal) || type.StartsWith("TAKE_PROFIT", StringComparison.Ordinal)))
        {
            shape = hasTrigger;
        }
        if (!shape)
        {
            return GuardDecision.Deny(ErrorKind.InvalidRequest, "ORDER_SHAPE_INVALID", "order-types", type, ShapeText(type),
                $"a {type} order needs {ShapeText(type)}");
        }
        if (!buy)
        {
            // A sell's price can be set anywhere (a LIMIT sell at 0.00000001 is a market dump into
            // the attacker's bid) and its notional then says nothing: only the base quantity bounds
            // what is given away. So every sell is sized by quantity and capped by MaxQuantity.
            if (hasQuote)
            {
                return GuardDecision.Deny(ErrorKind.Denied, "SELL_BY_QUOTE_NOT_ALLOWED", "quantity-per-order", $"{type} SELL by quoteOrderQty",
                    "quantity", $"a sell must be sized by base quantity: quoteOrderQty leaves the amount sold unbounded");
            }
            if (limits.MaxQuantity is null)
            {
                return GuardDecision.Deny(ErrorKind.Denied, "SELL_NEEDS_MAX_QUANTITY", "quantity-per-order", $"{type} SELL",
                    $"Guard:Symbols:{symbol}:MaxQuantity", $"a sell of {symbol} needs a MaxQuantity for {symbol}: its price cannot bound it");
            }
        }
        if (hasQuantity && limits.MaxQuantity is { } maxQuantity && quantity > maxQuantity)
        {
            return GuardDecision.Deny(ErrorKind.Denied, "QUANTITY_CAP", "quantity-per-order", Money(quantity), Money(maxQuantity),
                $"quantity {Money(quantity)} exceeds the {symbol} cap of {Money(maxQuantity)}");
        }
        decimal value;
        if (limitPriced)
        {
            try
            {
                value = checked(price * quantity);
            }
            catch (OverflowException)
            {
                value = decimal.MaxValue;
            }
        }
        else if (hasQuote)
        {
            Endpoints.TryDecimal(payload["quoteOrderQty"], out value);
        }
        else if (buy)
        {
            // A market buy by base quantity has no price bound at all: exactly the pump-and-dump shape.
            return GuardDecision.Deny(ErrorKind.Denied, "MARKET_BUY_NEEDS_QUOTE_ORDER_QTY", "order-types", $"{type} BUY by quantity",
                "quoteOrderQty", $"a {type} buy must be sized by quoteOrderQty so its notional is bounded");
        }
        else
        {
            // The signer does not know the price: the per-order MaxQuantity bounds it, and it adds
            // nothing to the rolling notional (documented in the README ("Guards")).
            value = 0;
        }
        if (value > limits.MaxOrderNotional)
        {
            return GuardDecision.Deny(ErrorKind.Denied, "NOTIONAL_CAP", "notional-per-order", Money(value), Money(limits.MaxOrderNotional),
                $"order notional {Money(value)} exceeds the {symbol} cap of {Money(limits.MaxOrderNotional)}");
        }
        notional = value;
        return GuardDecision.Allow;
    }

    private static GuardDecision? Gate(ParsedPayload payload, string[] parameters, bool allowed, string reason, string setting)
    {
        if (allowed)
        {
            return null;
        }
        return FirstPresent(payload, parameters) is { } name
            ? GuardDecision.Deny(ErrorKind.Denied, reason, "order-types", name, $"Guard:{setting} = false",
                $"'{name}' is refused unless Guard:{setting} is true")
            : null;
    }

    private static string? FirstPresent(ParsedPayload payload, string[] names)
    {
        foreach (var name in names)
        {
            if (payload.Has(name))
            {
                return name;
            }
        }
        return null;
    }

    private static string ShapeText(string type) => type switch
    {
        "LIMIT" => "timeInForce, quantity and price",
        "LIMIT_MAKER" => "quantity and price, no timeInForce",
        "MARKET" => "exactly one of quantity or quoteOrderQty, no price",
        "STOP_LOSS_LIMIT" or "TAKE_PROFIT_LIMIT" => "timeInForce, quantity, price and stopPrice or trailingDelta",
        _ => "quantity and stopPrice or trailingDelta, no price",
    };

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>Money as people write it: invariant culture, no trailing zeros (1.0 → "1").</summary>
    public static string Money(decimal value) => value.ToString("0.############################", CultureInfo.InvariantCulture);
}
