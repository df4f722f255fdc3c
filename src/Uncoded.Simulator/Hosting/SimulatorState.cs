using Uncoded.Simulator.Auth;
using Uncoded.Simulator.Limits;
using Uncoded.Simulator.Market;
using Uncoded.Simulator.Scenarios;

namespace Uncoded.Simulator.Hosting;

/// <summary>Everything a scenario seeds, replaced as one unit when a scenario is (re)loaded.</summary>
internal sealed class SimulatorState : IDisposable
{
    public SimulatorState(Scenario scenario, SimClock clock)
    {
        Scenario = scenario;
        Exchange = new Exchange(scenario, clock);
        Keys = new KeyRing(scenario, clock.UnixMs);
        Limiter = new RateLimiter(scenario.RateLimits, clock);
    }

    public Scenario Scenario { get; }

    public Exchange Exchange { get; }

    public KeyRing Keys { get; }

    public RateLimiter Limiter { get; }

    public void Dispose() => Keys.Dispose();
}
