using System.Text;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Guards;

/// <summary>A payload the strict parser accepted: decoded parameters, in order, names unique.</summary>
internal sealed class ParsedPayload
{
    private readonly Dictionary<string, string> _byName;

    public ParsedPayload(List<KeyValuePair<string, string>> parameters)
    {
        Parameters = parameters;
        _byName = new Dictionary<string, string>(parameters.Count, StringComparer.Ordinal);
        foreach (var (name, value) in parameters)
        {
            _byName[name] = value;
        }
    }

    public IReadOnlyList<KeyValuePair<string, string>> Parameters { get; }

    public bool Has(string name) => _byName.ContainsKey(name);

    public string? this[string name] => _byName.GetValueOrDefault(name);
}

/// <summary>
/// The strict <c>k=v&amp;k=v</c> parser. It accepts only what a correct client builds (BINANCE.md:
/// each value <c>Uri.EscapeDataString</c>-encoded), so the signer and Binance can never read the
/// same bytes differently: no duplicates (in any letter case), no empty names or values, no bad or
/// lower-case <c>%</c> escapes, no <c>+</c> for space, no control characters, no <c>signature</c>.
/// </summary>
internal static class PayloadParser
{
    public const int MaxBytes = 4096;
    private const string Rule = "payload";
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static GuardDecision Parse(ReadOnlySpan<byte> payload, out ParsedPayload? parsed)
    {
        parsed = null;
        var size = CheckSize(payload);
        if (!size.IsAllowed)
        {
            return size;
        }
        var parameters = new List<KeyValuePair<string, string>>(16);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var index = 0;
        foreach (var range in payload.Split((byte)'&'))
        {
            index++;
            var segment = payload[range];
            var equals = segment.IndexOf((byte)'=');
            if (segment.IsEmpty || equals < 0)
            {
                return Deny("MALFORMED_PAYLOAD", $"parameter #{index}", "k=v", $"parameter #{index} is not of the form name=value");
            }
            if (equals == 0)
            {
                return Deny("EMPTY_PARAMETER_NAME", $"parameter #{index}", "non-empty name", $"parameter #{index} has an empty name");
            }
            var decision = Decode(segment[..equals], index, out var name);
            if (!decision.IsAllowed)
            {
                return decision;
            }
            decision = Decode(segment[(equals + 1)..], index, out var value);
            if (!decision.IsAllowed)
            {
                return decision;
            }
            if (value.Length == 0)
            {
                return Deny("EMPTY_PARAMETER_VALUE", name, "non-empty value", $"parameter '{GuardDecision.Clip(name)}' has an empty value");
            }
            if (name.Equals("signature", StringComparison.OrdinalIgnoreCase))
            {
                return Deny("SIGNATURE_PARAMETER", name, "no signature parameter", "the payload already carries a signature parameter");
            }
            if (!seen.Add(name))
            {
                return Deny("DUPLICATE_PARAMETER", name, "each name once", $"parameter '{GuardDecision.Clip(name)}' appears more than once");
            }
            // Binance signs query + body joined without a separator and takes the query's value
            // when a name is in both: '…&price=1&newClientOrderId=xprice' sent as query
            // '…&newClientOrderId=x' + body 'price…' is the same signature for another request.
            for (var i = 0; i <= parameters.Count; i++)
            {
                var earlier = i < parameters.Count ? parameters[i].Key : name;
                if (value.EndsWith(earlier, StringComparison.Ordinal))
                {
                    return Deny("AMBIGUOUS_VALUE", name, "no value ending in the name of this or an earlier parameter",
                        $"the value of '{GuardDecision.Clip(name)}' ends with '{GuardDecision.Clip(earlier)}', the name of this or an earlier parameter: split between query string and body, the same signature would be another request");
                }
            }
            parameters.Add(new(name, value));
        }
        parsed = new ParsedPayload(parameters);
        return GuardDecision.Allow;
    }

    public static GuardDecision CheckSize(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxBytes)
        {
            return Deny("PAYLOAD_TOO_LARGE", $"{payload.Length} bytes", $"{MaxBytes} bytes", $"payload exceeds {MaxBytes} bytes");
        }
        return payload.IsEmpty ? Deny("EMPTY_PAYLOAD", "0 bytes", "k=v&k=v", "payload is empty") : GuardDecision.Allow;
    }

    private static GuardDecision Decode(ReadOnlySpan<byte> raw, int index, out string decoded)
    {
        decoded = "";
        Span<byte> bytes = stackalloc byte[raw.Length];
        var length = 0;
        for (var i = 0; i < raw.Length; i++)
        {
            var b = raw[i];
            if (b == (byte)'%')
            {
                if (i + 2 >= raw.Length || !IsHex(raw[i + 1]) || !IsHex(raw[i + 2]))
                {
                    return Deny("BAD_PERCENT_ESCAPE", $"parameter #{index}", "%XX with two hex digits", $"parameter #{index} has an invalid % escape");
                }
                bytes[length++] = (byte)((HexValue(raw[i + 1]) << 4) | HexValue(raw[i + 2]));
                i += 2;
            }
            else
            {
                bytes[length++] = b;
            }
        }
        try
        {
            decoded = StrictUtf8.GetString(bytes[..length]);
        }
        catch (DecoderFallbackException)
        {
            return Deny("BAD_PERCENT_ESCAPE", $"parameter #{index}", "UTF-8", $"parameter #{index} does not decode to UTF-8");
        }
        foreach (var c in decoded)
        {
            if (char.IsControl(c))
            {
                return Deny("CONTROL_CHARACTER", $"parameter #{index}", "no control characters", $"parameter #{index} contains a control character");
            }
        }
        // Canonical means: exactly what Uri.EscapeDataString of the decoded text produces
        // (RFC 3986 unreserved characters kept, everything else %XX upper-case).
        var canonical = Uri.EscapeDataString(decoded);
        if (canonical.Length != raw.Length || !Ascii.Equals(raw, canonical))
        {
            return Deny("NON_CANONICAL_ENCODING", $"parameter #{index}", "Uri.EscapeDataString form",
                $"parameter #{index} is not canonically percent-encoded (expected RFC 3986 unreserved characters and upper-case %XX)");
        }
        return GuardDecision.Allow;
    }

    private static bool IsHex(byte b) => b is >= (byte)'0' and <= (byte)'9' or >= (byte)'A' and <= (byte)'F' or >= (byte)'a' and <= (byte)'f';

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;

    private static GuardDecision Deny(string reason, string observed, string limit, string message) =>
        GuardDecision.Deny(ErrorKind.InvalidRequest, reason, Rule, observed, limit, message);
}
