namespace Uncoded.Simulator.Market;

/// <summary>One symbol's resting orders, each side kept in price-time priority.</summary>
internal sealed class OrderBook
{
    private static readonly Comparer<Order> BidOrder = Comparer<Order>.Create((a, b) =>
        a.Price != b.Price ? b.Price.CompareTo(a.Price) : a.Sequence.CompareTo(b.Sequence));

    private static readonly Comparer<Order> AskOrder = Comparer<Order>.Create((a, b) =>
        a.Price != b.Price ? a.Price.CompareTo(b.Price) : a.Sequence.CompareTo(b.Sequence));

    private readonly List<Order> _bids = [];
    private readonly List<Order> _asks = [];

    public long LastUpdateId { get; private set; } = 1;

    public IReadOnlyList<Order> Bids => _bids;

    public IReadOnlyList<Order> Asks => _asks;

    /// <summary>The side a taker on <paramref name="takerSide"/> trades against.</summary>
    public IReadOnlyList<Order> Opposite(Side takerSide) => takerSide == Side.Buy ? _asks : _bids;

    public void Add(Order order)
    {
        var (list, comparer) = order.Side == Side.Buy ? (_bids, BidOrder) : (_asks, AskOrder);
        var index = list.BinarySearch(order, comparer);
        list.Insert(index < 0 ? ~index : index, order);
        LastUpdateId++;
    }

    public void Remove(Order order)
    {
        (order.Side == Side.Buy ? _bids : _asks).Remove(order);
        LastUpdateId++;
    }

    public void Touch() => LastUpdateId++;

    /// <summary>Aggregated [price, quantity] levels, best first.</summary>
    public static IEnumerable<(decimal Price, decimal Qty)> Levels(IEnumerable<Order> side, int limit) =>
        side.GroupBy(o => o.Price).Select(g => (g.Key, g.Sum(o => o.Remaining))).Take(limit);
}
