using System.Net;
using Uncoded.Simulator.Scenarios;

namespace Uncoded.Simulator.Limits;

/// <summary>The answer to "may this IP spend this much weight now?".</summary>
internal abstract record LimitDecision(int UsedWeight)
{
    public sealed record Allowed(int UsedWeight) : LimitDecision(UsedWeight);

    /// <summary>429: over the per-minute weight; Retry-After is the rest of the window.</summary>
    public sealed record Throttled(int UsedWeight, int RetryAfterSeconds, int Limit) : LimitDecision(UsedWeight);

    /// <summary>418: kept sending after 429s; banned until <paramref name="UntilMs"/>.</summary>
    public sealed record Banned(int UsedWeight, long UntilMs, int RetryAfterSeconds) : LimitDecision(UsedWeight);
}

/// <summary>
/// Binance's REQUEST_WEIGHT limit per IP (1-minute windows) with the 429 → 418 escalation, and the
/// ORDERS limits per account (10 s and 1 day). Windows are aligned to the exchange clock.
/// </summary>
internal sealed class RateLimiter(RateLimitSpec spec, TimeProvider clock)
{
    private sealed class IpState
    {
        public long Window = -1;
        public int Used;
        public int Strikes;
        public long BannedUntilMs;
    }

    private sealed class OrderState
    {
        public long Window10S = -1;
        public int Count10S;
        public long WindowDay = -1;
        public int CountDay;
    }

    private readonly Lock _gate = new();
    private readonly Dictionary<IPAddress, IpState> _ips = [];
    private readonly Dictionary<string, OrderState> _orders = new(StringComparer.Ordinal);

    public RateLimitSpec Spec => spec;

    private long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();

    public LimitDecision Consume(IPAddress ip, int weight)
    {
        var now = Now;
        lock (_gate)
        {
            var state = Ip(ip, now);
            if (state.BannedUntilMs > now)
            {
                return new LimitDecision.Banned(state.Used, state.BannedUntilMs, Seconds(state.BannedUntilMs - now));
            }
            if (state.Used + weight > spec.RequestWeightPerMinute)
            {
                state.Strikes++;
                if (state.Strikes > spec.RejectionsBeforeBan)
                {
                    state.BannedUntilMs = now + (spec.BanSeconds * 1000L);
                    return new LimitDecision.Banned(state.Used, state.BannedUntilMs, spec.BanSeconds);
                }
                return new LimitDecision.Throttled(state.Used, Seconds(((state.Window + 1) * 60_000) - now), spec.RequestWeightPerMinute);
            }
            state.Used += weight;
            return new LimitDecision.Allowed(state.Used);
        }
    }

    /// <summary>Counts a new order for <paramref name="account"/>; Exceeded names the limit that refuses it.</summary>
    public (int Count10S, int CountDay, string? Exceeded) CountOrder(string account)
    {
        var now = Now;
        lock (_gate)
        {
            var state = OrderCounts(account, now);
            var exceeded = state.Count10S >= spec.OrdersPer10Seconds ? $"{spec.OrdersPer10Seconds} orders per 10 SECOND"
                : state.CountDay >= spec.OrdersPerDay ? $"{spec.OrdersPerDay} orders per 1 DAY"
                : null;
            if (exceeded is null)
            {
                state.Count10S++;
                state.CountDay++;
            }
            return (state.Count10S, state.CountDay, exceeded);
        }
    }

    private IpState Ip(IPAddress ip, long now)
    {
        if (!_ips.TryGetValue(ip, out var state))
        {
            _ips[ip] = state = new IpState();
        }
        var window = now / 60_000;
        if (state.Window != window)
        {
            state.Window = window;
            state.Used = 0;
            if (state.BannedUntilMs <= now)
            {
                state.Strikes = 0;
            }
        }
        return state;
    }

    private OrderState OrderCounts(string account, long now)
    {
        if (!_orders.TryGetValue(account, out var state))
        {
            _orders[account] = state = new OrderState();
        }
        if (state.Window10S != now / 10_000)
        {
            state.Window10S = now / 10_000;
            state.Count10S = 0;
        }
        if (state.WindowDay != now / 86_400_000)
        {
            state.WindowDay = now / 86_400_000;
            state.CountDay = 0;
        }
        return state;
    }

    private static int Seconds(long ms) => (int)Math.Max(1, (ms + 999) / 1000);
}
