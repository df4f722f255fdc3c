using Microsoft.AspNetCore.Http;
using Uncoded.Simulator.Auth;
using Uncoded.Simulator.Hosting;

namespace Uncoded.Simulator.Api;

internal enum Security
{
    /// <summary>Public market data.</summary>
    None,

    /// <summary>X-MBX-APIKEY, timestamp and signature.</summary>
    Signed,
}

/// <summary>What a handler sees of a request that passed limits and authentication.</summary>
internal sealed record EndpointContext(HttpContext Http, RequestParameters Parameters, SimulatorState State, SimClock Clock, ApiKey? Key)
{
    public long Now => Clock.UnixMs;

    public string Account => Key?.Account ?? throw new InvalidOperationException("not a signed endpoint");
}

/// <summary>One REST endpoint: its security, permission, weight, accepted parameters and handler.</summary>
internal sealed record Endpoint(
    string Method,
    string Path,
    Security Security,
    Permission Permission,
    Func<RequestParameters, int> Weight,
    IReadOnlySet<string> Parameters,
    Func<EndpointContext, object> Handle,
    bool PlacesOrder = false,
    bool CountsWeight = true);
