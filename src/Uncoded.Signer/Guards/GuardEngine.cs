using System.Collections.Frozen;
using Uncoded.Signer.Audit;
using Uncoded.Signer.Hardening;
using Uncoded.Signer.Service;
using Uncoded.Signer.Transport;

namespace Uncoded.Signer.Guards;

/// <summary>
/// Runs every guard for a Sign call and owns the guards' live state: per key a token bucket, one
/// per peer uid, and the rolling 24 h notional including orders admitted but not yet on disk.
/// Admission is atomic per key, so concurrent calls can never sign more than a cap together. What
/// makes the cap durable is the admitted order's audit record, which carries the notional and is
/// on disk before the signature leaves (see <see cref="CapLedger"/>).
/// </summary>
internal sealed class GuardEngine : IDisposable
{
    private readonly FrozenDictionary<string, KeyState> _keys;
    private readonly CapLedger _ledger;
    private readonly FileStream _lock;
    private readonly SteadyClock _steady;
    private readonly ILogger _logger;
    private int _clockStepLogged;

    private GuardEngine(FrozenDictionary<string, KeyState> keys, CapLedger ledger, FileStream lockFile, TimeProvider time, ILogger logger)
    {
        _keys = keys;
        _ledger = ledger;
        _lock = lockFile;
        _steady = new SteadyClock(time);
        _logger = logger;
    }

    /// <summary>
    /// Locks the state directory and rebuilds every key's rolling window from the checkpoint and
    /// the audit log (fail closed: a checkpoint that cannot be read, or that the log does not
    /// continue, stops start-up).
    /// </summary>
    public static GuardEngine Open(SignerSettings settings, TimeProvider time, ILogger logger, AuditLog audit)
    {
        FileStream lockFile;
        try
        {
            Durable.EnsurePrivateDirectory(settings.StateDirectory);
            lockFile = Durable.Lock(Path.Combine(settings.StateDirectory, ".lock"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SignerException(ErrorKind.Configuration, "GUARD_STATE_UNAVAILABLE",
                $"cannot lock the guard state directory '{settings.StateDirectory}': another signer uses it, or it is not writable ({e.Message})", inner: e);
        }
        try
        {
            var ledger = CapLedger.Open(settings.StateDirectory, audit, time, logger);
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var keys = new Dictionary<string, KeyState>(StringComparer.Ordinal);
            foreach (var key in settings.Keys.Values)
            {
                var window = ledger.Snapshot(key.Id);
                Log.GuardStateLoaded(logger, key.Id, window.CountingAt(now).ToString(System.Globalization.CultureInfo.InvariantCulture), settings.StateDirectory);
                keys[key.Id] = new KeyState(key.Guard, window, now);
            }
            return new GuardEngine(keys.ToFrozenDictionary(StringComparer.Ordinal), ledger, lockFile, time, logger);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Every guard, in order; on success the signature is admitted: its rate tokens are taken and
    /// its notional is added to the rolling window (in memory). <paramref name="counted"/> is that
    /// notional (null for requests the cap does not count): the audit record must carry it;
    /// <paramref name="countedAtMs"/> is the time it was counted at (what <see cref="Release"/> needs).
    /// </summary>
    public GuardDecision Check(string keyId, string method, string path, ReadOnlySpan<byte> payload, PeerCredentials? peer, long nowMs,
        out decimal? counted, out long countedAtMs)
    {
        counted = null;
        countedAtMs = nowMs;
        var state = _keys[keyId];
        var decision = PayloadParser.Parse(payload, out var parsed);
        if (!decision.IsAllowed)
        {
            return decision;
        }
        decision = StaticGuards.Check(state.Guard, method, path, parsed!, nowMs, out var notional);
        if (!decision.IsAllowed)
        {
            return decision;
        }
        lock (state)
        {
            if (!state.Rate.HasToken(nowMs))
            {
                return RateDenied("rate-per-key", state.Rate.PerMinute, "this key");
            }
            var peerBucket = state.PeerBucket(peer?.Uid ?? uint.MaxValue, nowMs);
            if (!peerBucket.HasToken(nowMs))
            {
                return RateDenied("rate-per-peer", peerBucket.PerMinute, $"peer uid {peer?.Uid}");
            }
            if (notional is { } value)
            {
                // Amounts are counted and age by a clock that a forward step of the wall clock cannot push ahead.
                var steadyMs = SteadyNow(nowMs);
                var total = state.Window.Total(steadyMs);
                if (value > state.Guard.MaxDailyNotional - total)
                {
                    return GuardDecision.Deny(ErrorKind.Exhausted, "ROLLING_CAP", "notional-24h",
                        $"{StaticGuards.Money(total)} + {StaticGuards.Money(value)}", StaticGuards.Money(state.Guard.MaxDailyNotional),
                        $"this order ({StaticGuards.Money(value)}) would take the key's 24 h notional to {StaticGuards.Money(total + value)}, over its cap of {StaticGuards.Money(state.Guard.MaxDailyNotional)}");
                }
                state.Window.Add(steadyMs, value);
                counted = value;
                countedAtMs = steadyMs;
            }
            state.Rate.Take();
            peerBucket.Take();
        }
        return GuardDecision.Allow;
    }

    /// <summary>
    /// Gives back the notional <see cref="Check"/> counted for an order whose signature was never
    /// produced, once its <c>unsigned</c> audit record is on disk. Rate tokens stay spent.
    /// </summary>
    public void Release(string keyId, long countedAtMs, decimal notional)
    {
        var state = _keys[keyId];
        lock (state)
        {
            state.Window.Release(countedAtMs, notional);
        }
    }

    private long SteadyNow(long wallMs)
    {
        var steady = _steady.Now(wallMs);
        if (steady < wallMs)
        {
            if (Interlocked.Exchange(ref _clockStepLogged, 1) == 0)
            {
                Log.ClockSteppedForward(_logger, (wallMs - steady) / 1000);
            }
        }
        else if (Volatile.Read(ref _clockStepLogged) != 0)
        {
            Volatile.Write(ref _clockStepLogged, 0);
        }
        return steady;
    }

    private static GuardDecision RateDenied(string rule, int perMinute, string who) =>
        GuardDecision.Deny(ErrorKind.Exhausted, "RATE_LIMITED", rule, "bucket empty", StaticGuards.Invariant($"{perMinute}/min"),
            StaticGuards.Invariant($"{who} has used its {perMinute} signatures per minute"));

    /// <summary>Writes the last checkpoint, then releases the state directory.</summary>
    public void Dispose()
    {
        _ledger.Dispose();
        _lock.Dispose();
    }

    private sealed class KeyState(GuardSettings guard, RollingWindow window, long nowMs)
    {
        private readonly Dictionary<uint, TokenBucket> _peers = [];

        public GuardSettings Guard => guard;

        public RollingWindow Window => window;

        public TokenBucket Rate { get; } = new(guard.SignaturesPerMinute, nowMs);

        public TokenBucket PeerBucket(uint uid, long now)
        {
            if (!_peers.TryGetValue(uid, out var bucket))
            {
                bucket = new TokenBucket(guard.SignaturesPerMinutePerPeer, now);
                _peers[uid] = bucket;
            }
            return bucket;
        }
    }
}
