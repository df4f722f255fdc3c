using Uncoded.Signer.Audit;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Tests.Unit;

/// <summary>The audit log's group commit: one committer thread, shared flushes, fail closed, nothing lost at shutdown.</summary>
public sealed class GroupCommitTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task CallersArrivingDuringACommit_ShareTheNextOne_InArrivalOrder()
    {
        using var gate = new SemaphoreSlim(0);
        using var entered = new SemaphoreSlim(0);
        var batches = new List<int[]>();
        var threads = new HashSet<int>();
        ulong next = 0;
        using var commit = new GroupCommit<int>("TEST", "test log", (items, results) =>
        {
            entered.Release();
            gate.Wait(Timeout);
            lock (batches)
            {
                batches.Add([.. items]);
                threads.Add(Environment.CurrentManagedThreadId);
            }
            for (var i = 0; i < items.Count; i++)
            {
                results[i] = ++next;
            }
        }, _ => { });

        var first = commit.EnqueueAsync(0);
        Assert.True(await entered.WaitAsync(Timeout));
        var queued = Enumerable.Range(1, 50).Select(i => commit.EnqueueAsync(i)).ToArray();
        gate.Release(2);

        Assert.Equal(1UL, await first.WaitAsync(Timeout));
        var seqs = await Task.WhenAll(queued).WaitAsync(Timeout);
        Assert.Equal(Enumerable.Range(2, 50).Select(i => (ulong)i), seqs);
        Assert.Equal([[0], [.. Enumerable.Range(1, 50)]], batches);
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, threads);
        Assert.Single(threads);
    }

    [Fact]
    public async Task LoneCallers_CommitOnTheirOwnThread_UntilCallersOverlap()
    {
        using var unblocked = new ManualResetEventSlim(true);
        using var blocked = new ManualResetEventSlim(false);
        var threads = new List<string?>();
        using var commit = new GroupCommit<int>("TEST", "test log", (items, results) =>
        {
            lock (threads)
            {
                threads.Add(Thread.CurrentThread.Name);
            }
            if (!unblocked.IsSet)
            {
                blocked.Set();
                unblocked.Wait(Timeout);
            }
        }, _ => { });
        const string Committer = "test log commit";

        // Until QuietFlushes single-item flushes in a row, the committer flushes. Each caller comes
        // once the committer has let go (a caller that finds it still settling counts as overlapping).
        for (var i = 0; i < GroupCommit<int>.QuietFlushes; i++)
        {
            await commit.EnqueueAsync(i).WaitAsync(Timeout);
            Assert.True(SpinWait.SpinUntil(() => commit.Idle, Timeout));
        }
        Assert.All(threads, name => Assert.Equal(Committer, name));

        // Then a lone caller flushes on its own thread: durable when the call returns.
        var lone = commit.EnqueueAsync(100);
        Assert.True(lone.IsCompletedSuccessfully);
        Assert.NotEqual(Committer, threads[^1]);

        // A caller arriving during that caller's flush goes to the committer, and so does the next one.
        unblocked.Reset();
        var slow = Task.Run(() => commit.EnqueueAsync(200));
        Assert.True(blocked.Wait(Timeout));
        var during = commit.EnqueueAsync(201);
        Assert.False(during.IsCompleted);
        unblocked.Set();
        await slow.WaitAsync(Timeout);
        await during.WaitAsync(Timeout);
        await commit.EnqueueAsync(202).WaitAsync(Timeout);
        Assert.Equal([Committer, Committer], threads[^2..]);
        Assert.Equal(GroupCommit<int>.QuietFlushes + 4, threads.Count);
    }

    [Fact]
    public async Task AfterTheFirstFailedCommit_EveryCallIsRefused_AndNothingMoreIsWritten()
    {
        var calls = 0;
        var reported = new List<Exception>();
        using var commit = new GroupCommit<int>("TEST_UNAVAILABLE", "test log", (items, results) =>
        {
            calls++;
            throw new IOException("disk full");
        }, reported.Add);

        var e = await Assert.ThrowsAsync<SignerException>(() => commit.EnqueueAsync(1).WaitAsync(Timeout));
        Assert.Equal("TEST_UNAVAILABLE", e.Reason);
        Assert.Equal(ErrorKind.Unavailable, e.Kind);
        Assert.Contains("disk full", e.Message, StringComparison.Ordinal);
        var again = await Assert.ThrowsAsync<SignerException>(() => commit.EnqueueAsync(2).WaitAsync(Timeout));
        Assert.Same(e, again);
        Assert.Equal(1, calls);
        Assert.Single(reported);
        Assert.Same(e, commit.Failure);
    }

    [Fact]
    public async Task Dispose_CommitsWhatIsQueued_ThenRefusesNewCalls()
    {
        using var gate = new SemaphoreSlim(0);
        using var entered = new SemaphoreSlim(0);
        var written = new List<int>();
        var commit = new GroupCommit<int>("TEST", "test log", (items, results) =>
        {
            entered.Release();
            gate.Wait(Timeout);
            written.AddRange(items);
        }, _ => { });
        var first = commit.EnqueueAsync(1);
        Assert.True(await entered.WaitAsync(Timeout));
        var second = commit.EnqueueAsync(2);

        var disposing = Task.Run(commit.Dispose);
        gate.Release(2);
        await disposing.WaitAsync(Timeout);

        Assert.True(first.IsCompletedSuccessfully);
        Assert.True(second.IsCompletedSuccessfully);
        Assert.Equal([1, 2], written);
        var e = await Assert.ThrowsAsync<SignerException>(() => commit.EnqueueAsync(3));
        Assert.Equal("SHUTTING_DOWN", e.Reason);
        Assert.Equal([1, 2], written);
    }
}
