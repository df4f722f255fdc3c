using Uncoded.Signer.Service;

namespace Uncoded.Signer.Audit;

/// <summary>
/// Group commit: one write and one flush to disk per batch of concurrent callers. While callers
/// come one at a time (the last <see cref="QuietFlushes"/> flushes each had one item and nobody
/// arrived during them), a caller commits its own item on its own thread: no thread hand-off on
/// the lone caller's path (two thread wake-ups, ~50 µs on this VM). Once
/// callers overlap, items go to one dedicated committer thread, which takes everything pending as
/// one batch, completes those callers and takes the next batch at once, so the flushes run back
/// to back and no thread-pool thread blocks in a flush (measured here with 8 callers: pool threads
/// taking turns to flush starved the pool). After the first failure nothing more is committed
/// (the state on disk is unknown, and retrying an fsync after it failed proves nothing): every
/// caller is refused from then on.
/// </summary>
internal sealed class GroupCommit<T> : IDisposable
{
    public const int MaxBatch = 4096;

    /// <summary>
    /// Single-item flushes nobody overlapped, in a row, before callers count as coming one at a
    /// time (with 8 callers here, one such flush in three came amid load; four in a row, almost never).
    /// </summary>
    public const int QuietFlushes = 4;
    private readonly object _gate = new();
    private readonly Action<List<T>, ulong[]> _commit;
    private readonly Action<Exception> _onFailure;
    private readonly string _reason;
    private readonly string _what;
    private readonly List<T> _items = [];
    private readonly Thread _committer;
    private List<(T Item, TaskCompletionSource<ulong> Done)> _pending = [];
    private List<(T Item, TaskCompletionSource<ulong> Done)> _batch = [];
    private SignerException? _failure;
    private Owner _owner;
    private bool _closed;
    private bool _overlapped;
    private int _quietStreak;

    /// <summary>Who commits next: nobody (nothing pending), a lone caller on its own thread, or the committer thread.</summary>
    private enum Owner
    {
        None,
        Caller,
        Committer,
    }

    /// <param name="commit">Writes the batch durably and fills one result per item; throws on failure. Never runs twice at once.</param>
    public GroupCommit(string reason, string what, Action<List<T>, ulong[]> commit, Action<Exception> onFailure)
    {
        _commit = commit;
        _onFailure = onFailure;
        _reason = reason;
        _what = what;
        _committer = new Thread(Run) { IsBackground = true, Name = $"{what} commit" };
        _committer.Start();
    }

    /// <summary>
    /// Nobody is committing or about to. The committer completes its callers before it settles
    /// and lets go, so a caller that just got its answer can still find it busy: tests wait for this.
    /// </summary>
    internal bool Idle
    {
        get
        {
            lock (_gate)
            {
                return _owner == Owner.None;
            }
        }
    }

    /// <summary>Set once a commit failed; from then on every call is refused with it.</summary>
    public SignerException? Failure => Volatile.Read(ref _failure);

    /// <summary>
    /// Completes once <paramref name="item"/> is durable; on the caller's own thread when callers
    /// come one at a time. Continuations never run on the committer thread.
    /// </summary>
    public Task<ulong> EnqueueAsync(T item)
    {
        var done = new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_failure is not null)
            {
                return Task.FromException<ulong>(_failure);
            }
            if (_closed)
            {
                return Task.FromException<ulong>(new SignerException(ErrorKind.Unavailable, "SHUTTING_DOWN", $"the {_what} is closed: the signer is shutting down"));
            }
            _pending.Add((item, done));
            if (_owner != Owner.None)
            {
                _overlapped = true;
                return done.Task;
            }
            if (_quietStreak < QuietFlushes)
            {
                _owner = Owner.Committer;
                Monitor.Pulse(_gate);
                return done.Task;
            }
            _owner = Owner.Caller;
            (_batch, _pending) = (_pending, _batch);
        }
        var size = CommitBatch();
        lock (_gate)
        {
            // Whatever arrived meanwhile goes to the committer: this caller answers now.
            _owner = _pending.Count > 0 ? Owner.Committer : Owner.None;
            Settle(size);
            if (_owner == Owner.Committer || _closed)
            {
                Monitor.Pulse(_gate);
            }
        }
        return done.Task;
    }

    /// <summary>Commits what is still queued, then stops the committer. Later calls are refused.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _closed = true;
            Monitor.Pulse(_gate);
        }
        _committer.Join();
    }

    private void Run()
    {
        while (true)
        {
            lock (_gate)
            {
                while (_owner != Owner.Committer)
                {
                    if (_closed && _owner == Owner.None)
                    {
                        return;
                    }
                    Monitor.Wait(_gate);
                }
                if (_pending.Count == 0)
                {
                    _owner = Owner.None;
                    continue;
                }
                (_batch, _pending) = (_pending, _batch);
            }
            var size = CommitBatch();
            lock (_gate)
            {
                Settle(size);
            }
        }
    }

    /// <summary>After a flush of <paramref name="size"/> items: were callers coming one at a time? Under the lock.</summary>
    private void Settle(int size)
    {
        _quietStreak = size == 1 && !_overlapped ? _quietStreak + 1 : 0;
        _overlapped = false;
    }

    /// <summary>Commits <see cref="_batch"/>; returns how many items it held.</summary>
    private int CommitBatch()
    {
        var size = _batch.Count;
        for (var start = 0; start < _batch.Count; start += MaxBatch)
        {
            var count = Math.Min(MaxBatch, _batch.Count - start);
            _items.Clear();
            for (var i = start; i < start + count; i++)
            {
                _items.Add(_batch[i].Item);
            }
            var results = new ulong[count];
            var failure = Failure;
            if (failure is null)
            {
                try
                {
                    _commit(_items, results);
                }
                catch (Exception e)
                {
                    failure = new SignerException(ErrorKind.Unavailable, _reason,
                        $"the {_what} cannot be written ({e.GetType().Name}: {e.Message}); the signer refuses to sign until it is fixed and restarted", inner: e);
                    lock (_gate)
                    {
                        _failure = failure;
                    }
                    _onFailure(e);
                }
            }
            for (var i = 0; i < count; i++)
            {
                var done = _batch[start + i].Done;
                if (failure is null)
                {
                    done.SetResult(results[i]);
                }
                else
                {
                    done.SetException(failure);
                }
            }
        }
        _batch.Clear();
        return size;
    }
}
