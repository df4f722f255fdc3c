using System.Globalization;
using System.Text.Json;

namespace Uncoded.Signer.Audit;

/// <summary>
/// One parsed line: the header (seq 0) or a record. <see cref="Notional"/> is what an allowed
/// order added to its key's rolling 24 h cap (absent on reads and refusals); on an unsigned record
/// (<see cref="AllowedTime"/> set) it is what leaves the cap again, from the minute of <see cref="AllowedTime"/>.
/// </summary>
/// <remarks>A header that continues an archived file (after a rotation) has <see cref="ContinuesFile"/>,
/// <see cref="Seq"/> = that file's last seq and <see cref="Prev"/> = the hash of that file's last line.</remarks>
internal sealed record AuditLine(bool IsHeader, ulong Seq, string Prev, DateTimeOffset Time = default, string Key = "", bool Allowed = false,
    decimal? Notional = null, DateTimeOffset? AllowedTime = null, ulong AllowedSeq = 0, string? ContinuesFile = null);

/// <summary>
/// The verdict of <see cref="AuditVerifier.Verify"/>: <see cref="BadLine"/> is 0 when the chain
/// holds; <see cref="Records"/> is the last seq; <see cref="Header"/> the file's header line.
/// </summary>
internal sealed record AuditVerdict(bool Ok, long Records, long BadLine, string Message, AuditLine? Header = null);

/// <summary>
/// Checks a whole audit log: a header first, then records whose seq counts up by one and whose
/// prev is the SHA-256 of the line before. Reports the first line where that breaks, which
/// catches an edited, removed, inserted or reordered record and a tail truncated mid-line.
/// (Whole records cut off the end leave a valid shorter chain: compare the last seq with the
/// last audit_seq a client saw, see docs/audit-log.md.)
/// </summary>
internal static class AuditVerifier
{
    private static readonly string[] RecordFields = ["seq", "time", "peer", "key", "method", "path", "payload", "decision", "reason", "prev"];

    public static AuditVerdict Verify(Stream log)
    {
        var lineNumber = 0L;
        string? prevHex = null;
        ulong expectedSeq = 0;
        AuditVerdict? bad = null;
        AuditLine? header = null;
        var giveBacks = new GiveBacks();
        var trailing = LineSplitter.Split(log, bytes =>
        {
            lineNumber++;
            bad = Check(bytes, lineNumber, ref prevHex, ref expectedSeq, ref header, giveBacks);
            return bad is null;
        });
        if (bad is not null)
        {
            return bad;
        }
        if (trailing > 0)
        {
            return new AuditVerdict(false, (long)expectedSeq, lineNumber + 1,
                $"line {lineNumber + 1}: truncated (the file ends mid-line, after seq {expectedSeq})");
        }
        if (lineNumber == 0)
        {
            return new AuditVerdict(false, 0, 1, "line 1: the log is empty (no header)");
        }
        var start = header!.Seq;
        var continues = header.ContinuesFile is null ? "" : $" (seq {start + 1}-{expectedSeq}, continuing {header.ContinuesFile} after seq {start})";
        return new AuditVerdict(true, (long)expectedSeq, 0, $"ok: header + {expectedSeq - start} records{continues}, chain intact; last hash {prevHex}", header);
    }

    private static AuditVerdict? Check(ReadOnlySpan<byte> bytes, long lineNumber, ref string? prevHex, ref ulong expectedSeq, ref AuditLine? header,
        GiveBacks giveBacks)
    {
        var parsed = ParseLine(bytes, out var problem);
        if (parsed is null)
        {
            return Bad(lineNumber, expectedSeq, $"not a valid audit line ({problem}): edited or damaged");
        }
        if (lineNumber == 1)
        {
            if (!parsed.IsHeader)
            {
                return Bad(lineNumber, expectedSeq, "the first line is not the header: the start of the log was removed");
            }
            header = parsed;
            expectedSeq = parsed.Seq;
        }
        else if (parsed.IsHeader)
        {
            return Bad(lineNumber, expectedSeq, "a second header: logs were spliced");
        }
        else
        {
            expectedSeq++;
            if (parsed.Seq != expectedSeq)
            {
                return Bad(lineNumber, expectedSeq - 1,
                    $"seq {parsed.Seq} where {expectedSeq} was expected: a record was removed, inserted or reordered");
            }
            if (parsed.Prev != prevHex)
            {
                return Bad(lineNumber, expectedSeq - 1,
                    $"prev does not match the SHA-256 of line {lineNumber - 1}: line {lineNumber - 1} or this line was edited, or records were moved");
            }
            // A give-back of an order in the archive this file continues cannot be matched here.
            if (parsed.AllowedTime is not null && parsed.AllowedSeq > header!.Seq && !giveBacks.Take(parsed))
            {
                return Bad(lineNumber, expectedSeq - 1,
                    $"an unsigned record for seq {parsed.AllowedSeq}, which is not an allowed order of that key, time and notional, or was given back already");
            }
            giveBacks.Remember(parsed);
        }
        prevHex = AuditLog.Hash(bytes);
        return null;
    }

    private static AuditVerdict Bad(long lineNumber, ulong recordsBefore, string message) =>
        new(false, (long)recordsBefore, lineNumber, $"line {lineNumber}: {message}");

    /// <summary>Parses one line strictly; null (and a reason) when it is neither a header nor a record.</summary>
    public static AuditLine? ParseLine(ReadOnlySpan<byte> bytes, out string problem)
    {
        problem = "";
        try
        {
            using var document = JsonDocument.Parse(bytes.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problem = "not a JSON object";
                return null;
            }
            if (root.TryGetProperty("type", out var type))
            {
                var ok = type.GetString() == AuditLog.HeaderType && root.GetProperty("version").GetInt32() == AuditLog.Version &&
                    root.GetProperty("genesis").GetString() is { Length: 64 };
                problem = ok ? "" : "a header of an unknown type or version, or without a 256-bit genesis";
                if (!ok)
                {
                    return null;
                }
                if (!root.TryGetProperty("continues", out var continues))
                {
                    return new AuditLine(true, 0, "");
                }
                // After a rotation: the archived file (a name in the same directory), its last seq and last line's hash.
                var file = continues.GetProperty("file").GetString();
                var hash = continues.GetProperty("hash").GetString();
                if (string.IsNullOrEmpty(file) || file.AsSpan().IndexOfAny('/', '\0') >= 0 || file is "." or ".." || hash is not { Length: 64 })
                {
                    problem = "a header whose 'continues' is not {file, seq, hash}";
                    return null;
                }
                return new AuditLine(true, continues.GetProperty("seq").GetUInt64(), hash, ContinuesFile: file);
            }
            foreach (var field in RecordFields)
            {
                if (!root.TryGetProperty(field, out _))
                {
                    problem = $"no '{field}'";
                    return null;
                }
            }
            var decision = root.GetProperty("decision").GetString();
            if (decision is not (AuditEntry.Allow or AuditEntry.Deny or AuditEntry.Unsigned))
            {
                problem = "decision is not allow, deny or unsigned";
                return null;
            }
            var prev = root.GetProperty("prev").GetString();
            if (prev is not { Length: 64 })
            {
                problem = "prev is not a SHA-256 hex digest";
                return null;
            }
            if (!DateTimeOffset.TryParseExact(root.GetProperty("time").GetString(), AuditEntry.TimeFormat, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal, out var time))
            {
                problem = "time is not an ISO 8601 UTC time";
                return null;
            }
            decimal? notional = null;
            if (root.TryGetProperty("notional", out var counted))
            {
                if (decision == AuditEntry.Deny ||
                    !decimal.TryParse(counted.GetString(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
                {
                    problem = "notional is not a decimal on an allowed or unsigned record";
                    return null;
                }
                notional = value;
            }
            var seq = root.GetProperty("seq").GetUInt64();
            DateTimeOffset? allowedTime = null;
            ulong allowedSeq = 0;
            if (decision == AuditEntry.Unsigned)
            {
                // It gives back an earlier allowed order's notional (which order: see GiveBacks). No
                // check of allowedTime against time: the wall clock may step back between the two.
                if (notional is null || !root.TryGetProperty("allowedSeq", out var allowedSeqValue) || allowedSeqValue.GetUInt64() >= seq ||
                    !DateTimeOffset.TryParseExact(root.GetProperty("allowedTime").GetString(), AuditEntry.TimeFormat, CultureInfo.InvariantCulture,
                        DateTimeStyles.AssumeUniversal, out var at))
                {
                    problem = "an unsigned record without notional, an earlier allowedSeq or an allowedTime";
                    return null;
                }
                allowedTime = at;
                allowedSeq = allowedSeqValue.GetUInt64();
            }
            return new AuditLine(false, seq, prev, time, root.GetProperty("key").GetString() ?? "",
                decision == AuditEntry.Allow, notional, allowedTime, allowedSeq);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            problem = e.GetType().Name;
            return null;
        }
    }
}
