using System.Net;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Uncoded.Simulator.Auth;
using Uncoded.Simulator.Faults;
using Uncoded.Simulator.Hosting;
using Uncoded.Simulator.Limits;

namespace Uncoded.Simulator.Api;

/// <summary>
/// Every API request goes through here, in Binance's order: route → API key, IP, permission (read
/// from the headers, before any body) → body (at most 64 KiB, else HTTP 413) and parameters →
/// weight (429/418) → injected 503 → refusal of the key or the parameters → signature, timestamp →
/// unread parameters → injected delay → order count → handler → injected fault after execution →
/// JSON answer with the usage headers.
/// </summary>
internal sealed class ApiPipeline(SimulatorHost host, ILogger logger)
{
    private static readonly Dictionary<(string, string), Endpoint> Routes =
        Endpoints.All.ToDictionary(e => (e.Method, e.Path));

    private static readonly HashSet<string> Paths = Endpoints.All.Select(e => e.Path).ToHashSet(StringComparer.Ordinal);

    private static readonly TimeSpan MaxHang = TimeSpan.FromMinutes(10);

    public async Task HandleAsync(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "";
        var method = http.Request.Method;
        var state = host.State;
        var ip = Normalize(http.Connection.RemoteIpAddress);
        if (!Routes.TryGetValue((method, path), out var endpoint))
        {
            SetUsedWeight(http, state.Limiter.Consume(ip, 0));
            http.Response.StatusCode = Paths.Contains(path) ? StatusCodes.Status405MethodNotAllowed : StatusCodes.Status404NotFound;
            return;
        }
        var (key, parameters, early, unreadable) = await ReadRequestAsync(http, endpoint, state).ConfigureAwait(false);
        if (unreadable is { } httpStatus)
        {
            SetUsedWeight(http, state.Limiter.Consume(ip, 0));
            http.Response.StatusCode = httpStatus;
            Log.Answered(logger, method, path, ip.ToString(), httpStatus);
            return;
        }

        var weight = endpoint.CountsWeight ? WeightOf(endpoint, parameters) : 0;
        var decision = state.Limiter.Consume(ip, weight);
        SetUsedWeight(http, decision);
        switch (decision)
        {
            case LimitDecision.Banned banned:
                http.Response.Headers.RetryAfter = banned.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteAsync(http, 418, Error(-1003,
                    $"Way too much request weight used; IP banned until {banned.UntilMs}. Please use WebSocket Streams for live updates to avoid bans.")).ConfigureAwait(false);
                return;
            case LimitDecision.Throttled throttled:
                http.Response.Headers.RetryAfter = throttled.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteAsync(http, 429, Error(-1003,
                    $"Too much request weight used; current limit is {throttled.Limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.")).ConfigureAwait(false);
                return;
        }

        var fault = host.Faults.Take(method, path);
        if (fault is not null)
        {
            Log.FaultInjected(logger, fault.Kind.ToString(), method, path);
        }
        if (fault?.Kind == FaultKind.Unavailable503BeforeExecute)
        {
            await WriteAsync(http, 503, Error(-1008, "Server is currently overloaded with other requests. Please try again in a few minutes.")).ConfigureAwait(false);
            return;
        }

        int status;
        object body;
        try
        {
            if (early is not null)
            {
                throw early;
            }
            var context = Authorize(http, endpoint, key, parameters!, state);
            if (fault?.Kind == FaultKind.SlowResponse)
            {
                // Between the gateway and the engine: a slow request can fall out of its recvWindow here.
                await Task.Delay(fault.DelayMs, http.RequestAborted).ConfigureAwait(false);
            }
            if (endpoint.PlacesOrder)
            {
                var counts = state.Limiter.CountOrder(context.Account);
                if (counts.Exceeded is { } limit)
                {
                    throw new BinanceError(-1015, $"Too many new orders; current limit is {limit}.", 429);
                }
                http.Response.Headers["X-MBX-ORDER-COUNT-10S"] = counts.Count10S.ToString(System.Globalization.CultureInfo.InvariantCulture);
                http.Response.Headers["X-MBX-ORDER-COUNT-1D"] = counts.CountDay.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            body = endpoint.Handle(context);
            status = 200;
        }
        catch (BinanceError e)
        {
            status = e.HttpStatus;
            body = Error(e.Code, e.Message);
            Log.Refused(logger, method, path, ip.ToString(), status, e.Code, e.Message);
        }

        switch (fault?.Kind)
        {
            case FaultKind.Http500AfterExecute:
                (status, body) = (500, Error(-1000, "An unknown error occurred while processing the request."));
                break;
            case FaultKind.Error1006AfterExecute:
                (status, body) = (500, Error(-1006, "An unexpected response was received from the message bus. Execution status unknown."));
                break;
            case FaultKind.Error1007AfterExecute:
                (status, body) = (408, Error(-1007, "Timeout waiting for response from backend server. Send status unknown; execution status unknown."));
                break;
            case FaultKind.TimeoutAfterExecute:
                await HangAsync(http).ConfigureAwait(false);
                return;
        }
        Log.Answered(logger, method, path, ip.ToString(), status);
        await WriteAsync(http, status, body).ConfigureAwait(false);
    }

    /// <summary>
    /// The API key from the headers first (signed endpoints): the body of a request from an unknown
    /// caller is never read. Then the body, bounded, and the parameters. A refusal (-2014/-2015,
    /// -1101) waits until the request's weight is counted. A body that cannot be read is Unreadable:
    /// the HTTP status to answer without a body (413 when over the bound).
    /// </summary>
    private static async Task<(ApiKey? Key, RequestParameters? Parameters, BinanceError? Refusal, int? Unreadable)> ReadRequestAsync(
        HttpContext http, Endpoint endpoint, SimulatorState state)
    {
        ApiKey? key = null;
        BinanceError? refusal = null;
        if (endpoint.Security == Security.Signed)
        {
            try
            {
                key = Authenticator.Identify(http, state.Keys, endpoint.Permission);
            }
            catch (BinanceError e)
            {
                refusal = e;
            }
        }
        var form = "";
        if (refusal is null)
        {
            try
            {
                form = await RequestParameters.ReadBodyAsync(http.Request, http.RequestAborted).ConfigureAwait(false);
            }
            catch (BadHttpRequestException e)
            {
                return (key, null, null, e.StatusCode);
            }
            if (form is null)
            {
                return (key, null, null, StatusCodes.Status413PayloadTooLarge);
            }
        }
        try
        {
            var query = http.Request.QueryString.HasValue ? http.Request.QueryString.Value![1..] : "";
            return (key, RequestParameters.Parse(query, form), refusal, null);
        }
        catch (BinanceError e)
        {
            return (key, null, refusal ?? e, null);
        }
    }

    private EndpointContext Authorize(HttpContext http, Endpoint endpoint, ApiKey? key, RequestParameters parameters, SimulatorState state)
    {
        if (key is not null)
        {
            Authenticator.VerifySigned(key, parameters, host.Clock.UnixMs);
        }
        var read = parameters.Names.Count(endpoint.Parameters.Contains);
        if (read != parameters.Names.Count)
        {
            throw new BinanceError(-1104, $"Not all sent parameters were read; read '{read}' parameter(s) but was sent '{parameters.Names.Count}'.");
        }
        return new EndpointContext(http, parameters, state, host.Clock, key);
    }

    private static int WeightOf(Endpoint endpoint, RequestParameters? parameters)
    {
        if (parameters is null)
        {
            return 1;
        }
        try
        {
            return endpoint.Weight(parameters);
        }
        catch (BinanceError)
        {
            return 1;
        }
    }

    /// <summary>The order was executed; the answer never comes. Ends when the client gives up (or after a bound).</summary>
    private async Task HangAsync(HttpContext http)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, host.Stopping);
        try
        {
            await Task.Delay(MaxHang, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        http.Abort();
    }

    private static IPAddress Normalize(IPAddress? ip) =>
        ip is null ? IPAddress.None : ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;

    /// <summary>BINANCE.md: every response carries the IP's used weight, also those without a body (404, 405, 413), which cost none.</summary>
    private static void SetUsedWeight(HttpContext http, LimitDecision decision) =>
        http.Response.Headers["X-MBX-USED-WEIGHT-1M"] = decision.UsedWeight.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static object Error(int code, string msg) => new { code, msg };

    /// <summary>Binance writes <c>'</c> and <c>&amp;</c> in messages as they are, not as <c>\u0027</c>.</summary>
    private static readonly JsonSerializerOptions Answer = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static async Task WriteAsync(HttpContext http, int status, object body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json;charset=UTF-8";
        await JsonSerializer.SerializeAsync(http.Response.Body, body, body.GetType(), Answer, http.RequestAborted).ConfigureAwait(false);
    }
}
