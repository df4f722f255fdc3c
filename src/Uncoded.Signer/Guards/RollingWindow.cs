using System.Globalization;
using System.Text.Json;

namespace Uncoded.Signer.Guards;

/// <summary>
/// Notional signed in the last 24 hours, in one-minute buckets. An amount leaves the window one
/// to two minutes late, never early: the cap errs on the safe side. Not thread-safe: the owner
/// serialises access (the key's lock).
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

    /// <summary>The audit log's last seq when this state was last written (a lower bound of what the log must hold).</summary>
    public ulong AuditSeq { get; private set; }

    public byte[] Serialize(string keyId, ulong auditSeq)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteNumber("version", 1);
            json.WriteString("key", keyId);
            json.WriteNumber("auditSeq", auditSeq);
            json.WriteStartArray("minutes");
            foreach (var (minute, notional) in _buckets)
            {
                json.WriteStartArray();
                json.WriteNumberValue(minute);
                json.WriteStringValue(notional.ToString(CultureInfo.InvariantCulture));
                json.WriteEndArray();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    /// <summary>Reads a state file written by <see cref="Serialize"/>; throws <see cref="FormatException"/> on anything else.</summary>
    public static RollingWindow Deserialize(ReadOnlySpan<byte> bytes, string keyId)
    {
        var window = new RollingWindow();
        try
        {
            var root = JsonDocument.Parse(bytes.ToArray()).RootElement;
            if (root.GetProperty("version").GetInt32() != 1 || root.GetProperty("key").GetString() != keyId)
            {
                throw new FormatException("unexpected version or key");
            }
            window.AuditSeq = root.GetProperty("auditSeq").GetUInt64();
            foreach (var entry in root.GetProperty("minutes").EnumerateArray())
            {
                var notional = decimal.Parse(entry[1].GetString()!, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
                window._buckets[entry[0].GetInt64()] = notional;
                window._total += notional;
            }
            return window;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or OverflowException or FormatException)
        {
            throw new FormatException(e.GetType().Name, e);
        }
    }
}
