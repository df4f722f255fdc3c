using Uncoded.Signer.Service;

namespace Uncoded.Signer.Audit;

/// <summary>
/// Group commit on one dedicated thread: callers queue their item and wait; the committer takes
/// everything pending as one batch (one write, one flush to disk), completes those callers, and
/// takes the next batch, so concurrent callers share flushes and the flushes run back to back.
/// No thread-pool thread ever blocks in a flush (measured here: with 8 callers and pool threads
/// taking turns to flush, the pool ran dry and the machine spent its time waking threads; with
/// one committer, ~12k instead of ~9k signatures/s, and no slower for a lone caller). After the
/// first failure nothing more is committed (the state on disk is unknown, and retrying an fsync
/// after it failed proves nothing): every caller is refused from then on.
/// </summary>
internal sealed class GroupCommit<T> : IDisposable
{
    public const int MaxBatch = 4096;
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
    private bool _waiting;
    private bool _closed;

    /// <param name="commit">Writes the batch durably and fills one result per item; throws on failure. Runs on the committer thread only.</param>
    public GroupCommit(string reason, string what, Action<List<T>, ulong[]> commit, Action<Exception> onFailure)
    {
        _commit = commit;
        _onFailure = onFailure;
        _reason = reason;
        _what = what;
        _committer = new Thread(Run) { IsBackground = true, Name = $"{what} commit" };
        _committer.Start();
    }

    /// <summary>Set once a commit failed; from then on every call is refused with it.</summary>
    public SignerException? Failure => Volatile.Read(ref _failure);

    /// <summary>Completes once <paramref name="item"/> is durable (continuations run on the thread pool, never on the committer).</summary>
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
            if (_waiting)
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
                while (_pending.Count == 0)
                {
                    if (_closed)
                    {
                        return;
                    }
                    _waiting = true;
                    Monitor.Wait(_gate);
                    _waiting = false;
                }
                (_batch, _pending) = (_pending, _batch);
            }
            CommitBatch();
        }
    }

    private void CommitBatch()
    {
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
    }
}
