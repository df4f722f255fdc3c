using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Uncoded.Signer.Transport;

namespace Uncoded.Signer.Audit;

/// <summary>
/// What one Sign call asked for and what the signer decided. Everything in it came from the
/// request or from the guards: the key's secret never reaches this type. An entry with
/// <see cref="AllowedSeq"/> says that the allowed order recorded at that seq was never signed
/// (the key failed): its <see cref="Notional"/> leaves the rolling cap again.
/// </summary>
internal sealed record AuditEntry(
    DateTimeOffset Time,
    PeerCredentials? Peer,
    string KeyId,
    string Method,
    string Path,
    byte[] Payload,
    bool Allowed,
    string? Reason,
    IReadOnlyDictionary<string, string>? Detail,
    decimal? Notional = null,
    ulong? AllowedSeq = null,
    DateTimeOffset? AllowedTime = null)
{
    /// <summary>How <c>time</c> is written: UTC, microseconds.</summary>
    public const string TimeFormat = "yyyy-MM-ddTHH:mm:ss.ffffffZ";

    public const string Allow = "allow";
    public const string Deny = "deny";
    public const string Unsigned = "unsigned";

    /// <summary>
    /// The record that gives an allowed order's notional back: its signature was never produced
    /// (<paramref name="reason"/> says why), so it must not count against the rolling cap.
    /// </summary>
    public static AuditEntry ForUnsigned(AuditEntry allowed, ulong allowedSeq, DateTimeOffset now, string reason) =>
        new(now, allowed.Peer, allowed.KeyId, allowed.Method, allowed.Path, [], false, reason, null, allowed.Notional, allowedSeq, allowed.Time);

    private static readonly JsonWriterOptions Options = new()
    {
        // Payloads stay readable (& = % untouched); quotes, backslashes and control characters are still escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    /// <summary>One JSON line (without the newline), fields in a fixed order.</summary>
    public void WriteLine(IBufferWriter<byte> output, ulong seq, string prevHex)
    {
        using var json = new Utf8JsonWriter(output, Options);
        json.WriteStartObject();
        json.WriteNumber("seq", seq);
        json.WriteString("time", Time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture));
        json.WriteStartObject("peer");
        if (Peer is null)
        {
            json.WriteNull("pid");
            json.WriteNull("uid");
            json.WriteNull("gid");
        }
        else
        {
            json.WriteNumber("pid", Peer.Pid);
            json.WriteNumber("uid", Peer.Uid);
            json.WriteNumber("gid", Peer.Gid);
        }
        json.WriteEndObject();
        json.WriteString("key", KeyId);
        json.WriteString("method", Method);
        json.WriteString("path", Path);
        // Latin-1 maps every byte to one character, so even a refused non-ASCII payload is recorded losslessly.
        json.WriteString("payload", Encoding.Latin1.GetString(Payload));
        json.WriteString("decision", AllowedSeq is not null ? Unsigned : Allowed ? Allow : Deny);
        if (Notional is { } notional)
        {
            // What this order added to the key's rolling 24 h cap (on an unsigned record: what leaves
            // it again): the log is the cap's write-ahead record.
            json.WriteString("notional", notional.ToString(CultureInfo.InvariantCulture));
        }
        if (AllowedSeq is { } allowedSeq)
        {
            json.WriteNumber("allowedSeq", allowedSeq);
            json.WriteString("allowedTime", AllowedTime.GetValueOrDefault(Time).UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture));
        }
        if (Reason is null)
        {
            json.WriteNull("reason");
        }
        else
        {
            json.WriteString("reason", Reason);
        }
        if (Detail is { Count: > 0 })
        {
            json.WriteStartObject("detail");
            foreach (var (name, value) in Detail)
            {
                json.WriteString(name, value);
            }
            json.WriteEndObject();
        }
        json.WriteString("prev", prevHex);
        json.WriteEndObject();
    }
}
