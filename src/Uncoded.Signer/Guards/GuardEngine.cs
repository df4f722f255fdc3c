using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Uncoded.Signer.Audit;
using Uncoded.Signer.Hardening;
using Uncoded.Signer.Service;
using Uncoded.Signer.Transport;

namespace Uncoded.Signer.Guards;

/// <summary>
/// Runs every guard for a Sign call and owns the guards' state: per key a token bucket, one
/// per peer uid, and the rolling 24 h notional, which is persisted (atomic replace + directory
/// fsync, batched across concurrent callers) before any signature it admitted leaves.
/// Admission is atomic per key, so concurrent calls can never sign more than a cap together.
/// </summary>
internal sealed partial class GuardEngine : IDisposable
{
    private readonly FrozenDictionary<string, KeyState> _keys;
    private readonly string _stateDirectory;
    private readonly GroupCommit<KeyState> _persist;
    private readonly FileStream _lock;
    private readonly Func<ulong> _auditSeq;

    private GuardEngine(FrozenDictionary<string, KeyState> keys, string stateDirectory, FileStream lockFile, Func<ulong> auditSeq, ILogger logger)
    {
        _keys = keys;
        _auditSeq = auditSeq;
        _lock = lockFile;
        _stateDirectory = stateDirectory;
        _persist = new GroupCommit<KeyState>("GUARD_STATE_UNAVAILABLE", "guard state", Persist,
            e => Log.GuardStateFailed(logger, e.GetType().Name, e.Message));
    }

    /// <summary>
    /// Loads every key's persisted rolling window; a state file that cannot be read stops start-up
    /// (fail closed), and so does one that saw more audit records than the log now holds (records
    /// were cut off the end of the log). <paramref name="auditSeq"/> gives the log's last seq.
    /// </summary>
    public static GuardEngine Open(SignerSettings settings, TimeProvider time, ILogger logger, Func<ulong> auditSeq)
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
            return Load(settings, time, logger, lockFile, auditSeq);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    private static GuardEngine Load(SignerSettings settings, TimeProvider time, ILogger logger, FileStream lockFile, Func<ulong> auditSeq)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var keys = new Dictionary<string, KeyState>(StringComparer.Ordinal);
        foreach (var key in settings.Keys.Values)
        {
            var path = Path.Combine(settings.StateDirectory, FileName(key.Id));
            RollingWindow window;
            if (File.Exists(path))
            {
                try
                {
                    window = RollingWindow.Deserialize(File.ReadAllBytes(path), key.Id);
                }
                catch (FormatException e)
                {
                    throw new SignerException(ErrorKind.Configuration, "GUARD_STATE_CORRUPT",
                        $"guard state '{path}' cannot be read ({e.Message}); refusing to start with an unknown 24 h total", inner: e);
                }
            }
            else
            {
                window = new RollingWindow();
            }
            if (window.AuditSeq > auditSeq())
            {
                throw new SignerException(ErrorKind.Configuration, "AUDIT_LOG_CORRUPT",
                    $"guard state '{path}' was written after audit seq {window.AuditSeq}, but the audit log ends at seq {auditSeq()}: records were cut off the end of the log");
            }
            Log.GuardStateLoaded(logger, key.Id, window.Total(now).ToString(System.Globalization.CultureInfo.InvariantCulture), path);
            keys[key.Id] = new KeyState(key.Id, path, key.Guard, window, now);
        }
        return new GuardEngine(keys.ToFrozenDictionary(StringComparer.Ordinal), settings.StateDirectory, lockFile, auditSeq, logger);
    }

    /// <summary>
    /// Every guard, in order; on success the signature is admitted: its rate tokens are taken and
    /// its notional is added to the rolling window (in memory). <paramref name="mustPersist"/> says
    /// the state changed and <see cref="PersistAsync"/> must complete before signing.
    /// </summary>
    public GuardDecision Check(string keyId, string method, string path, ReadOnlySpan<byte> payload, PeerCredentials? peer, long nowMs,
        out bool mustPersist)
    {
        mustPersist = false;
        if (_persist.Failure is { } failure)
        {
            // The rolling cap can no longer be made durable: refuse everything, as the log says.
            return GuardDecision.Deny(ErrorKind.Unavailable, failure.Reason, "guard-state", "write failed", "durable state", failure.Message);
        }
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
                var total = state.Window.Total(nowMs);
                if (total + value > state.Guard.MaxDailyNotional)
                {
                    return GuardDecision.Deny(ErrorKind.Exhausted, "ROLLING_CAP", "notional-24h",
                        $"{StaticGuards.Money(total)} + {StaticGuards.Money(value)}", StaticGuards.Money(state.Guard.MaxDailyNotional),
                        $"this order ({StaticGuards.Money(value)}) would take the key's 24 h notional to {StaticGuards.Money(total + value)}, over its cap of {StaticGuards.Money(state.Guard.MaxDailyNotional)}");
                }
                state.Window.Add(nowMs, value);
                mustPersist = true;
            }
            state.Rate.Take();
            peerBucket.Take();
        }
        return GuardDecision.Allow;
    }

    /// <summary>
    /// Completes once the key's state, including every admission made so far, is on disk. Never
    /// blocks the caller: the write runs on a pool thread (or joins one in progress), so the
    /// caller can append its audit record meanwhile.
    /// </summary>
    public Task PersistAsync(string keyId) => _persist.EnqueueAsync(_keys[keyId], commitInline: false);

    private static GuardDecision RateDenied(string rule, int perMinute, string who) =>
        GuardDecision.Deny(ErrorKind.Exhausted, "RATE_LIMITED", rule, "bucket empty", StaticGuards.Invariant($"{perMinute}/min"),
            StaticGuards.Invariant($"{who} has used its {perMinute} signatures per minute"));

    private void Persist(List<KeyState> batch, ulong[] results)
    {
        var auditSeq = _auditSeq();
        foreach (var state in batch.Distinct())
        {
            byte[] content;
            lock (state)
            {
                content = state.Window.Serialize(state.Id, auditSeq);
            }
            Durable.ReplaceFile(state.Path, content);
        }
        Durable.SyncDirectory(_stateDirectory);
    }

    /// <summary>The key id when it is a safe file name, else a hash of it.</summary>
    private static string FileName(string keyId) => SafeName().IsMatch(keyId)
        ? keyId + ".rolling.json"
        : "key-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(keyId)))[..32] + ".rolling.json";

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex SafeName();

    public void Dispose()
    {
        _lock.Dispose();
    }

    private sealed class KeyState(string id, string path, GuardSettings guard, RollingWindow window, long nowMs)
    {
        private readonly Dictionary<uint, TokenBucket> _peers = [];

        public string Id => id;

        public string Path => path;

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
