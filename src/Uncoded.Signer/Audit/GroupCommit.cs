using Uncoded.Signer.Service;

namespace Uncoded.Signer.Audit;

/// <summary>
/// Group commit without a dedicated thread: the caller that finds no commit in progress becomes
/// the leader and commits, on its own thread, everything pending (its own item included) as one
/// batch: one write, one flush to disk. Callers arriving meanwhile queue up and are committed by
/// the next batch, so concurrent callers share flushes, while a lone caller pays exactly one
/// flush and no thread hand-off. After the first failure nothing more is committed (the state on
/// disk is unknown, and retrying an fsync after it failed proves nothing): every caller is
/// refused from then on.
/// </summary>
internal sealed class GroupCommit<T>
{
    public const int MaxBatch = 4096;
    private readonly object _gate = new();
    private readonly Action<List<T>, ulong[]> _commit;
    private readonly Action<Exception> _onFailure;
    private readonly string _reason;
    private readonly string _what;
    private readonly List<T> _items = [];
    private List<(T Item, TaskCompletionSource<ulong> Done)> _pending = [];
    private List<(T Item, TaskCompletionSource<ulong> Done)> _batch = [];
    private SignerException? _failure;
    private bool _leading;

    /// <param name="commit">Writes the batch durably and fills one result per item; throws on failure.</param>
    public GroupCommit(string reason, string what, Action<List<T>, ulong[]> commit, Action<Exception> onFailure)
    {
        _commit = commit;
        _onFailure = onFailure;
        _reason = reason;
        _what = what;
    }

    /// <summary>Set once a commit failed; from then on every call is refused with it.</summary>
    public SignerException? Failure => Volatile.Read(ref _failure);

    /// <summary>
    /// Completes once <paramref name="item"/> is durable. The caller that becomes leader commits
    /// on its own thread; a caller that finds a commit in progress only queues its item: no
    /// thread hop.
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
            _pending.Add((item, done));
            if (_leading)
            {
                return done.Task;
            }
            _leading = true;
        }
        CommitPending();
        // Whatever arrived during our commit is left to a pool thread, so this caller answers now.
        if (!StepDown())
        {
            ThreadPool.UnsafeQueueUserWorkItem(static self => self.Drain(), this, preferLocal: false);
        }
        return done.Task;
    }

    private void Drain()
    {
        do
        {
            CommitPending();
        }
        while (!StepDown());
    }

    /// <summary>Gives up leadership if nothing is pending; false if the leader must commit again.</summary>
    private bool StepDown()
    {
        lock (_gate)
        {
            if (_pending.Count > 0)
            {
                return false;
            }
            _leading = false;
            return true;
        }
    }

    /// <summary>Commits everything pending; only the leader calls this.</summary>
    private void CommitPending()
    {
        lock (_gate)
        {
            (_batch, _pending) = (_pending, _batch);
        }
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
