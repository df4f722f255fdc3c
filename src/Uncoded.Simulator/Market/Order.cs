namespace Uncoded.Simulator.Market;

/// <summary>An order in the book or in the account's history. Mutated only under the exchange lock.</summary>
internal sealed class Order
{
    public required long OrderId { get; init; }

    public required string Symbol { get; init; }

    public required string Account { get; init; }

    public required string ClientOrderId { get; init; }

    public required Side Side { get; init; }

    public required OrderType Type { get; init; }

    public TimeInForce Tif { get; init; } = TimeInForce.Gtc;

    public StpMode Stp { get; init; }

    /// <summary>0 for MARKET orders, as Binance reports it.</summary>
    public decimal Price { get; init; }

    public decimal OrigQty { get; set; }

    public decimal OrigQuoteOrderQty { get; init; }

    public decimal ExecutedQty { get; set; }

    public decimal CumQuote { get; set; }

    public OrderStatus Status { get; set; } = OrderStatus.New;

    public required long Time { get; init; }

    public long UpdateTime { get; set; }

    /// <summary>Arrival sequence, for time priority within a price level.</summary>
    public long Sequence { get; init; }

    /// <summary>What is still locked for this order (quote for a buy, base for a sell).</summary>
    public decimal Reserved { get; set; }

    public decimal Remaining => OrigQty - ExecutedQty;

    public bool IsOpen => Status is OrderStatus.New or OrderStatus.PartiallyFilled;
}

/// <summary>One execution of a taker against a resting order.</summary>
internal sealed record Fill(decimal Price, decimal Qty, string CommissionAsset, long TradeId);

internal sealed record AssetBalanceState
{
    public decimal Free { get; set; }

    public decimal Locked { get; set; }
}

/// <summary>A balance as the control API and tests read it.</summary>
public sealed record AssetBalance(decimal Free, decimal Locked);
