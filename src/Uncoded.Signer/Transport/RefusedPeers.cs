using System.Collections.Concurrent;

namespace Uncoded.Signer.Transport;

/// <summary>
/// Logs refused connections without letting a refused process fill the disk: per uid, the first
/// <see cref="PerMinute"/> of each minute one by one, then one line when the count is over, and
/// the minute's total when that uid's next minute starts.
/// </summary>
internal static class RefusedPeers
{
    public const int PerMinute = 10;
    private static readonly ConcurrentDictionary<uint, Counter> ByUid = new();

    private sealed class Counter
    {
        public long Minute;
        public int Count;
    }

    public static void Log(ILogger logger, PeerCredentials peer, TimeProvider time)
    {
        var minute = time.GetUtcNow().ToUnixTimeSeconds() / 60;
        var counter = ByUid.GetOrAdd(peer.Uid, _ => new Counter { Minute = minute });
        int count;
        int previous = 0;
        lock (counter)
        {
            if (counter.Minute != minute)
            {
                previous = counter.Count;
                counter.Minute = minute;
                counter.Count = 0;
            }
            count = ++counter.Count;
        }
        if (previous > PerMinute)
        {
            Uncoded.Signer.Log.PeerRefusalsCounted(logger, peer.Uid, previous);
        }
        if (count <= PerMinute)
        {
            Uncoded.Signer.Log.PeerRefused(logger, peer.Pid, peer.Uid, peer.Gid);
        }
        else if (count == PerMinute + 1)
        {
            Uncoded.Signer.Log.PeerRefusalsSilenced(logger, peer.Uid, PerMinute);
        }
    }
}
