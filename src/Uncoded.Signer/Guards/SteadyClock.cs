namespace Uncoded.Signer.Guards;

/// <summary>
/// The wall clock for ageing the rolling window, but never ahead of the monotonic clock since
/// the last reading that agreed with it: a wall clock stepped forward (a bad NTP server, a VM
/// resumed with a wrong clock) cannot make counted amounts leave the window early. A step back
/// is followed at once (amounts then stay longer, the safe side). After a restart the wall clock
/// is trusted again (documented: start the signer after the clock is synchronised).
/// </summary>
internal sealed class SteadyClock(TimeProvider time)
{
    /// <summary>How far the wall clock may run ahead of the monotonic one before it counts as a step (NTP slews far less).</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromSeconds(2);

    private readonly object _gate = new();
    private long _anchorWallMs = long.MinValue;
    private long _anchorTicks;

    /// <summary>True after the last <see cref="Now"/> found the wall clock ahead of the monotonic one.</summary>
    public bool Holding { get; private set; }

    /// <summary><paramref name="wallMs"/>, or less when the wall clock ran ahead of the monotonic clock.</summary>
    public long Now(long wallMs)
    {
        var ticks = time.GetTimestamp();
        lock (_gate)
        {
            if (_anchorWallMs != long.MinValue)
            {
                var predicted = _anchorWallMs + (long)time.GetElapsedTime(_anchorTicks, ticks).TotalMilliseconds;
                if (wallMs > predicted + (long)Tolerance.TotalMilliseconds)
                {
                    Holding = true;
                    return predicted;
                }
            }
            _anchorWallMs = wallMs;
            _anchorTicks = ticks;
            Holding = false;
            return wallMs;
        }
    }
}
