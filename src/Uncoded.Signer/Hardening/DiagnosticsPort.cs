using System.Runtime.InteropServices;

namespace Uncoded.Signer.Hardening;

/// <summary>
/// The .NET runtime listens on a diagnostics socket (<c>$TMPDIR/dotnet-diagnostic-&lt;pid&gt;-…-socket</c>,
/// mode 0600) whose commands include loading a profiler library into the process: any process of
/// the signer's uid could run code inside it and read the key, whatever PR_SET_DUMPABLE says. Only
/// the environment variable <c>DOTNET_EnableDiagnostics=0</c>, read when the runtime starts, turns
/// it off (a runtimeconfig property does not). So <c>serve</c> starts by replacing itself
/// (execve: same pid, same arguments and descriptors) with a runtime started with it set.
/// </summary>
internal static partial class DiagnosticsPort
{
    public const string Variable = "DOTNET_EnableDiagnostics";

    /// <summary>True when this runtime was started with the diagnostics port off.</summary>
    public static bool Disabled => Environment.GetEnvironmentVariable(Variable) == "0";

    /// <summary>
    /// Re-executes this process with <see cref="Variable"/>=0 unless it is set already. Returns
    /// only when it is set, or when the re-exec failed (then the errno, to be logged as hardening
    /// not in effect).
    /// </summary>
    public static int? DisableByReexec()
    {
        if (Disabled)
        {
            return null;
        }
        byte[] commandLine, environment;
        try
        {
            commandLine = File.ReadAllBytes("/proc/self/cmdline");
            environment = File.ReadAllBytes("/proc/self/environ");
        }
        catch (IOException)
        {
            return -1;
        }
        var arguments = Split(commandLine);
        var variables = Split(environment)
            .Where(v => !StartsWith(v, "DOTNET_EnableDiagnostics=") && !StartsWith(v, "COMPlus_EnableDiagnostics="))
            .Append(System.Text.Encoding.ASCII.GetBytes(Variable + "=0"))
            .ToList();
        RemoveOwnSocket();
        return Exec("/proc/self/exe"u8, arguments, variables);
    }

    /// <summary>The socket file the first runtime left behind (the new one creates none).</summary>
    private static void RemoveOwnSocket()
    {
        try
        {
            foreach (var socket in Directory.GetFiles(Path.GetTempPath(), $"dotnet-diagnostic-{Environment.ProcessId}-*-socket"))
            {
                File.Delete(socket);
            }
        }
        catch (IOException)
        {
            // Only a stale file: nothing listens on it once the process image is replaced.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static List<byte[]> Split(byte[] nulSeparated)
    {
        var parts = new List<byte[]>();
        var start = 0;
        for (var i = 0; i < nulSeparated.Length; i++)
        {
            if (nulSeparated[i] == 0)
            {
                parts.Add(nulSeparated[start..i]);
                start = i + 1;
            }
        }
        return parts;
    }

    private static bool StartsWith(byte[] value, string prefix) => value.AsSpan().StartsWith(System.Text.Encoding.ASCII.GetBytes(prefix));

    private static unsafe int Exec(ReadOnlySpan<byte> path, List<byte[]> arguments, List<byte[]> variables)
    {
        var allocated = new List<IntPtr>();
        try
        {
            byte** argv = NullTerminated(arguments, allocated);
            byte** envp = NullTerminated(variables, allocated);
            var file = CString(path, allocated);
            _ = execve(file, argv, envp);
            return Marshal.GetLastPInvokeError();
        }
        finally
        {
            foreach (var pointer in allocated)
            {
                NativeMemory.Free((void*)pointer);
            }
        }
    }

    private static unsafe byte** NullTerminated(List<byte[]> strings, List<IntPtr> allocated)
    {
        var array = (byte**)NativeMemory.AllocZeroed((nuint)(strings.Count + 1), (nuint)sizeof(byte*));
        allocated.Add((IntPtr)array);
        for (var i = 0; i < strings.Count; i++)
        {
            array[i] = CString(strings[i], allocated);
        }
        return array;
    }

    private static unsafe byte* CString(ReadOnlySpan<byte> value, List<IntPtr> allocated)
    {
        var copy = (byte*)NativeMemory.AllocZeroed((nuint)value.Length + 1);
        allocated.Add((IntPtr)copy);
        value.CopyTo(new Span<byte>(copy, value.Length));
        return copy;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int execve(byte* path, byte** argv, byte** envp);
}
