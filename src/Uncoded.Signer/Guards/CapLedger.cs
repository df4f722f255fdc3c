using System.Text.Json;
using Uncoded.Signer.Audit;
using Uncoded.Signer.Hardening;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Guards;

/// <summary>
/// The durable side of the rolling 24 h caps. The audit log is their write-ahead record: each
/// allowed order's record carries the notional it added and is on disk before the signature
/// leaves; an order whose signature then fails gets an <c>unsigned</c> record giving it back. This ledger follows the log's commits, keeping every key's window as of the last
/// record on disk, and writes it with that log position as a checkpoint
/// (<c>StateDirectory/rolling-cap.json</c>) at start-up, every <see cref="CheckpointInterval"/>
/// and at shutdown. Start-up loads the checkpoint and replays the records after it, so a crash
/// or a kill never loses a counted order and never counts one twice.
/// </summary>
internal sealed class CapLedger : IDisposable
{
    public const string FileName = "rolling-cap.json";
    public const int Version = 2;
    public static readonly TimeSpan CheckpointInterval = TimeSpan.FromSeconds(10);
    private const string LegacyPattern = "*.rolling.json";

    private readonly object _gate = new();
    private readonly object _writeGate = new();
    private readonly Dictionary<string, RollingWindow> _windows;
    private readonly string _path;
    private readonly string _directory;
    private readonly ILogger _logger;
    private AuditPosition _position;
    private AuditPosition? _written;
    private readonly TimeProvider _time;
    private readonly SteadyClock _steady;
    private ITimer? _timer;
    private bool _failing;

    private CapLedger(string directory, Dictionary<string, RollingWindow> windows, AuditPosition position, TimeProvider time, ILogger logger)
    {
        _directory = directory;
        _path = Path.Combine(directory, FileName);
        _windows = windows;
        _position = position;
        _time = time;
        _steady = new SteadyClock(time);
        _logger = logger;
    }

    /// <summary>
    /// Rebuilds the windows from the checkpoint and the audit records after it, writes a fresh
    /// checkpoint and starts following <paramref name="audit"/>. Fails closed: a checkpoint that
    /// cannot be read, or that the log does not continue, stops start-up.
    /// </summary>
    public static CapLedger Open(string stateDirectory, AuditLog audit, TimeProvider time, ILogger logger)
    {
        var path = Path.Combine(stateDirectory, FileName);
        Dictionary<string, RollingWindow> windows;
        AuditPosition from;
        if (File.Exists(path))
        {
            try
            {
                (windows, from) = Read(File.ReadAllBytes(path));
            }
            catch (FormatException e)
            {
                throw new SignerException(ErrorKind.Configuration, "GUARD_STATE_CORRUPT",
                    $"guard state '{path}' cannot be read ({e.Message}); refusing to start with an unknown 24 h total", inner: e);
            }
        }
        else if (audit.Continues is { } archived)
        {
            // The orders of the last 24 h may be in the archived files: without the checkpoint that
            // summed them up, the caps would start too low.
            throw new SignerException(ErrorKind.Configuration, "GUARD_STATE_MISSING",
                $"the audit log '{audit.Path}' continues '{archived}' (it was rotated), but there is no rolling-cap checkpoint '{path}': " +
                "restore it, or, to start the 24 h caps from zero, move the audit log and its archives away");
        }
        else
        {
            // No checkpoint: replay the whole log. Records of builds before the write-ahead cap carry
            // no notional; those builds kept each key's window in <key>.rolling.json, imported here.
            windows = ImportLegacy(stateDirectory, audit, logger);
            from = audit.Start;
        }
        var replayed = 0;
        var released = 0;
        var giveBacks = new GiveBacks();
        audit.ReadAfter(from, record =>
        {
            // An order allowed before the checkpoint is in its windows already: only later ones can be checked.
            if (!giveBacks.Follow(record, from.Seq))
            {
                throw new SignerException(ErrorKind.Configuration, "AUDIT_LOG_CORRUPT",
                    $"the audit log's record {record.Seq} gives back seq {record.AllowedSeq}, which is not an allowed order of that key, time and notional, or was given back already; run 'uncoded-signer verify-audit --log {audit.Path}'");
            }
            switch (Follow(windows, record.Key, record.Allowed, record.Notional, record.Time, record.AllowedTime))
            {
                case Effect.Counted:
                    replayed++;
                    break;
                case Effect.Released:
                    released++;
                    break;
            }
        });
        Log.CapReplayed(logger, replayed, from.Seq, released, audit.LastSeq);
        var ledger = new CapLedger(stateDirectory, windows, audit.Position, time, logger);
        try
        {
            ledger.Checkpoint();
            DeleteLegacy(stateDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SignerException(ErrorKind.Configuration, "GUARD_STATE_UNAVAILABLE", $"cannot write the guard state '{path}': {e.Message}", inner: e);
        }
        audit.OnCommitted(ledger.Apply);
        ledger._timer = time.CreateTimer(static self => ((CapLedger)self!).TryCheckpoint(), ledger, CheckpointInterval, CheckpointInterval);
        return ledger;
    }

    /// <summary>
    /// Reads the per-key state files (version 1) of builds that persisted the window before every
    /// order: each holds every order its build signed, and no record of that build counts in the
    /// replay. A file that saw more of the log than the log now holds stops start-up, as before.
    /// </summary>
    private static Dictionary<string, RollingWindow> ImportLegacy(string stateDirectory, AuditLog audit, ILogger logger)
    {
        var windows = new Dictionary<string, RollingWindow>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(stateDirectory, LegacyPattern))
        {
            try
            {
                using var document = JsonDocument.Parse(File.ReadAllBytes(path));
                var root = document.RootElement;
                if (root.GetProperty("version").GetInt32() != 1)
                {
                    throw new FormatException("unknown version");
                }
                var keyId = root.GetProperty("key").GetString() ?? throw new FormatException("no key");
                var seq = root.GetProperty("auditSeq").GetUInt64();
                if (seq > audit.LastSeq)
                {
                    throw new SignerException(ErrorKind.Configuration, "AUDIT_LOG_CORRUPT",
                        $"guard state '{path}' was written after audit seq {seq}, but the audit log ends at seq {audit.LastSeq}: records were cut off the end of the log");
                }
                windows[keyId] = RollingWindow.ReadFrom(root.GetProperty("minutes"));
                Log.CapLegacyImported(logger, keyId, path);
            }
            catch (Exception e) when (IsMalformed(e))
            {
                throw new SignerException(ErrorKind.Configuration, "GUARD_STATE_CORRUPT",
                    $"guard state '{path}' cannot be read ({e.GetType().Name}); refusing to start with an unknown 24 h total", inner: e);
            }
        }
        return windows;
    }

    /// <summary>Once the checkpoint holds them, the imported files go (else a lost checkpoint would import them again).</summary>
    private static void DeleteLegacy(string stateDirectory)
    {
        var any = false;
        foreach (var path in Directory.EnumerateFiles(stateDirectory, LegacyPattern))
        {
            File.Delete(path);
            any = true;
        }
        if (any)
        {
            Durable.SyncDirectory(stateDirectory);
        }
    }

    /// <summary>A copy of <paramref name="keyId"/>'s window as of the last record on disk.</summary>
    public RollingWindow Snapshot(string keyId)
    {
        lock (_gate)
        {
            return Window(_windows, keyId).Clone();
        }
    }

    /// <summary>Called by the audit log after each batch is on disk.</summary>
    private void Apply(List<AuditEntry> batch, AuditPosition end)
    {
        lock (_gate)
        {
            foreach (var entry in batch)
            {
                // As the line reads back: an unsigned record's allowedTime (see AuditEntry.WriteLine).
                Follow(_windows, entry.KeyId, entry.Allowed, entry.Notional, entry.Time,
                    entry.AllowedSeq is null ? null : entry.AllowedTime.GetValueOrDefault(entry.Time));
            }
            _position = end;
        }
    }

    /// <summary>Writes the checkpoint (atomic replace, then directory fsync) if the log moved since the last one.</summary>
    public void Checkpoint()
    {
        lock (_writeGate)
        {
            byte[] content;
            AuditPosition position;
            lock (_gate)
            {
                position = _position;
                if (position == _written)
                {
                    return;
                }
                // Memory and file stay bounded: what left the window goes, by a clock a forward
                // step of the wall clock cannot push (the records keep their wall-clock minutes).
                var steadyMs = _steady.Now(_time.GetUtcNow().ToUnixTimeMilliseconds());
                foreach (var window in _windows.Values)
                {
                    window.Prune(steadyMs);
                }
                content = Write(_windows, position);
            }
            Durable.ReplaceFile(_path, content);
            Durable.SyncDirectory(_directory);
            _written = position;
        }
    }

    private void TryCheckpoint()
    {
        try
        {
            Checkpoint();
            if (_failing)
            {
                _failing = false;
                Log.CapCheckpointRecovered(_logger, _path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The audit log still holds every counted order: nothing is lost, start-up only replays more.
            if (!_failing)
            {
                _failing = true;
                Log.CapCheckpointFailed(_logger, _path, e.GetType().Name, e.Message);
            }
        }
    }

    private enum Effect
    {
        None,
        Counted,
        Released,
    }

    /// <summary>
    /// What one record does to its key's window, live or on replay: an allowed order adds its
    /// notional; an unsigned record (<paramref name="allowedTime"/> set) takes it back from the order's minute.
    /// </summary>
    private static Effect Follow(Dictionary<string, RollingWindow> windows, string keyId, bool allowed, decimal? notional,
        DateTimeOffset time, DateTimeOffset? allowedTime)
    {
        if (notional is not { } amount)
        {
            return Effect.None;
        }
        if (allowedTime is { } at)
        {
            Window(windows, keyId).Release(at.ToUnixTimeMilliseconds(), amount);
            return Effect.Released;
        }
        if (!allowed)
        {
            return Effect.None;
        }
        Window(windows, keyId).Add(time.ToUnixTimeMilliseconds(), amount);
        return Effect.Counted;
    }

    private static RollingWindow Window(Dictionary<string, RollingWindow> windows, string keyId)
    {
        if (!windows.TryGetValue(keyId, out var window))
        {
            window = new RollingWindow();
            windows[keyId] = window;
        }
        return window;
    }

    private static byte[] Write(Dictionary<string, RollingWindow> windows, AuditPosition position)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteNumber("version", Version);
            json.WriteNumber("auditSeq", position.Seq);
            json.WriteNumber("auditOffset", position.Offset);
            json.WriteString("auditHash", position.Hash);
            json.WriteStartObject("keys");
            foreach (var (keyId, window) in windows)
            {
                json.WritePropertyName(keyId);
                window.WriteTo(json);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    /// <summary>Reads a checkpoint written by <see cref="Write"/>; throws <see cref="FormatException"/> on anything else.</summary>
    private static (Dictionary<string, RollingWindow> Windows, AuditPosition Position) Read(byte[] bytes)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            if (root.GetProperty("version").GetInt32() != Version)
            {
                throw new FormatException("unknown version");
            }
            var hash = root.GetProperty("auditHash").GetString();
            if (hash is not { Length: 64 })
            {
                throw new FormatException("auditHash is not a SHA-256 hex digest");
            }
            var position = new AuditPosition(root.GetProperty("auditSeq").GetUInt64(), root.GetProperty("auditOffset").GetInt64(), hash);
            var windows = new Dictionary<string, RollingWindow>(StringComparer.Ordinal);
            foreach (var key in root.GetProperty("keys").EnumerateObject())
            {
                windows[key.Name] = RollingWindow.ReadFrom(key.Value);
            }
            return (windows, position);
        }
        catch (Exception e) when (IsMalformed(e) && e is not FormatException)
        {
            throw new FormatException(e.GetType().Name, e);
        }
    }

    /// <summary>What reading a state file that is not what we wrote throws (JsonElement access included).</summary>
    private static bool IsMalformed(Exception e) =>
        e is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or OverflowException or FormatException;

    /// <summary>Stops the timer and writes a last checkpoint (a failure is logged: the log still holds everything).</summary>
    public void Dispose()
    {
        // DisposeAsync waits for a checkpoint the timer may be writing right now.
        _timer?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        TryCheckpoint();
    }
}
