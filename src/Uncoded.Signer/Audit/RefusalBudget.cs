using System.Globalization;
using Uncoded.Signer.Guards;
using Uncoded.Signer.Transport;

namespace Uncoded.Signer.Audit;

/// <summary>
/// Bounds what refusals can cost the audit log. Per peer uid, <c>MaxRefusalsPerMinutePerPeer</c>
/// refusals are recorded in full (a token bucket); past that a refusal is still answered with its
/// own reason, but only counted. The counts go into one <see cref="Reason"/> record per peer,
/// written with that peer's next recorded refusal (a concurrent one may come between), every minute, and at shutdown. A compromised
/// caller flooding the signer with bad requests cannot fill the disk, and the log still says that
/// it happened, when, and why the requests were refused.
/// </summary>
internal sealed class RefusalBudget : IDisposable
{
    public const string Reason = "REFUSALS_NOT_RECORDED";
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMinutes(1);

    private readonly object _gate = new();
    private readonly Dictionary<uint, Peer> _peers = [];
    private readonly int _perMinute;
    private readonly AuditLog _audit;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly ILogger _logger;

    public RefusalBudget(int perMinute, AuditLog audit, TimeProvider time, ILogger logger)
    {
        _perMinute = perMinute;
        _audit = audit;
        _time = time;
        _logger = logger;
        _timer = time.CreateTimer(static self => ((RefusalBudget)self!).Flush(), this, FlushInterval, FlushInterval);
    }

    /// <summary>
    /// Appends <paramref name="refusal"/> (preceded by the peer's pending summary, if any) when
    /// the peer has budget left, and completes with true when that is durable; otherwise only
    /// counts it and completes with false at once.
    /// </summary>
    public async Task<bool> RecordAsync(AuditEntry refusal)
    {
        var nowMs = refusal.Time.ToUnixTimeMilliseconds();
        AuditEntry? summary;
        lock (_gate)
        {
            var uid = refusal.Peer?.Uid ?? uint.MaxValue;
            if (!_peers.TryGetValue(uid, out var peer))
            {
                peer = new Peer(new TokenBucket(_perMinute, nowMs));
                _peers[uid] = peer;
            }
            if (!peer.Bucket.HasToken(nowMs))
            {
                peer.Count(refusal);
                return false;
            }
            peer.Bucket.Take();
            summary = peer.TakeSummary(refusal.Time);
        }
        if (summary is null)
        {
            await _audit.AppendAsync(refusal).ConfigureAwait(false);
            return true;
        }
        // Enqueued in this order, so the summary gets the lower seq; group commit may write both in one flush.
        LogSummary(summary);
        var first = _audit.AppendAsync(summary);
        await Task.WhenAll(first, _audit.AppendAsync(refusal)).ConfigureAwait(false);
        return true;
    }

    private void LogSummary(AuditEntry summary) =>
        Log.RefusalsCounted(_logger, summary.Peer?.Uid ?? 0, summary.Detail!["count"], summary.Detail["reasons"]);

    /// <summary>Appends every pending summary and waits until they are durable.</summary>
    private void Flush()
    {
        List<AuditEntry> summaries = [];
        lock (_gate)
        {
            foreach (var peer in _peers.Values)
            {
                if (peer.TakeSummary(_time.GetUtcNow()) is { } summary)
                {
                    LogSummary(summary);
                    summaries.Add(summary);
                }
            }
        }
        try
        {
            Task.WaitAll(summaries.Select(_audit.AppendAsync).ToArray());
        }
        catch (AggregateException)
        {
            // The audit log has failed: it logged that as critical and refuses every signature from now on.
        }
    }

    /// <summary>Stops the timer (waiting for a flush in progress) and writes what is still pending.</summary>
    public void Dispose()
    {
        _timer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Flush();
    }

    private sealed class Peer(TokenBucket bucket)
    {
        private readonly SortedDictionary<string, long> _reasons = new(StringComparer.Ordinal);
        private long _count;
        private PeerCredentials? _last;
        private DateTimeOffset _first;
        private DateTimeOffset _lastTime;

        public TokenBucket Bucket => bucket;

        public void Count(AuditEntry refusal)
        {
            if (_count == 0)
            {
                _first = refusal.Time;
            }
            _count++;
            _lastTime = refusal.Time;
            _last = refusal.Peer;
            var reason = refusal.Reason ?? "";
            _reasons[reason] = _reasons.GetValueOrDefault(reason) + 1;
        }

        public AuditEntry? TakeSummary(DateTimeOffset now)
        {
            if (_count == 0)
            {
                return null;
            }
            var detail = new Dictionary<string, string>
            {
                ["count"] = _count.ToString(CultureInfo.InvariantCulture),
                ["first"] = _first.UtcDateTime.ToString(AuditEntry.TimeFormat, CultureInfo.InvariantCulture),
                ["last"] = _lastTime.UtcDateTime.ToString(AuditEntry.TimeFormat, CultureInfo.InvariantCulture),
                ["reasons"] = string.Join(",", _reasons.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Key}:{r.Value}"))),
            };
            _count = 0;
            _reasons.Clear();
            return new AuditEntry(now, _last, "", "", "", [], false, Reason, detail);
        }
    }
}
