using System.Text;

namespace Uncoded.Signer.Backends;

/// <summary>Binance's wire encodings for signatures (BINANCE.md, "Signed requests").</summary>
internal static class SignatureEncoding
{
    public static string Name(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.HmacSha256 => "HMAC_SHA256",
        KeyAlgorithm.RsaPkcs1Sha256 => "RSA_PKCS1_SHA256",
        KeyAlgorithm.Ed25519 => "ED25519",
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    /// <summary>HMAC: lowercase hex. RSA and Ed25519: base64, then percent-encoded (RFC 3986).</summary>
    public static string ToWire(KeyAlgorithm algorithm, ReadOnlySpan<byte> signature) => algorithm switch
    {
        KeyAlgorithm.HmacSha256 => Convert.ToHexStringLower(signature),
        KeyAlgorithm.RsaPkcs1Sha256 or KeyAlgorithm.Ed25519 => PercentEncode(Convert.ToBase64String(signature)),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    /// <summary>Percent-encodes everything outside RFC 3986's unreserved set, upper-case hex.</summary>
    public static string PercentEncode(string value) => Uri.EscapeDataString(value);

    public static string ToPemBlock(string label, ReadOnlySpan<byte> der)
    {
        var sb = new StringBuilder();
        sb.Append("-----BEGIN ").Append(label).Append("-----\n");
        var b64 = Convert.ToBase64String(der);
        for (var i = 0; i < b64.Length; i += 64)
        {
            sb.Append(b64.AsSpan(i, Math.Min(64, b64.Length - i))).Append('\n');
        }
        sb.Append("-----END ").Append(label).Append("-----\n");
        return sb.ToString();
    }
}
