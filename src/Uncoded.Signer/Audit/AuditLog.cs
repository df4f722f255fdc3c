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
    private readonly FileStream _stream;
    private readonly SafeFileHandle _file;
    private readonly GroupCommit<AuditEntry> _commit;
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly ArrayBufferWriter<byte> _line = new(8 * 1024);
    private readonly long _headerLength;
    private readonly string _headerHash;
    private AuditPosition _position;
    private Action<List<AuditEntry>, AuditPosition>? _committed;

    private AuditLog(string path, FileStream lockFile, FileStream stream, AuditPosition position, long headerLength, string headerHash, ILogger logger)
    {
        Path = path;
        _lock = lockFile;
        _stream = stream;
        _file = stream.SafeFileHandle;
        _position = position;
        _headerLength = headerLength;
        _headerHash = headerHash;
        _commit = new GroupCommit<AuditEntry>("AUDIT_UNAVAILABLE", "audit log", Commit,
            e => Log.AuditFailed(logger, path, e.GetType().Name, e.Message));
    }

    public string Path { get; }

    /// <summary>The sequence number of the last record on disk.</summary>
    public ulong LastSeq => Position.Seq;

    /// <summary>Where the log ends: last seq, its end offset and the hash of its last line.</summary>
    public AuditPosition Position => Volatile.Read(ref _position);

    /// <summary>Where the first record goes: right after the header line.</summary>
    public AuditPosition Start => new(0, _headerLength, _headerHash);

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
    public static AuditLog Open(string path, TimeProvider time, ILogger logger)
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
                var header = Header(time.GetUtcNow());
                RandomAccess.Write(file, header, 0);
                Durable.DataSync(file);
                Durable.SyncDirectory(directory);
                Log.AuditCreated(logger, path);
                var headerHash = Hash(header.AsSpan(0, header.Length - 1));
                return new AuditLog(path, lockFile, stream, new AuditPosition(0, header.Length, headerHash), header.Length, headerHash, logger);
            }
            var (seq, prevHex) = ReadTail(file, length, path);
            var (headerLength, headerHashRead) = ReadHeader(file, length, path);
            Log.AuditContinued(logger, path, seq);
            return new AuditLog(path, lockFile, stream, new AuditPosition(seq, length, prevHex), headerLength, headerHashRead, logger);
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
    }

    /// <summary>
    /// Reads every record after <paramref name="from"/> (a position this log reported earlier) up
    /// to the end, checking that the chain continues from it, and hands each to
    /// <paramref name="record"/>. Start-up only, before anything is appended. A position the log
    /// no longer holds (records cut off, the log replaced or edited) is AUDIT_LOG_CORRUPT.
    /// </summary>
    public void ReadAfter(AuditPosition from, Action<AuditLine> record)
    {
        var end = Position;
        if (from.Seq > end.Seq || from.Offset > end.Offset)
        {
            throw Corrupt(Path, $"the guard state was written at seq {from.Seq}, but the log ends at seq {end.Seq}: records were cut off the end of the log");
        }
        if (from.Offset < _headerLength)
        {
            throw Corrupt(Path, "the guard state points into the log's header: it belongs to another log");
        }
        var seq = from.Seq;
        var prev = from.Hash;
        // Start-up only: nothing appends while this reads, so the stream ends where the log does.
        using var reader = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        reader.Seek(from.Offset, SeekOrigin.Begin);
        LineSplitter.Split(reader, bytes =>
        {
            var parsed = AuditVerifier.ParseLine(bytes, out var problem);
            if (parsed is null || parsed.IsHeader || parsed.Seq != seq + 1 || parsed.Prev != prev)
            {
                throw Corrupt(Path, $"the record after seq {seq} (where the guard state was last written) does not continue the chain ({(parsed is null ? problem : "seq or prev")})");
            }
            seq = parsed.Seq;
            prev = Hash(bytes);
            record(parsed);
            return true;
        });
        if (seq != end.Seq || prev != end.Hash)
        {
            throw Corrupt(Path, $"the guard state saw this log up to seq {from.Seq}, and the log no longer matches that (a record was edited or the log replaced)");
        }
    }

    public static string Hash(ReadOnlySpan<byte> line) => Convert.ToHexStringLower(SHA256.HashData(line));

    private static byte[] Header(DateTimeOffset now)
    {
        var output = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteStartObject();
            json.WriteString("type", HeaderType);
            json.WriteNumber("version", Version);
            json.WriteString("genesis", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)));
            json.WriteString("created", now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", System.Globalization.CultureInfo.InvariantCulture));
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
            return (0, Hash(last));
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

    /// <summary>The header line's length (with its newline) and hash: where the chain starts.</summary>
    private static (long Length, string Hash) ReadHeader(SafeFileHandle file, long length, string path)
    {
        var head = new byte[(int)Math.Min(length, 4096)];
        RandomAccess.Read(file, head, 0);
        var newline = head.AsSpan().IndexOf((byte)'\n');
        if (newline < 0 || AuditVerifier.ParseLine(head.AsSpan(0, newline), out _) is not { IsHeader: true })
        {
            throw Corrupt(path, "its first line is not the header");
        }
        return (newline + 1, Hash(head.AsSpan(0, newline)));
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
