using System.Globalization;
using Microsoft.AspNetCore.Http;
using Uncoded.Simulator.Api;
using Uncoded.Simulator.Scenarios;

namespace Uncoded.Simulator.Auth;

/// <summary>The registered API keys of the loaded scenario.</summary>
internal sealed class KeyRing : IDisposable
{
    private readonly Dictionary<string, ApiKey> _keys;

    public KeyRing(Scenario scenario, long createTime)
    {
        _keys = scenario.ApiKeys.ToDictionary(k => k.ApiKey, k => ApiKey.From(k, createTime), StringComparer.Ordinal);
    }

    public ApiKey? Find(string apiKey) => _keys.GetValueOrDefault(apiKey);

    public void Dispose()
    {
        foreach (var key in _keys.Values)
        {
            key.Dispose();
        }
    }
}

/// <summary>Binance's checks on a SIGNED (or API-key) request, in Binance's order and with its answers.</summary>
internal static class Authenticator
{
    public const long MaxRecvWindowMs = 60000;
    public const long DefaultRecvWindowMs = 5000;

    /// <summary>The key behind X-MBX-APIKEY, allowed from this address and for <paramref name="needed"/>, else -2014/-2015.</summary>
    public static ApiKey Identify(HttpContext context, KeyRing keys, Permission needed)
    {
        var header = context.Request.Headers["X-MBX-APIKEY"];
        if (header.Count != 1 || !ApiKeyFormat.IsValid(header[0]))
        {
            throw BinanceError.ApiKeyFormat();
        }
        var key = keys.Find(header[0]!);
        if (key is null || !key.AllowsIp(context.Connection.RemoteIpAddress) || !key.Permissions.Contains(needed))
        {
            throw BinanceError.RejectedKey();
        }
        return key;
    }

    /// <summary>Signature then timestamp: -1102 when either is missing, -1022 when the signature fails, -1021 when stale or ahead.</summary>
    public static void VerifySigned(ApiKey key, RequestParameters parameters, long serverTimeMs)
    {
        Timestamp(parameters);
        var signature = parameters.Signature;
        if (string.IsNullOrEmpty(signature))
        {
            throw BinanceError.Mandatory("signature");
        }
        // BINANCE.md: the signature is appended last; anywhere else it signs nothing Binance checks.
        if (!parameters.SignatureLast || !key.Verify(parameters.SignedPayload, signature))
        {
            throw BinanceError.Signature();
        }
        CheckTimestamp(parameters, serverTimeMs);
    }

    /// <summary>
    /// Accepts when timestamp &lt; serverTime + 1000 and serverTime − timestamp ≤ recvWindow
    /// (recvWindow default 5000, at most 60000, up to 3 decimals; timestamp in ms, or µs when 16 digits).
    /// </summary>
    public static void CheckTimestamp(RequestParameters parameters, long serverTimeMs)
    {
        var timestamp = Timestamp(parameters);
        var recvWindow = RecvWindow(parameters);
        if (timestamp >= serverTimeMs + 1000)
        {
            throw BinanceError.TimestampAhead();
        }
        if (serverTimeMs - timestamp > recvWindow)
        {
            throw BinanceError.TimestampOutside();
        }
    }

    private static decimal Timestamp(RequestParameters parameters)
    {
        var raw = parameters.Optional("timestamp");
        if (raw is null || raw.Length > 20 || !raw.All(char.IsAsciiDigit) || !long.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            throw BinanceError.Mandatory("timestamp");
        }
        return value >= 1_000_000_000_000_000 ? value / 1000m : value;
    }

    private static decimal RecvWindow(RequestParameters parameters)
    {
        if (parameters.Optional("recvWindow") is not { } raw)
        {
            return DefaultRecvWindowMs;
        }
        var dot = raw.IndexOf('.', StringComparison.Ordinal);
        var valid = raw.Length <= 24 && (dot < 0 ? raw.All(char.IsAsciiDigit) : raw[..dot].All(char.IsAsciiDigit) && raw[(dot + 1)..] is { Length: >= 1 and <= 3 } frac && frac.All(char.IsAsciiDigit));
        if (!valid || !decimal.TryParse(raw, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var window))
        {
            throw BinanceError.Illegal("recvWindow", "^[0-9]{1,20}(\\.[0-9]{1,3})?$");
        }
        return window > MaxRecvWindowMs
            ? throw new BinanceError(-1102, $"'recvWindow' contains unexpected value. Cannot be greater than {MaxRecvWindowMs}.")
            : window;
    }
}
