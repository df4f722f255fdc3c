using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Uncoded.Simulator.Market;

namespace Uncoded.Simulator.Api;

/// <summary>
/// The parameters of one request, from the query string and a form body, and the exact bytes a
/// signature covers: the raw query string concatenated (no separator) with the raw body, as sent
/// (still percent-encoded), with the <c>signature</c> parameter taken out.
/// </summary>
internal sealed class RequestParameters
{
    private const string DecimalRange = "^([0-9]{1,20})(\\.[0-9]{1,20})?$";
    private const decimal MaxAmount = 92233720368.54775807m;
    private readonly Dictionary<string, string> _values;

    private RequestParameters(Dictionary<string, string> values, string? signature, byte[] payload)
    {
        _values = values;
        Signature = signature;
        SignedPayload = payload;
    }

    /// <summary>The decoded value of the <c>signature</c> parameter, if sent.</summary>
    public string? Signature { get; }

    public byte[] SignedPayload { get; }

    public IReadOnlyCollection<string> Names => _values.Keys;

    public static async Task<RequestParameters> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var query = request.QueryString.HasValue ? request.QueryString.Value![1..] : "";
        var body = "";
        if (request.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) == true)
        {
            using var reader = new StreamReader(request.Body, Encoding.UTF8);
            body = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        }
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        string? signature = null;
        var payload = new StringBuilder();
        foreach (var raw in new[] { query, body })
        {
            var kept = new List<string>();
            foreach (var segment in raw.Split('&'))
            {
                var eq = segment.IndexOf('=', StringComparison.Ordinal);
                var name = Decode(eq < 0 ? segment : segment[..eq]);
                var value = eq < 0 ? "" : Decode(segment[(eq + 1)..]);
                if (segment.Length == 0)
                {
                    kept.Add(segment);
                    continue;
                }
                if (name == "signature")
                {
                    signature = signature is null ? value : throw Duplicate();
                    continue;
                }
                kept.Add(segment);
                if (!values.TryAdd(name, value))
                {
                    throw Duplicate();
                }
            }
            payload.Append(string.Join('&', kept));
        }
        return new RequestParameters(values, signature, Encoding.UTF8.GetBytes(payload.ToString()));
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

    public decimal? OptionalDecimal(string name)
    {
        if (Optional(name) is not { } value)
        {
            return null;
        }
        var valid = value.Length <= 41 && value.All(c => char.IsAsciiDigit(c) || c == '.') && value.Count(c => c == '.') <= 1
            && value[0] != '.' && value[^1] != '.';
        if (!valid || !decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var d))
        {
            throw BinanceError.Illegal(name, DecimalRange);
        }
        // Binance keeps amounts as 64-bit integers of 1e-8 units.
        var dot = value.IndexOf('.', StringComparison.Ordinal);
        if (dot >= 0 && value[(dot + 1)..].TrimEnd('0').Length > 8)
        {
            throw new BinanceError(-1111, $"Parameter '{name}' has too much precision.");
        }
        return d <= MaxAmount ? d : throw new BinanceError(-1108, $"Parameter '{name}' overflowed.");
    }

    public long? OptionalLong(string name) =>
        Optional(name) is not { } value ? null
        : long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n
        : throw BinanceError.Illegal(name, "^[0-9]{1,20}$");

    public string Symbol()
    {
        var symbol = Required("symbol");
        return symbol.All(c => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c is '-' or '_' or '.') && symbol.Length <= 20
            ? symbol
            : throw BinanceError.Illegal("symbol", "^[A-Z0-9-_.]{1,20}$");
    }

    public Side Side() => EnumWire.ParseSide(Required("side")) ?? throw new BinanceError(-1117, "Invalid side.");
}
