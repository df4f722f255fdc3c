namespace Uncoded.Signer.Guards;

/// <summary>
/// The wall clock for ageing the rolling window, but never further ahead of the monotonic clock
/// (since the last reading that was not ahead of it) than <see cref="Tolerance"/> plus a slew of
/// <see cref="MaxSlew"/>: a wall clock stepped forward, at once or in small steps, cannot make
/// counted amounts leave the window early. A step back is followed at once (the anchor moves
/// back; amounts then stay longer, the safe side). After a restart the wall clock is trusted again
/// (documented: start the signer after the clock is synchronised). Thread-safe.
/// </summary>
internal sealed class SteadyClock(TimeProvider time)
{
    /// <summary>How far the wall clock may run ahead of the monotonic one in one go (NTP slews far less).</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromSeconds(2);

    /// <summary>How much faster than the monotonic clock the wall clock may run (NTP slews at most 500 ppm).</summary>
    public const double MaxSlew = 0.0005;

    private readonly object _gate = new();
    private long _anchorWallMs = long.MinValue;
    private long _anchorTicks;

    /// <summary><paramref name="wallMs"/>, or less when the wall clock ran ahead of the monotonic clock (then it is holding back).</summary>
    public long Now(long wallMs)
    {
        var ticks = time.GetTimestamp();
        lock (_gate)
        {
            if (_anchorWallMs == long.MinValue)
            {
                Anchor(wallMs, ticks);
                return wallMs;
            }
            var elapsedMs = (long)time.GetElapsedTime(_anchorTicks, ticks).TotalMilliseconds;
            if (wallMs <= _anchorWallMs + elapsedMs)
            {
                // Not ahead of the monotonic clock (or stepped back): follow it, from here.
                Anchor(wallMs, ticks);
                return wallMs;
            }
            // Ahead: allowed only up to the tolerance plus the slew, and the anchor stays, so
            // small steps cannot add up.
            var limit = _anchorWallMs + elapsedMs + (long)(elapsedMs * MaxSlew) + (long)Tolerance.TotalMilliseconds;
            return Math.Min(wallMs, limit);
        }
    }

    private void Anchor(long wallMs, long ticks)
    {
        _anchorWallMs = wallMs;
        _anchorTicks = ticks;
    }
}
