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
/// The verdict of <see cref="AuditVerifier.VerifyHistory"/> over <see cref="Files"/> (oldest
/// first): <see cref="File"/> is where it broke (or the last file); <see cref="Missing"/> the
/// archive the oldest file continues when it is not there (history before it not checked).
/// </summary>
internal sealed record AuditHistory(AuditVerdict Verdict, string File, string[] Files, string? Missing);

/// <summary>
/// Checks a whole audit log: a header first, then records whose seq counts up by one and whose
/// prev is the SHA-256 of the line before. Reports the first line where that breaks, which
/// catches an edited, removed, inserted or reordered record and a tail truncated mid-line.
/// (Whole records cut off the end leave a valid shorter chain: compare the last seq with the
/// last audit_seq a client saw, see docs/audit-log.md.)
/// </summary>
internal static class AuditVerifier
{
    /// <summary>The highest seq a log may hold (counts are reported as <see cref="long"/>).</summary>
    private const ulong MaxSeq = long.MaxValue - 1;

    private static readonly string[] RecordFields = ["seq", "time", "peer", "key", "method", "path", "payload", "decision", "reason", "prev"];

    /// <summary>The longest line a reader accepts (a record is a few KiB: the payload is at most 4 KiB).</summary>
    public const int MaxLineBytes = 1 << 20;

    /// <summary>Checks one file on its own (a give-back of an order in an archive it continues is not matched).</summary>
    public static AuditVerdict Verify(Stream log) => new Chain().Feed(log);

    /// <summary>
    /// Checks <paramref name="path"/> and, unless <paramref name="withArchives"/> is false, the
    /// archives it continues (named by each header, next to it), oldest first, as one chain: each
    /// file's header must name the seq and the hash of the last line of the file before it, and
    /// seqs must go down at each step back (so the walk ends). Archives that are not there end the
    /// walk; <see cref="AuditHistory.Missing"/> then names the first one absent. The live file is
    /// opened first and kept open: a rotation meanwhile only adds an archive the walk may follow,
    /// and archives are pinned by the hashes in the headers after them. Only regular files are
    /// read (a FIFO or device named like an archive is an IOException, not a hang).
    /// </summary>
    public static AuditHistory VerifyHistory(string path, bool withArchives)
    {
        var live = System.IO.Path.GetFullPath(path);
        using var liveStream = OpenRegular(live);
        var files = new List<string> { live };
        string? missing = null;
        var header = FirstLine(liveStream);
        liveStream.Position = 0;
        while (withArchives && header is { IsHeader: true, ContinuesFile: { } previous })
        {
            var previousPath = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(live)!, previous);
            if (!File.Exists(previousPath) && !Directory.Exists(previousPath))
            {
                missing = previousPath;
                break;
            }
            AuditLine? older;
            using (var stream = OpenRegular(previousPath))
            {
                older = FirstLine(stream);
            }
            if (older is { IsHeader: true } && older.Seq >= header.Seq)
            {
                var verdict = new AuditVerdict(false, 0, 1,
                    $"line 1: the header says it comes after seq {older.Seq}, but {System.IO.Path.GetFileName(files[0])}, which continues this file, starts after seq {header.Seq}: a loop or a forged header");
                return new AuditHistory(verdict, previousPath, [previousPath, .. files], null);
            }
            files.Insert(0, previousPath);
            header = older;
        }
        var chain = new Chain();
        AuditVerdict? last = null;
        foreach (var file in files)
        {
            // Archives are opened one at a time: a long history does not run out of descriptors.
            using var archive = file == live ? null : OpenRegular(file);
            var verdict = last = chain.Feed(archive ?? (Stream)liveStream);
            if (!verdict.Ok)
            {
                return new AuditHistory(verdict, file, [.. files], missing);
            }
        }
        return new AuditHistory(files.Count == 1 ? last! : chain.Summary(files.Count), live, [.. files], missing);
    }

    private static FileStream OpenRegular(string path)
    {
        if (!Hardening.Posix.IsRegularFile(path))
        {
            throw new IOException(File.Exists(path) || Directory.Exists(path) ? "not a regular file" : "no such file");
        }
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024, FileOptions.SequentialScan);
    }

    private static AuditLine? FirstLine(Stream stream)
    {
        AuditLine? first = null;
        LineSplitter.Split(stream, bytes =>
        {
            first = ParseLine(bytes, out _);
            return false;
        }, MaxLineBytes);
        return first;
    }

    /// <summary>The state carried along one chain, through one file or several in a row.</summary>
    private sealed class Chain
    {
        private readonly GiveBacks _giveBacks = new();
        private string? _prevHex;
        private ulong _expectedSeq;
        private ulong? _firstStart;
        private AuditLine? _firstHeader;

        /// <summary>Reads one whole file; the first continues the chain where the file before it ended.</summary>
        public AuditVerdict Feed(Stream log)
        {
            var lineNumber = 0L;
            AuditVerdict? bad = null;
            AuditLine? header = null;
            var trailing = LineSplitter.Split(log, bytes =>
            {
                lineNumber++;
                bad = Check(bytes, lineNumber, ref header);
                return bad is null;
            }, MaxLineBytes);
            if (bad is not null)
            {
                return bad;
            }
            if (trailing == LineSplitter.TooLong)
            {
                return Bad(lineNumber + 1, _expectedSeq, $"longer than {MaxLineBytes} bytes: not an audit line");
            }
            if (trailing > 0)
            {
                return new AuditVerdict(false, (long)_expectedSeq, lineNumber + 1,
                    $"line {lineNumber + 1}: truncated (the file ends mid-line, after seq {_expectedSeq})");
            }
            if (lineNumber == 0)
            {
                return new AuditVerdict(false, (long)_expectedSeq, 1, "line 1: the log is empty (no header)");
            }
            var start = header!.Seq;
            var continues = header.ContinuesFile is null ? "" : $" (seq {start + 1}-{_expectedSeq}, continuing {header.ContinuesFile} after seq {start})";
            return new AuditVerdict(true, (long)_expectedSeq, 0, $"ok: header + {_expectedSeq - start} records{continues}, chain intact; last hash {_prevHex}", header);
        }

        /// <summary>The verdict over every file fed so far; its header is the oldest file's.</summary>
        public AuditVerdict Summary(int files) => new(true, (long)_expectedSeq, 0,
            $"ok: {files} files, seq {_firstStart!.Value + 1}-{_expectedSeq}, chain intact across them; last hash {_prevHex}", _firstHeader);

        private AuditVerdict? Check(ReadOnlySpan<byte> bytes, long lineNumber, ref AuditLine? header)
        {
            var parsed = ParseLine(bytes, out var problem);
            if (parsed is null)
            {
                return Bad(lineNumber, _expectedSeq, $"not a valid audit line ({problem}): edited or damaged");
            }
            if (lineNumber == 1)
            {
                if (!parsed.IsHeader)
                {
                    return Bad(lineNumber, _expectedSeq, "the first line is not the header: the start of the log was removed");
                }
                if (_firstStart is null)
                {
                    _firstStart = parsed.Seq;
                    _firstHeader = parsed;
                }
                else if (parsed.Seq != _expectedSeq)
                {
                    return Bad(lineNumber, _expectedSeq,
                        $"the header continues {parsed.ContinuesFile} after seq {parsed.Seq}, but that file ends at seq {_expectedSeq}: records were cut off it, or the header was forged");
                }
                else if (parsed.Prev != _prevHex)
                {
                    // The archive's last line has no successor in its own file: this header is what pins it.
                    return Bad(lineNumber, _expectedSeq,
                        $"the header continues {parsed.ContinuesFile} after seq {parsed.Seq}, but that file's last line is not the one this header names (edited or replaced)");
                }
                header = parsed;
                _expectedSeq = parsed.Seq;
            }
            else if (parsed.IsHeader)
            {
                return Bad(lineNumber, _expectedSeq, "a second header: logs were spliced");
            }
            else
            {
                _expectedSeq++;
                if (parsed.Seq != _expectedSeq)
                {
                    return Bad(lineNumber, _expectedSeq - 1,
                        $"seq {parsed.Seq} where {_expectedSeq} was expected: a record was removed, inserted or reordered");
                }
                if (parsed.Prev != _prevHex)
                {
                    return Bad(lineNumber, _expectedSeq - 1,
                        $"prev does not match the SHA-256 of line {lineNumber - 1}: line {lineNumber - 1} or this line was edited, or records were moved");
                }
                // A give-back of an order before the first file read cannot be matched here.
                if (!_giveBacks.Follow(parsed, _firstStart!.Value))
                {
                    return Bad(lineNumber, _expectedSeq - 1,
                        $"an unsigned record for seq {parsed.AllowedSeq}, which is not an allowed order of that key, time and notional, or was given back already");
                }
            }
            _prevHex = AuditLog.Hash(bytes);
            return null;
        }
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
                var continuesSeq = continues.GetProperty("seq").GetUInt64();
                if (continuesSeq > MaxSeq)
                {
                    problem = "a header whose 'continues' seq is out of range";
                    return null;
                }
                return new AuditLine(true, continuesSeq, hash, ContinuesFile: file);
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
            if (seq > MaxSeq)
            {
                problem = "seq is out of range";
                return null;
            }
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
