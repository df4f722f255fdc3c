using System.Globalization;
using System.Text.Json;

namespace Uncoded.Signer.Guards;

/// <summary>
/// Notional signed in the last 24 hours, in one-minute buckets. An amount leaves the window one
/// to two minutes late, never early: the cap errs on the safe side. Not thread-safe: the owner
/// serialises access.
/// </summary>
internal sealed class RollingWindow
{
    public const long WindowMinutes = 24 * 60;
    private readonly SortedDictionary<long, decimal> _buckets = [];
    private decimal _total;

    public decimal Total(long nowMs)
    {
        Prune(nowMs / 60_000);
        return _total;
    }

    public void Add(long nowMs, decimal notional)
    {
        var minute = nowMs / 60_000;
        Prune(minute);
        _buckets[minute] = _buckets.GetValueOrDefault(minute) + notional;
        _total += notional;
    }

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

    private void Prune(long minute)
    {
        while (_buckets.Count > 0)
        {
            var oldest = _buckets.First();
            if (oldest.Key > minute - WindowMinutes)
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
            if (!window._buckets.TryAdd(entry[0].GetInt64(), notional))
            {
                throw new FormatException("a minute appears twice");
            }
            window._total += notional;
        }
        return window;
    }
}
