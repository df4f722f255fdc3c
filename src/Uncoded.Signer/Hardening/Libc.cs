using System.Runtime.InteropServices;

namespace Uncoded.Signer.Hardening;

/// <summary>The few libc calls the signer needs (Linux).</summary>
internal static partial class Libc
{
    public const int MADV_DONTDUMP = 16;
    public const int PR_SET_DUMPABLE = 4;
    public const int PR_GET_DUMPABLE = 3;
    public const int RLIMIT_CORE = 4;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int mlock(nint addr, nuint len);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munlock(nint addr, nuint len);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int madvise(nint addr, nuint len, int advice);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setrlimit(int resource, in RLimit limit);

    [LibraryImport("libc")]
    public static partial uint umask(uint mask);

    public const int O_RDONLY = 0;
    public const int O_DIRECTORY = 0x10000;
    public const int O_CLOEXEC = 0x80000;

    public const int O_WRONLY = 1;
    public const int O_CREAT = 0x40;
    public const int O_TRUNC = 0x200;
    public const int O_NOFOLLOW = 0x20000;
    public const int EINTR = 4;

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int open(string path, int flags);

    /// <summary>open(2) with a creation mode (the third, variadic argument).</summary>
    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int open(string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    public static unsafe partial nint write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int rename(string oldPath, string newPath);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int link(string oldPath, string newPath);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fdatasync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getrlimit(int resource, out RLimit limit);

    [LibraryImport("libc")]
    public static partial uint getuid();

    [LibraryImport("libc")]
    public static partial uint geteuid();

    [LibraryImport("libc")]
    public static partial uint getgid();

    [LibraryImport("libc")]
    public static partial int getpid();

    [LibraryImport("libc")]
    public static partial int getpagesize();

    [StructLayout(LayoutKind.Sequential)]
    public struct RLimit
    {
        public ulong Current;
        public ulong Max;
    }
}
