namespace Uncoded.Signer.Guards;

/// <summary>
/// Signatures per minute as a token bucket: holds at most one minute's worth, refills
/// continuously. Not thread-safe: the owner serialises access (the key's lock).
/// </summary>
internal sealed class TokenBucket(int perMinute, long nowMs)
{
    private double _tokens = perMinute;
    private long _lastMs = nowMs;

    public int PerMinute => perMinute;

    public bool HasToken(long nowMs)
    {
        if (nowMs > _lastMs)
        {
            _tokens = Math.Min(perMinute, _tokens + (nowMs - _lastMs) * (perMinute / 60_000.0));
            _lastMs = nowMs;
        }
        return _tokens >= 1;
    }

    public void Take() => _tokens -= 1;
}
