using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Uncoded.Simulator.Market;

namespace Uncoded.Simulator.Api;

/// <summary>
/// The parameters of one request, from the query string and a form body, and the exact bytes a
/// signature covers: the raw query string concatenated (no separator) with the raw body, as sent
/// (still percent-encoded), with the trailing <c>signature</c> parameter taken out.
/// </summary>
internal sealed class RequestParameters
{
    /// <summary>The largest form body read; a larger one is refused with HTTP 413 before it is parsed.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>More parameters than this (query and body together) is -1101; no endpoint takes half as many.</summary>
    public const int MaxParameters = 100;

    /// <summary>Binance keeps amounts as 64-bit integers of 1e-8 units.</summary>
    public const int MaxPrecision = 8;

    private const string DecimalRange = "^([0-9]{1,20})(\\.[0-9]{1,20})?$";
    private const string SymbolRange = "^[\\w\\-._&&[^a-z]]{1,50}$";
    private const decimal MaxAmount = 92233720368.54775807m;
    private readonly Dictionary<string, string> _values;

    private RequestParameters(Dictionary<string, string> values, string? signature, bool signatureLast, byte[] payload)
    {
        _values = values;
        Signature = signature;
        SignatureLast = signatureLast;
        SignedPayload = payload;
    }

    /// <summary>The decoded value of the <c>signature</c> parameter, if sent.</summary>
    public string? Signature { get; }

    /// <summary>
    /// Whether <c>signature</c> is the last parameter of the request: of the body when there is one,
    /// else of the query string. Anywhere else the signature does not verify (-1022).
    /// </summary>
    public bool SignatureLast { get; }

    public byte[] SignedPayload { get; }

    public IReadOnlyCollection<string> Names => _values.Keys;

    /// <summary>The form body as sent, or null when it is larger than <see cref="MaxBodyBytes"/>.</summary>
    public static async Task<string?> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) != true)
        {
            return "";
        }
        if (request.ContentLength > MaxBodyBytes)
        {
            return null;
        }
        var buffer = new byte[MaxBodyBytes + 1];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
        {
            length += read;
        }
        return length > MaxBodyBytes ? null : Encoding.UTF8.GetString(buffer, 0, length);
    }

    /// <summary>
    /// Splits the raw query string and body into parameters. A name twice in the query string, or
    /// twice in the body, is -1101; a name in both takes the query string's value (rest-api.md).
    /// </summary>
    public static RequestParameters Parse(string query, string body)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        string? signature = null;
        var signatureLast = false;
        var count = 0;
        var payload = new StringBuilder();
        var parts = new[] { query, body };
        var lastPart = body.Length > 0 ? 1 : 0;
        for (var part = 0; part < parts.Length; part++)
        {
            var segments = parts[part].Split('&');
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var kept = new List<string>();
            for (var i = 0; i < segments.Length; i++)
            {
                var segment = segments[i];
                if (segment.Length == 0)
                {
                    kept.Add(segment);
                    continue;
                }
                if (++count > MaxParameters)
                {
                    throw new BinanceError(-1101, "Too many parameters sent for this endpoint.");
                }
                var eq = segment.IndexOf('=', StringComparison.Ordinal);
                var name = Decode(eq < 0 ? segment : segment[..eq]);
                var value = eq < 0 ? "" : Decode(segment[(eq + 1)..]);
                if (name == "signature")
                {
                    signature = signature is null ? value : throw Duplicate();
                    signatureLast = part == lastPart && i == segments.Length - 1;
                    continue;
                }
                kept.Add(segment);
                if (!seen.Add(name))
                {
                    throw Duplicate();
                }
                values.TryAdd(name, value);
            }
            payload.Append(string.Join('&', kept));
        }
        return new RequestParameters(values, signature, signatureLast, Encoding.UTF8.GetBytes(payload.ToString()));
    }

    private static BinanceError Duplicate() => new(-1101, "Duplicate values for a parameter detected.");

    private static string Decode(string s) => Uri.UnescapeDataString(s.Replace('+', ' '));

    public bool Has(string name) => _values.ContainsKey(name);

    /// <summary>The value, or null when absent; an empty value is Binance's -1105.</summary>
    public string? Optional(string name) =>
        !_values.TryGetValue(name, out var value) ? null
        : value.Length == 0 ? throw new BinanceError(-1105, $"Parameter '{name}' was empty.")
        : value;

    public string Required(string name) => Optional(name) ?? throw BinanceError.Mandatory(name);

    /// <summary>
    /// A decimal within Binance's pattern <c>^([0-9]{1,20})(\.[0-9]{1,20})?$</c> (else -1100), with at most
    /// <paramref name="precision"/> significant decimals (the asset's precision, at most 8; else -1111),
    /// within the 64-bit fixed-point range (else -1108).
    /// </summary>
    public decimal? OptionalDecimal(string name, int precision = MaxPrecision)
    {
        if (Optional(name) is not { } value)
        {
            return null;
        }
        var dot = value.IndexOf('.', StringComparison.Ordinal);
        var fraction = dot < 0 ? "" : value[(dot + 1)..];
        if (!Digits(dot < 0 ? value : value[..dot]) || (dot >= 0 && !Digits(fraction)))
        {
            throw BinanceError.Illegal(name, DecimalRange);
        }
        if (fraction.TrimEnd('0').Length > Math.Min(precision, MaxPrecision))
        {
            throw new BinanceError(-1111, $"Parameter '{name}' has too much precision.");
        }
        var d = decimal.Parse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
        return d <= MaxAmount ? d : throw new BinanceError(-1108, $"Parameter '{name}' overflowed.");
    }

    private static bool Digits(string s) => s.Length is >= 1 and <= 20 && s.All(char.IsAsciiDigit);

    public long? OptionalLong(string name) =>
        Optional(name) is not { } value ? null
        : long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n
        : throw BinanceError.Illegal(name, "^[0-9]{1,20}$");

    public string Symbol()
    {
        var symbol = Required("symbol");
        return IsSymbolName(symbol) ? symbol : throw BinanceError.Illegal("symbol", SymbolRange);
    }

    /// <summary>Binance's symbol pattern <c>[\w\-._&amp;&amp;[^a-z]]{1,50}</c>: upper-case letters, digits, '-', '_', '.'.</summary>
    public static bool IsSymbolName(string name) =>
        name.Length is >= 1 and <= 50 && name.All(c => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c is '-' or '_' or '.');

    public Side Side() => EnumWire.ParseSide(Required("side")) ?? throw new BinanceError(-1117, "Invalid side.");
}
