using Uncoded.Signer.Service;

namespace Uncoded.Signer.Audit;

/// <summary>
/// Group commit: callers enqueue work and wait; one writer thread takes everything pending,
/// commits it as one batch (one write, one flush to disk) and releases every caller of that
/// batch. Sequential callers pay one flush each; concurrent callers share flushes.
/// After the first failure nothing more is committed (the state on disk is unknown, and
/// retrying an fsync after it failed proves nothing): every caller is refused from then on.
/// </summary>
internal sealed class GroupCommit<T> : IDisposable
{
    public const int MaxBatch = 4096;
    private readonly object _gate = new();
    private readonly Action<List<T>, ulong[]> _commit;
    private readonly Action<Exception> _onFailure;
    private readonly string _reason;
    private readonly string _what;
    private readonly Thread _writer;
    private List<(T Item, TaskCompletionSource<ulong> Done)> _pending = [];
    private List<(T Item, TaskCompletionSource<ulong> Done)> _batch = [];
    private SignerException? _failure;
    private bool _stopping;

    /// <param name="commit">Writes the batch durably and fills one result per item; throws on failure.</param>
    public GroupCommit(string name, string reason, string what, Action<List<T>, ulong[]> commit, Action<Exception> onFailure)
    {
        _commit = commit;
        _onFailure = onFailure;
        _reason = reason;
        _what = what;
        _writer = new Thread(Loop) { IsBackground = true, Name = name };
        _writer.Start();
    }

    /// <summary>Set once a commit failed; from then on every call is refused with it.</summary>
    public SignerException? Failure => Volatile.Read(ref _failure);

    public Task<ulong> EnqueueAsync(T item)
    {
        var done = new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_failure is not null)
            {
                return Task.FromException<ulong>(_failure);
            }
            if (_stopping)
            {
                return Task.FromException<ulong>(new SignerException(ErrorKind.Unavailable, _reason, $"the {_what} is closed: the signer is stopping"));
            }
            _pending.Add((item, done));
            if (_pending.Count == 1)
            {
                Monitor.Pulse(_gate);
            }
        }
        return done.Task;
    }

    private void Loop()
    {
        var items = new List<T>();
        while (true)
        {
            lock (_gate)
            {
                while (_pending.Count == 0 && !_stopping)
                {
                    Monitor.Wait(_gate);
                }
                if (_pending.Count == 0)
                {
                    return;
                }
                (_batch, _pending) = (_pending, _batch);
            }
            // Very large batches are split so one caller's wait stays bounded.
            for (var start = 0; start < _batch.Count; start += MaxBatch)
            {
                var count = Math.Min(MaxBatch, _batch.Count - start);
                items.Clear();
                for (var i = start; i < start + count; i++)
                {
                    items.Add(_batch[i].Item);
                }
                var results = new ulong[count];
                SignerException? failure = Failure;
                if (failure is null)
                {
                    try
                    {
                        _commit(items, results);
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

    public void Dispose()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.Pulse(_gate);
        }
        _writer.Join();
    }
}
