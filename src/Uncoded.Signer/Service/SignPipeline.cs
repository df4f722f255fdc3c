using Uncoded.Signer.Backends;
using Uncoded.Signer.Transport;

namespace Uncoded.Signer.Service;

/// <summary>
/// The order of work for every Sign call: validate the request, look up the key, sign, answer.
/// Guards and the audit log slot in between validation and signing (check → persist → sign).
/// </summary>
internal sealed class SignPipeline(KeyRing keys)
{
    public const int MaxPayloadBytes = 4096;
    public const int MaxPathBytes = 256;
    private static readonly string[] Methods = ["GET", "POST", "PUT", "DELETE"];

    public async ValueTask<SignResult> SignAsync(string keyId, string method, string path, ReadOnlyMemory<byte> payload,
        PeerCredentials? peer, CancellationToken cancellationToken)
    {
        ValidateRequest(method, path, payload.Span);
        if (!keys.TryGet(keyId, out var key))
        {
            throw new SignerException(ErrorKind.UnknownKey, "UNKNOWN_KEY", "no key with that key_id is configured",
                new Dictionary<string, string> { ["key_id"] = Printable(keyId) });
        }
        var raw = await key.Key.SignAsync(payload, cancellationToken).ConfigureAwait(false);
        return new SignResult(SignatureEncoding.ToWire(key.Key.Algorithm, raw), key.ApiKey, SignatureEncoding.Name(key.Key.Algorithm), 0);
    }

    public static void ValidateRequest(string method, string path, ReadOnlySpan<byte> payload)
    {
        if (!Methods.Contains(method, StringComparer.Ordinal))
        {
            throw new SignerException(ErrorKind.InvalidRequest, "BAD_METHOD", "method must be GET, POST, PUT or DELETE",
                new Dictionary<string, string> { ["observed"] = Printable(method) });
        }
        if (path.Length is 0 or > MaxPathBytes || path[0] != '/' || path.Any(c => c is < '!' or > '~' || c is '?' or '#'))
        {
            throw new SignerException(ErrorKind.InvalidRequest, "BAD_PATH",
                $"path must start with '/', be printable ASCII without '?' or '#', at most {MaxPathBytes} bytes");
        }
        if (payload.IsEmpty)
        {
            throw new SignerException(ErrorKind.InvalidRequest, "EMPTY_PAYLOAD", "payload is empty");
        }
        if (payload.Length > MaxPayloadBytes)
        {
            throw new SignerException(ErrorKind.InvalidRequest, "PAYLOAD_TOO_LARGE", $"payload exceeds {MaxPayloadBytes} bytes",
                new Dictionary<string, string> { ["observed"] = payload.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), ["limit"] = "4096" });
        }
        foreach (var b in payload)
        {
            if (b is < 0x21 or > 0x7E)
            {
                throw new SignerException(ErrorKind.InvalidRequest, "NON_ASCII_PAYLOAD",
                    "payload must be percent-encoded printable ASCII (no spaces, control characters or raw UTF-8)");
            }
        }
    }

    /// <summary>Echo caller-supplied text into errors only in a safe, bounded form.</summary>
    public static string Printable(string value)
    {
        var clipped = value.Length > 64 ? value[..64] : value;
        return new string(clipped.Select(c => c is >= ' ' and <= '~' ? c : '?').ToArray());
    }
}

internal sealed record SignResult(string Signature, string ApiKey, string Algorithm, ulong AuditSeq);
