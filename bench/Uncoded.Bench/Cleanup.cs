using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Uncoded.Testing;

namespace Uncoded.Bench;

/// <summary>What a signal does to the harness: kill its child processes (signers, tools), delete its temp directories, exit.</summary>
internal static class Cleanup
{
    public static void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        foreach (var child in Children(Environment.ProcessId))
        {
            try
            {
                using var process = Process.GetProcessById(child);
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5_000);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Gone already.
            }
        }
        TempDir.DeleteAllLive();
        Console.Error.WriteLine($"benchmark stopped by {context.Signal}; child processes and temp files removed");
        Environment.Exit(context.Signal == PosixSignal.SIGINT ? 130 : 143);
    }

    /// <summary>Pids whose parent is <paramref name="parent"/> (from /proc/&lt;pid&gt;/stat).</summary>
    private static List<int> Children(int parent)
    {
        var children = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            try
            {
                var stat = File.ReadAllText(Path.Combine(entry, "stat"));
                // "pid (comm) state ppid ...": comm may hold spaces, so parse after the last ')'.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == parent)
                {
                    children.Add(pid);
                }
            }
            catch (IOException)
            {
            }
        }
        return children;
    }
}
