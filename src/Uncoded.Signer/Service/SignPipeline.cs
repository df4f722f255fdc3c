using Uncoded.Signer.Audit;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Guards;
using Uncoded.Signer.Transport;

namespace Uncoded.Signer.Service;

/// <summary>
/// The order of work for every Sign call: validate and parse the request, check every guard
/// (admitting the signature into the key's rate and rolling caps), append the audit record
/// durably (for an order it also makes the rolling cap durable), sign, answer. Nothing is signed that is not on disk first;
/// refusals are audited too.
/// </summary>
internal sealed class SignPipeline(KeyRing keys, GuardEngine guards, AuditLog audit, RefusalBudget refusals, TimeProvider time, ILogger<SignPipeline> logger)
{
    public const int MaxPayloadBytes = PayloadParser.MaxBytes;

    /// <summary>
    /// The whole Sign request message (key_id, method, path and payload, as protobuf encodes them)
    /// at most. The transport lets a little more through (<see cref="UnixSocketTransport.MaxMessageBytes"/>)
    /// so that a request over it is refused here: with a reason, and audited like any refusal.
    /// </summary>
    public const int MaxRequestBytes = 4096;
    public const int MaxPathBytes = 256;
    private static readonly string[] Methods = ["GET", "POST", "PUT", "DELETE"];

    /// <param name="requestBytes">The size of the request message as received (protobuf's CalculateSize()).</param>
    public async ValueTask<SignResult> SignAsync(string keyId, string method, string path, ReadOnlyMemory<byte> payload, int requestBytes,
        PeerCredentials? peer, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        LoadedKey? key = null;
        decimal? counted = null;
        long countedAtMs = 0;
        try
        {
            ValidateRequest(method, path, payload.Span, requestBytes);
            if (!keys.TryGet(keyId, out key))
            {
                throw new SignerException(ErrorKind.UnknownKey, "UNKNOWN_KEY", "no key with that key_id is configured",
                    new Dictionary<string, string> { ["key_id"] = Printable(keyId) });
            }
            var decision = guards.Check(keyId, method, path, payload.Span, peer, now.ToUnixTimeMilliseconds(), out counted, out countedAtMs);
            if (!decision.IsAllowed)
            {
                throw decision.ToException();
            }
        }
        catch (SignerException refusal)
        {
            // Logged only when recorded one by one: past the refusal budget a flood costs neither
            // the audit log nor the signer's own log more than a summary line.
            if (await AuditRefusalAsync(new AuditEntry(now, peer, keyId, method, path, payload.ToArray(), false, refusal.Reason, refusal.Metadata),
                refusal).ConfigureAwait(false))
            {
                LogRefused(keyId, path, refusal, peer);
            }
            throw;
        }
        try
        {
            // Durable before signing: the audit record, which for an order also carries what it added
            // to the rolling cap (the log is the cap's write-ahead record). Not cancellable: once
            // admitted, the record is written whether or not the caller waits.
            var allowed = new AuditEntry(now, peer, keyId, method, path, payload.ToArray(), true, null, null, counted);
            var seq = await audit.AppendAsync(allowed).ConfigureAwait(false);
            byte[] raw;
            try
            {
                raw = await keys.SignAsync(key, payload, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception failure) when (counted is not null)
            {
                // No signature exists, so the order must not count against the cap.
                await GiveBackAsync(allowed, seq, countedAtMs, failure).ConfigureAwait(false);
                throw;
            }
            return new SignResult(SignatureEncoding.ToWire(key.Key.Algorithm, raw), key.ApiKey, SignatureEncoding.Name(key.Key.Algorithm), seq);
        }
        catch (SignerException fault)
        {
            LogRefused(keyId, path, fault, peer);
            throw;
        }
    }

    /// <summary>
    /// An allowed order whose signature was never produced: its <c>unsigned</c> record goes on
    /// disk, then its notional leaves the live window. If that record cannot be written the
    /// notional stays counted (the safe side: a restart replays the allowed record alone).
    /// </summary>
    private async Task GiveBackAsync(AuditEntry allowed, ulong seq, long countedAtMs, Exception failure)
    {
        var reason = failure switch
        {
            SignerException e => e.Reason,
            OperationCanceledException => "CANCELLED",
            _ => "INTERNAL",
        };
        try
        {
            var unsignedSeq = await audit.AppendAsync(AuditEntry.ForUnsigned(allowed, seq, time.GetUtcNow(), reason)).ConfigureAwait(false);
            // From the minute the live window counted it in (the steady clock's, which differs
            // from the record's wall-clock time while a forward clock step is held back).
            guards.Release(allowed.KeyId, countedAtMs, allowed.Notional!.Value);
            Log.OrderGivenBack(logger, Printable(allowed.KeyId), seq, reason, unsignedSeq);
        }
        catch (SignerException e)
        {
            Log.OrderNotGivenBack(logger, Printable(allowed.KeyId), seq, reason, e.Reason);
        }
    }

    private void LogRefused(string keyId, string path, SignerException e, PeerCredentials? peer) =>
        Log.Refused(logger, Printable(keyId), Printable(path), e.Reason, e.Message, peer?.Pid ?? 0, peer?.Uid ?? 0);

    /// <summary>Audits a refusal; false when the refusal budget only counted it.</summary>
    private async Task<bool> AuditRefusalAsync(AuditEntry entry, SignerException refusal)
    {
        try
        {
            return await refusals.RecordAsync(entry).ConfigureAwait(false);
        }
        catch (SignerException e)
        {
            // The caller gets the refusal it earned; the audit failure is already logged as critical.
            Log.RefusalNotAudited(logger, refusal.Reason, e.Reason);
            return true;
        }
    }

    public static void ValidateRequest(string method, string path, ReadOnlySpan<byte> payload, int requestBytes)
    {
        if (!Methods.Contains(method, StringComparer.Ordinal))
        {
            throw Invalid("BAD_METHOD", method, "GET|POST|PUT|DELETE", "method must be GET, POST, PUT or DELETE");
        }
        if (path.Length is 0 or > MaxPathBytes || path[0] != '/' || path.Any(c => c is < '!' or > '~' || c is '?' or '#'))
        {
            throw Invalid("BAD_PATH", path, "/printable-ASCII", $"path must start with '/', be printable ASCII without '?' or '#', at most {MaxPathBytes} bytes");
        }
        var decision = PayloadParser.CheckSize(payload);
        if (!decision.IsAllowed)
        {
            throw decision.ToException();
        }
        // After the payload's own limit, which names the usual culprit; this one also counts key_id and path.
        if (requestBytes > MaxRequestBytes)
        {
            throw Invalid("REQUEST_TOO_LARGE", $"{requestBytes} bytes", $"{MaxRequestBytes} bytes",
                $"the request (key_id, method, path and payload) exceeds {MaxRequestBytes} bytes");
        }
        foreach (var b in payload)
        {
            if (b is < 0x21 or > 0x7E)
            {
                throw Invalid("NON_ASCII_PAYLOAD", "a byte outside 0x21-0x7E", "percent-encoded printable ASCII",
                    "payload must be percent-encoded printable ASCII (no spaces, control characters or raw UTF-8)");
            }
        }
    }

    private static SignerException Invalid(string reason, string observed, string limit, string message) =>
        GuardDecision.Deny(ErrorKind.InvalidRequest, reason, "request", observed, limit, message).ToException();

    /// <summary>Echo caller-supplied text into errors only in a safe, bounded form.</summary>
    public static string Printable(string value)
    {
        var clipped = value.Length > 64 ? value[..64] : value;
        return new string(clipped.Select(c => c is >= ' ' and <= '~' ? c : '?').ToArray());
    }
}

internal sealed record SignResult(string Signature, string ApiKey, string Algorithm, ulong AuditSeq);
