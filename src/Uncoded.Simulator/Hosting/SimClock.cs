namespace Uncoded.Simulator.Hosting;

/// <summary>
/// The exchange's clock: the system clock plus an offset (server clock skew), or frozen at a fixed
/// instant (to replay signed requests with a known timestamp). Every part of the simulator reads
/// time from here, so the control API and tests can move it.
/// </summary>
public sealed class SimClock : TimeProvider
{
    private readonly TimeProvider _inner;
    private readonly Lock _gate = new();
    private TimeSpan _offset;
    private DateTimeOffset? _frozen;

    public SimClock(TimeProvider? inner = null)
    {
        _inner = inner ?? System;
    }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _frozen ?? _inner.GetUtcNow() + _offset;
        }
    }

    public long UnixMs => GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Runs on the system clock shifted by <paramref name="offset"/> (a skewed exchange clock).</summary>
    public void SetOffset(TimeSpan offset)
    {
        lock (_gate)
        {
            _frozen = null;
            _offset = offset;
        }
    }

    /// <summary>Stops the clock at <paramref name="instant"/> until it is advanced or released.</summary>
    public void Freeze(DateTimeOffset instant)
    {
        lock (_gate)
        {
            _frozen = instant;
        }
    }

    /// <summary>Moves the clock forward (or back, with a negative delta), frozen or running.</summary>
    public void Advance(TimeSpan delta)
    {
        lock (_gate)
        {
            if (_frozen is { } frozen)
            {
                _frozen = frozen + delta;
            }
            else
            {
                _offset += delta;
            }
        }
    }
}
