using System.Globalization;
using System.Text.Json;

namespace Uncoded.Signer.Guards;

/// <summary>
/// Notional signed in the last 24 hours, in one-minute buckets: an amount added during minute m
/// counts until the clock reaches minute m + 1441, i.e. it leaves the window 24 h to 24 h + 1 min
/// after it was signed, never early (the cap errs on the safe side). Only <see cref="Total"/>
/// and <see cref="Prune"/> drop buckets, with a time their callers take from a
/// <see cref="SteadyClock"/> (a wall clock stepped forward cannot push it); <see cref="Add"/>
/// drops nothing. Not thread-safe: the owner serialises access.
/// </summary>
internal sealed class RollingWindow
{
    public const long WindowMinutes = 24 * 60;
    private readonly SortedDictionary<long, decimal> _buckets = [];
    private decimal _total;

    /// <summary>What counts at <paramref name="nowMs"/>; buckets that left the window by then are dropped.</summary>
    public decimal Total(long nowMs)
    {
        PruneBefore(nowMs / 60_000 - WindowMinutes);
        return _total;
    }

    /// <summary>What counts at <paramref name="nowMs"/>, dropping nothing (for a clock not yet trusted).</summary>
    public decimal CountingAt(long nowMs)
    {
        var from = nowMs / 60_000 - WindowMinutes;
        var total = 0m;
        foreach (var (minute, notional) in _buckets)
        {
            if (minute >= from)
            {
                total += notional;
            }
        }
        return total;
    }

    /// <summary>Adds <paramref name="notional"/> to the minute of <paramref name="atMs"/>.</summary>
    public void Add(long atMs, decimal notional)
    {
        var minute = atMs / 60_000;
        _buckets[minute] = _buckets.GetValueOrDefault(minute) + notional;
        _total += notional;
    }

    /// <summary>Drops what left the window by <paramref name="nowMs"/> (a steady time: see <see cref="SteadyClock"/>).</summary>
    public void Prune(long nowMs) => PruneBefore(nowMs / 60_000 - WindowMinutes);

    /// <summary>
    /// Takes back <paramref name="notional"/> added at <paramref name="addedMs"/> (an order that was
    /// never signed): from that minute's bucket, never more than it holds, nothing once it left the window.
    /// </summary>
    public void Release(long addedMs, decimal notional)
    {
        var minute = addedMs / 60_000;
        if (notional <= 0 || !_buckets.TryGetValue(minute, out var bucket))
        {
            return;
        }
        var taken = Math.Min(bucket, notional);
        if (taken == bucket)
        {
            _buckets.Remove(minute);
        }
        else
        {
            _buckets[minute] = bucket - taken;
        }
        _total -= taken;
    }

    public RollingWindow Clone()
    {
        var copy = new RollingWindow { _total = _total };
        foreach (var (minute, notional) in _buckets)
        {
            copy._buckets[minute] = notional;
        }
        return copy;
    }

    /// <summary>Drops the buckets before <paramref name="firstKept"/>.</summary>
    private void PruneBefore(long firstKept)
    {
        while (_buckets.Count > 0)
        {
            var oldest = _buckets.First();
            if (oldest.Key >= firstKept)
            {
                return;
            }
            _buckets.Remove(oldest.Key);
            _total -= oldest.Value;
        }
    }

    /// <summary>As a JSON array of <c>[minute since the epoch, "notional"]</c> pairs.</summary>
    public void WriteTo(Utf8JsonWriter json)
    {
        json.WriteStartArray();
        foreach (var (minute, notional) in _buckets)
        {
            json.WriteStartArray();
            json.WriteNumberValue(minute);
            json.WriteStringValue(notional.ToString(CultureInfo.InvariantCulture));
            json.WriteEndArray();
        }
        json.WriteEndArray();
    }

    /// <summary>Reads what <see cref="WriteTo"/> wrote; throws <see cref="FormatException"/> (or a JSON access exception) on anything else.</summary>
    public static RollingWindow ReadFrom(JsonElement minutes)
    {
        var window = new RollingWindow();
        foreach (var entry in minutes.EnumerateArray())
        {
            if (entry.GetArrayLength() != 2)
            {
                throw new FormatException("a bucket is not [minute, notional]");
            }
            var notional = decimal.Parse(entry[1].GetString() ?? throw new FormatException("a notional is not a string"),
                NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
            var minute = entry[0].GetInt64();
            if (!window._buckets.TryAdd(minute, notional))
            {
                throw new FormatException("a minute appears twice");
            }
            window._total += notional;
        }
        return window;
    }
}
