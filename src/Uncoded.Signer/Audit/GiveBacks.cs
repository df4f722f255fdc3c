namespace Uncoded.Signer.Audit;

/// <summary>
/// While reading a log: the allowed orders an <c>unsigned</c> record may still give back. An
/// unsigned record must name one of them with the same key, time and notional, and each is given
/// back at most once. The signer writes the unsigned record right after the failed signature, so
/// only the last <see cref="Remembered"/> orders are kept (bounded memory on any log).
/// </summary>
internal sealed class GiveBacks
{
    public const int Remembered = 100_000;
    private readonly Dictionary<ulong, (string Key, DateTimeOffset Time, decimal Notional)> _open = [];
    private readonly Queue<ulong> _order = new();

    /// <summary>Remembers <paramref name="line"/> if it is an allowed order that counted a notional.</summary>
    public void Remember(AuditLine line)
    {
        if (!line.Allowed || line.Notional is not { } notional)
        {
            return;
        }
        _open[line.Seq] = (line.Key, line.Time, notional);
        _order.Enqueue(line.Seq);
        if (_order.Count > Remembered)
        {
            _open.Remove(_order.Dequeue());
        }
    }

    /// <summary>
    /// Reads one more line: false when it is an unsigned record for an order after
    /// <paramref name="after"/> that it does not give back exactly (orders up to
    /// <paramref name="after"/> were not seen, so their give-backs cannot be matched).
    /// </summary>
    public bool Follow(AuditLine line, ulong after)
    {
        if (line.AllowedTime is not null && line.AllowedSeq > after && !Take(line))
        {
            return false;
        }
        Remember(line);
        return true;
    }

    /// <summary>True when unsigned record <paramref name="line"/> gives back a remembered order exactly; that order is then forgotten.</summary>
    public bool Take(AuditLine line) =>
        _open.Remove(line.AllowedSeq, out var order) && order.Key == line.Key && order.Time == line.AllowedTime && order.Notional == line.Notional;
}
