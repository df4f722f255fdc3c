using System.Globalization;
using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Uncoded.Signer.Hardening;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Audit;

/// <summary>
/// The signer's flight recorder: append-only JSON lines, each carrying <c>prev</c> = SHA-256
/// (hex) of the line before it; the first line is a header holding a random genesis value.
/// Every record is written and fdatasync'ed before the Sign call is answered; concurrent calls
/// share one write and one fdatasync (group commit, see <see cref="GroupCommit{T}"/>). If a write fails, every later call fails
/// closed with AUDIT_UNAVAILABLE.
/// </summary>
internal sealed class AuditLog : IDisposable
{
    public const string HeaderType = "uncoded-signer-audit";
    public const int Version = 1;

    private readonly FileStream _lock;
    private readonly GroupCommit<AuditEntry> _commit;
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly ArrayBufferWriter<byte> _line = new(8 * 1024);
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _rotateAt;
    // The file being written and where its chain starts; replaced together by a rotation (committing thread only).
    private FileStream _stream;
    private SafeFileHandle _file;
    private LogHeader _header;
    private long _retryRotationAt;
    private AuditPosition _position;
    private Action<List<AuditEntry>, AuditPosition>? _committed;

    private AuditLog(string path, FileStream lockFile, FileStream stream, AuditPosition position, LogHeader header, TimeProvider time, ILogger logger,
        long rotateAt)
    {
        Path = path;
        _lock = lockFile;
        _stream = stream;
        _file = stream.SafeFileHandle;
        _position = position;
        _header = header;
        _time = time;
        _logger = logger;
        _rotateAt = rotateAt;
        _commit = new GroupCommit<AuditEntry>("AUDIT_UNAVAILABLE", "audit log", Commit,
            e => Log.AuditFailed(logger, path, e.GetType().Name, e.Message));
    }

    /// <summary>
    /// A file's header line: its length (with the newline) and hash, where its records start
    /// (<see cref="StartSeq"/>: 0, or the last seq of the file it continues) and, after a
    /// rotation, the archived file it continues and the hash of that file's last line.
    /// </summary>
    internal sealed record LogHeader(long Length, string Hash, ulong StartSeq, string? ContinuesFile, string? ContinuesHash)
    {
        public AuditPosition Start => new(StartSeq, Length, Hash);
    }

    public string Path { get; }

    /// <summary>The sequence number of the last record on disk.</summary>
    public ulong LastSeq => Position.Seq;

    /// <summary>Where the log ends: last seq, its end offset and the hash of its last line.</summary>
    public AuditPosition Position => Volatile.Read(ref _position);

    /// <summary>Where this file's first record goes: right after the header line.</summary>
    public AuditPosition Start => _header.Start;

    /// <summary>The archived file this one continues (after a rotation), or null.</summary>
    public string? Continues => _header.ContinuesFile;

    /// <summary>
    /// Registers the one observer told about every batch once it is on disk (on the committing
    /// thread, before any of its callers is answered), with the log's new end.
    /// </summary>
    public void OnCommitted(Action<List<AuditEntry>, AuditPosition> observer)
    {
        if (Interlocked.CompareExchange(ref _committed, observer, null) is not null)
        {
            throw new InvalidOperationException("the audit log already has an observer");
        }
    }

    /// <summary>Opens (or creates, with a fresh genesis) the log and continues its chain after verifying the tail.</summary>
    public static AuditLog Open(string path, TimeProvider time, ILogger logger, long rotateAtBytes = 0)
    {
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        FileStream lockFile;
        FileStream stream;
        SafeFileHandle file;
        try
        {
            Durable.EnsurePrivateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SignerException(ErrorKind.Configuration, "AUDIT_UNAVAILABLE", $"cannot open the audit log '{path}': {e.Message}", inner: e);
        }
        try
        {
            lockFile = Durable.Lock(path + ".lock");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SignerException(ErrorKind.Configuration, "AUDIT_LOG_IN_USE",
                $"cannot lock '{path}.lock': another signer is writing this audit log, or it is not writable ({e.Message})", inner: e);
        }
        try
        {
            UndoInterruptedRotation(path, logger);
            stream = Durable.OpenPrivate(path, FileMode.OpenOrCreate, FileAccess.ReadWrite);
            file = stream.SafeFileHandle;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            lockFile.Dispose();
            throw new SignerException(ErrorKind.Configuration, "AUDIT_UNAVAILABLE", $"cannot open the audit log '{path}': {e.Message}", inner: e);
        }
        try
        {
            var length = RandomAccess.GetLength(file);
            if (length == 0)
            {
                var bytes = Header(time.GetUtcNow(), null);
                RandomAccess.Write(file, bytes, 0);
                Durable.DataSync(file);
                Durable.SyncDirectory(directory);
                Log.AuditCreated(logger, path);
                var header = new LogHeader(bytes.Length, Hash(bytes.AsSpan(0, bytes.Length - 1)), 0, null, null);
                return new AuditLog(path, lockFile, stream, header.Start, header, time, logger, rotateAtBytes);
            }
            // A kill -9 may have left the last batch written but not yet flushed: flush it before
            // anything (the rolling-cap checkpoint) is built on it, so power loss cannot undo it.
            Durable.DataSync(file);
            Durable.SyncDirectory(directory);
            var (seq, prevHex) = ReadTail(file, length, path);
            var read = ReadHeader(file, length, path);
            Log.AuditContinued(logger, path, seq);
            return new AuditLog(path, lockFile, stream, new AuditPosition(seq, length, prevHex), read, time, logger, rotateAtBytes);
        }
        catch (Exception e)
        {
            stream.Dispose();
            lockFile.Dispose();
            throw e is SignerException ? e : new SignerException(ErrorKind.Configuration, "AUDIT_UNAVAILABLE",
                $"cannot initialise the audit log '{path}': {e.Message}", inner: e);
        }
    }

    /// <summary>Appends <paramref name="entry"/> durably; returns its sequence number. Fails with AUDIT_UNAVAILABLE.</summary>
    public Task<ulong> AppendAsync(AuditEntry entry) => _commit.EnqueueAsync(entry);

    private void Commit(List<AuditEntry> batch, ulong[] results)
    {
        _buffer.ResetWrittenCount();
        var start = _position;
        var seq = start.Seq;
        var prev = start.Hash;
        for (var i = 0; i < batch.Count; i++)
        {
            seq++;
            _line.ResetWrittenCount();
            batch[i].WriteLine(_line, seq, prev);
            prev = Hash(_line.WrittenSpan);
            _buffer.Write(_line.WrittenSpan);
            _buffer.Write("\n"u8);
            results[i] = seq;
        }
        RandomAccess.Write(_file, _buffer.WrittenSpan, start.Offset);
        Durable.DataSync(_file);
        var end = new AuditPosition(seq, start.Offset + _buffer.WrittenCount, prev);
        Volatile.Write(ref _position, end);
        _committed?.Invoke(batch, end);
        if (_rotateAt > 0 && end.Offset >= Math.Max(_rotateAt, _retryRotationAt))
        {
            Rotate(end);
        }
    }

    /// <summary>
    /// Archives the full file as <c>&lt;path&gt;.&lt;last seq&gt;</c> and continues the chain in a new
    /// file whose header names it and the hash of its last line. Crash-safe order: the new file is
    /// written and flushed under a temp name, the full file gets its archive name as a second link,
    /// then one rename puts the new file in place, then the directory is flushed. A failure before
    /// the rename leaves the log as it was (retried later); a failed directory flush is an audit
    /// failure (whether the rename survives a crash is unknown).
    /// </summary>
    private void Rotate(AuditPosition end)
    {
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
        var archive = string.Create(CultureInfo.InvariantCulture, $"{Path}.{end.Seq:D12}");
        var temp = Path + ".rotating";
        var archiveName = System.IO.Path.GetFileName(archive);
        var bytes = Header(_time.GetUtcNow(), (archiveName, end.Seq, end.Hash));
        FileStream? next = null;
        var linked = false;
        try
        {
            File.Delete(temp);
            next = Durable.OpenPrivate(temp, FileMode.CreateNew, FileAccess.ReadWrite);
            RandomAccess.Write(next.SafeFileHandle, bytes, 0);
            Durable.DataSync(next.SafeFileHandle);
            Durable.Link(Path, archive);
            linked = true;
            // The archive name is durable before the live name moves to the new file.
            Durable.SyncDirectory(directory);
            File.Move(temp, Path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            next?.Dispose();
            TryDelete(temp);
            if (linked)
            {
                TryDelete(archive); // a second name of the live log, which stays the whole log
            }
            _retryRotationAt = end.Offset + Math.Max(_rotateAt / 8, SignerSettings.MinRotateAtBytes);
            Log.AuditRotationFailed(_logger, Path, e.GetType().Name, e.Message, _retryRotationAt);
            return;
        }
        try
        {
            // Before anything (the rolling-cap checkpoint) can refer to the new file: a rename that
            // might not survive a crash is an audit failure, and the signer stops signing.
            Durable.SyncDirectory(directory);
        }
        catch
        {
            next.Dispose();
            throw;
        }
        _stream.Dispose();
        _stream = next;
        _file = next.SafeFileHandle;
        _header = new LogHeader(bytes.Length, Hash(bytes.AsSpan(0, bytes.Length - 1)), end.Seq, archiveName, end.Hash);
        _retryRotationAt = 0;
        Volatile.Write(ref _position, _header.Start);
        _committed?.Invoke([], _header.Start);
        Log.AuditRotated(_logger, Path, archive, end.Seq);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left over: start-up (temp) or the next rotation (temp) clears it; a spare archive link is only a duplicate name.
        }
    }

    /// <summary>
    /// A rotation that stopped before its rename (a crash) left the new file under its temp name
    /// and, perhaps, the live log linked under the archive name the new header names: the live
    /// log is still the whole log, so both spare names go (the next rotation redoes it).
    /// </summary>
    private static void UndoInterruptedRotation(string path, ILogger logger)
    {
        var temp = path + ".rotating";
        if (!File.Exists(temp))
        {
            return;
        }
        var first = File.ReadLines(temp).FirstOrDefault() ?? "";
        if (AuditVerifier.ParseLine(System.Text.Encoding.UTF8.GetBytes(first), out _) is { IsHeader: true, ContinuesFile: { } archive })
        {
            // Only a second name of the live log: a file of that name from an earlier chain stays.
            var archivePath = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, archive);
            if (File.Exists(archivePath) && Durable.SameFile(archivePath, path))
            {
                File.Delete(archivePath);
            }
        }
        File.Delete(temp);
        Durable.SyncDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        Log.AuditRotationUndone(logger, path);
    }

    /// <summary>
    /// Reads every record after <paramref name="from"/> (a position this log reported earlier,
    /// possibly in a file archived since by a rotation) up to the end, checking that the chain
    /// continues from it across files, and hands each to <paramref name="record"/>. Start-up
    /// only, before anything is appended. A position the log no longer holds (records cut off,
    /// the log replaced or edited, an archive missing) is AUDIT_LOG_CORRUPT.
    /// </summary>
    public void ReadAfter(AuditPosition from, Action<AuditLine> record)
    {
        var end = Position;
        if (from.Seq > end.Seq)
        {
            throw Corrupt(Path, $"the guard state was written at seq {from.Seq}, but the log ends at seq {end.Seq}: records were cut off the end of the log");
        }
        var (seq, prev) = ReadFile(Path, _header, from, record);
        if (seq != end.Seq || prev != end.Hash)
        {
            throw Corrupt(Path, $"the guard state saw this log up to seq {from.Seq}, and the log no longer matches that (a record was edited or the log replaced)");
        }
    }

    /// <summary>
    /// The records of <paramref name="path"/> (whose header is <paramref name="header"/>) after
    /// <paramref name="from"/>; when <paramref name="from"/> lies in an earlier file, that file's
    /// records after it come first. Returns the seq and hash of the last line read.
    /// </summary>
    private static (ulong Seq, string Hash) ReadFile(string path, LogHeader header, AuditPosition from, Action<AuditLine> record)
    {
        AuditPosition position;
        if (from.Seq > header.StartSeq || (from.Seq == header.StartSeq && from.Hash == header.Hash))
        {
            if (from.Offset < header.Length)
            {
                throw Corrupt(path, "the guard state points into the log's header: it belongs to another log");
            }
            position = from;
        }
        else
        {
            // The position is in (or at the end of) the file this one continues.
            if (header.ContinuesFile is null)
            {
                throw Corrupt(path, $"the guard state was written at seq {from.Seq}, before this log's first record (seq {header.StartSeq + 1}), and the log names no earlier file");
            }
            if (!(from.Seq == header.StartSeq && from.Hash == header.ContinuesHash))
            {
                var previous = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, header.ContinuesFile);
                LogHeader previousHeader;
                try
                {
                    using var file = File.OpenHandle(previous);
                    previousHeader = ReadHeader(file, RandomAccess.GetLength(file), previous);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw Corrupt(path, $"the guard state was written at seq {from.Seq}, which is in the archived log '{previous}', and that cannot be read ({e.Message})");
                }
                if (previousHeader.StartSeq >= header.StartSeq)
                {
                    throw Corrupt(path, $"it continues '{previous}' after seq {header.StartSeq}, but that file starts at seq {previousHeader.StartSeq}");
                }
                var (lastSeq, lastHash) = ReadFile(previous, previousHeader, from, record);
                if (lastSeq != header.StartSeq || lastHash != header.ContinuesHash)
                {
                    throw Corrupt(path, $"it continues '{previous}' after seq {header.StartSeq}, but that file ends at seq {lastSeq} with another hash");
                }
            }
            position = header.Start;
        }
        var seq = position.Seq;
        var prev = position.Hash;
        using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        reader.Seek(position.Offset, SeekOrigin.Begin);
        var split = LineSplitter.Split(reader, bytes =>
        {
            var parsed = AuditVerifier.ParseLine(bytes, out var problem);
            if (parsed is null || parsed.IsHeader || parsed.Seq != seq + 1 || parsed.Prev != prev)
            {
                throw Corrupt(path, $"the record after seq {seq} (where the guard state was last written) does not continue the chain ({(parsed is null ? problem : "seq or prev")})");
            }
            seq = parsed.Seq;
            prev = Hash(bytes);
            record(parsed);
            return true;
        }, AuditVerifier.MaxLineBytes);
        if (split == LineSplitter.TooLong)
        {
            throw Corrupt(path, $"the line after seq {seq} is longer than {AuditVerifier.MaxLineBytes} bytes: not an audit record");
        }
        return (seq, prev);
    }

    public static string Hash(ReadOnlySpan<byte> line) => Convert.ToHexStringLower(SHA256.HashData(line));

    private static byte[] Header(DateTimeOffset now, (string File, ulong Seq, string Hash)? continues)
    {
        var output = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteStartObject();
            json.WriteString("type", HeaderType);
            json.WriteNumber("version", Version);
            json.WriteString("genesis", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)));
            json.WriteString("created", now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", System.Globalization.CultureInfo.InvariantCulture));
            if (continues is { } previous)
            {
                json.WriteStartObject("continues");
                json.WriteString("file", previous.File);
                json.WriteNumber("seq", previous.Seq);
                json.WriteString("hash", previous.Hash);
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        return [.. output.WrittenSpan, (byte)'\n'];
    }

    /// <summary>
    /// Reads the last two lines: the last must be complete and the chain between them must hold,
    /// else start-up stops (fail closed) and the operator runs <c>verify-audit</c>.
    /// </summary>
    private static (ulong Seq, string PrevHex) ReadTail(SafeFileHandle file, long length, string path)
    {
        var size = (int)Math.Min(length, 256 * 1024);
        var tail = new byte[size];
        RandomAccess.Read(file, tail, length - size);
        if (tail[^1] != (byte)'\n')
        {
            throw Corrupt(path, "its last line is incomplete (truncated mid-line)");
        }
        var body = tail.AsSpan(0, size - 1);
        var lastStart = body.LastIndexOf((byte)'\n') + 1;
        if (lastStart == 0 && size < length)
        {
            throw Corrupt(path, "its last line is too long to be a record");
        }
        var last = body[lastStart..];
        var lastRecord = AuditVerifier.ParseLine(last, out var problem);
        if (lastRecord is null)
        {
            throw Corrupt(path, $"its last line is not a record ({problem})");
        }
        if (lastRecord.IsHeader)
        {
            return (lastRecord.Seq, Hash(last));
        }
        if (lastStart == 0)
        {
            throw Corrupt(path, "it has records but no header");
        }
        var before = body[..(lastStart - 1)];
        var previous = before[(before.LastIndexOf((byte)'\n') + 1)..];
        var previousRecord = AuditVerifier.ParseLine(previous, out problem);
        if (previousRecord is null)
        {
            throw Corrupt(path, $"its second-to-last line is not a record ({problem})");
        }
        if (lastRecord.Prev != Hash(previous) || lastRecord.Seq != previousRecord.Seq + 1)
        {
            throw Corrupt(path, "its last two records do not chain");
        }
        return (lastRecord.Seq, Hash(last));
    }

    /// <summary>The header line: where the chain starts, and the file it continues after a rotation.</summary>
    private static LogHeader ReadHeader(SafeFileHandle file, long length, string path)
    {
        var head = new byte[(int)Math.Min(length, 4096)];
        RandomAccess.Read(file, head, 0);
        var newline = head.AsSpan().IndexOf((byte)'\n');
        if (newline < 0 || AuditVerifier.ParseLine(head.AsSpan(0, newline), out _) is not { IsHeader: true } header)
        {
            throw Corrupt(path, "its first line is not the header");
        }
        return new LogHeader(newline + 1, Hash(head.AsSpan(0, newline)), header.Seq, header.ContinuesFile, header.ContinuesFile is null ? null : header.Prev);
    }

    private static SignerException Corrupt(string path, string what) => new(ErrorKind.Configuration, "AUDIT_LOG_CORRUPT",
        $"the audit log '{path}' cannot be continued: {what}; run 'uncoded-signer verify-audit --log {path}'");

    /// <summary>Commits what is queued, stops the committer, closes the file.</summary>
    public void Dispose()
    {
        _commit.Dispose();
        _stream.Dispose();
        _lock.Dispose();
    }
}
