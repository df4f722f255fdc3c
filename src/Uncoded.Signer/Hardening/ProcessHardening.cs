using System.Runtime.InteropServices;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Hardening;

/// <summary>
/// What <c>serve</c> does to itself before any key is loaded: no core dumps and no ptrace or
/// /proc/&lt;pid&gt;/mem access by same-uid processes without CAP_SYS_PTRACE (not dumpable),
/// and it refuses to run from a socket directory or config file others could write. Every
/// measure is logged as in effect or not; none of it logs anything secret.
/// </summary>
internal static class ProcessHardening
{
    private const UnixFileMode WritableByOthers = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>Not dumpable and RLIMIT_CORE 0. Failures are logged, not fatal: the other layers still hold.</summary>
    public static void LockDownProcess(ILogger logger, int? diagnosticsError)
    {
        if (DiagnosticsPort.Disabled)
        {
            Log.HardeningApplied(logger, "no .NET diagnostics port (DOTNET_EnableDiagnostics=0: no profiler, debugger or dump requests from same-uid processes)");
        }
        else
        {
            Log.HardeningMissing(logger, $"the .NET diagnostics port is open: same-uid processes could load code into the signer; set DOTNET_EnableDiagnostics=0 in its environment (re-exec failed: errno {diagnosticsError})");
        }
        if (Libc.prctl(Libc.PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 && Libc.prctl(Libc.PR_GET_DUMPABLE, 0, 0, 0, 0) == 0)
        {
            Log.HardeningApplied(logger, "process not dumpable (PR_SET_DUMPABLE 0, verified with PR_GET_DUMPABLE)");
        }
        else
        {
            Log.HardeningMissing(logger, $"PR_SET_DUMPABLE 0 failed (errno {Marshal.GetLastPInvokeError()})");
        }
        var none = new Libc.RLimit { Current = 0, Max = 0 };
        if (Libc.setrlimit(Libc.RLIMIT_CORE, none) == 0 && Libc.getrlimit(Libc.RLIMIT_CORE, out var core) == 0 && core.Max == 0)
        {
            Log.HardeningApplied(logger, "no core dumps (RLIMIT_CORE 0/0)");
        }
        else
        {
            Log.HardeningMissing(logger, $"RLIMIT_CORE 0 failed (errno {Marshal.GetLastPInvokeError()})");
        }
    }

    /// <summary>
    /// Refuses (BAD_PERMISSIONS) a group- or world-writable config file, socket directory, audit
    /// log directory or guard state directory: whoever can write them can swap the socket, the
    /// configuration, the log or the rolling totals. Directories that do not exist yet are created 0700 later.
    /// </summary>
    /// <remarks>
    /// Like ssh's StrictModes: each of them, and every directory above it up to /, must belong to
    /// root or to the signer's user and must not be writable by group or others (a directory
    /// above may be, with the sticky bit, as /tmp is: others cannot rename or delete what is in
    /// it). Whoever can write a directory above can rename the audit or state directory away and
    /// reset the rolling caps, or swap the config.
    /// </remarks>
    public static void CheckPermissions(FileInfo configFile, SignerSettings settings)
    {
        var problems = new List<string>();
        var self = Libc.geteuid();
        CheckOwnedAndClosed("config file", configFile.FullName, self, problems);
        foreach (var (what, directory) in new[]
        {
            ("socket directory", Path.GetDirectoryName(settings.SocketPath)!),
            ("audit log directory", Path.GetDirectoryName(Path.GetFullPath(settings.AuditPath))!),
            ("guard state directory", Path.GetFullPath(settings.StateDirectory)),
        })
        {
            if (Directory.Exists(directory))
            {
                CheckOwnedAndClosed(what, directory, self, problems);
            }
        }
        var checkedAbove = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in new[] { configFile.FullName, settings.SocketPath, Path.GetFullPath(settings.AuditPath), Path.GetFullPath(settings.StateDirectory) })
        {
            for (var above = Path.GetDirectoryName(path); above is not null; above = Path.GetDirectoryName(above))
            {
                if (!checkedAbove.Add(above) || !Directory.Exists(above))
                {
                    continue;
                }
                if (!Posix.TryStat(above, out var mode, out var owner))
                {
                    problems.Add($"'{above}' cannot be checked");
                }
                else if (owner != 0 && owner != self)
                {
                    problems.Add($"'{above}' (above the {Describe(path, configFile, settings)}) belongs to uid {owner}, not to root or the signer (uid {self})");
                }
                else if ((mode & (uint)WritableByOthers) != 0 && (mode & Posix.StickyBit) == 0)
                {
                    problems.Add($"'{above}' (above the {Describe(path, configFile, settings)}) is writable by group or others without the sticky bit");
                }
            }
        }
        if (problems.Count > 0)
        {
            throw new SignerException(ErrorKind.Configuration, "BAD_PERMISSIONS",
                string.Join("; ", problems) + "; fix with chmod go-w / chown (each, and every directory above, must be root's or the signer's, not writable by others)");
        }
    }

    private static string Describe(string path, FileInfo configFile, SignerSettings settings) =>
        path == configFile.FullName ? "config file" : path == settings.SocketPath ? "socket" : path == Path.GetFullPath(settings.AuditPath) ? "audit log" : "guard state";

    private static void CheckOwnedAndClosed(string what, string path, uint self, List<string> problems)
    {
        if (!Posix.TryStat(path, out var mode, out var owner))
        {
            problems.Add($"{what} '{path}' cannot be checked");
        }
        else if ((mode & (uint)WritableByOthers) != 0)
        {
            problems.Add($"{what} '{path}' is writable by group or others");
        }
        else if (owner != 0 && owner != self)
        {
            problems.Add($"{what} '{path}' belongs to uid {owner}, not to root or the signer (uid {self})");
        }
    }

    /// <summary>Logs whether the key buffers loaded so far are locked in RAM and excluded from core dumps.</summary>
    public static void ReportKeyMemory(ILogger logger)
    {
        var (locked, unlocked, excluded, notExcluded) = LockedBuffer.Stats;
        var text = $"secret buffers (keys, PINs): {locked} of {locked + unlocked} locked in RAM (mlock), {excluded} of {excluded + notExcluded} excluded from dumps (MADV_DONTDUMP); Ed25519 keys live in libsodium's guarded memory";
        if (unlocked == 0 && notExcluded == 0)
        {
            Log.HardeningApplied(logger, text);
        }
        else
        {
            Log.HardeningMissing(logger, text + " (raise RLIMIT_MEMLOCK or grant CAP_IPC_LOCK)");
        }
    }
}
