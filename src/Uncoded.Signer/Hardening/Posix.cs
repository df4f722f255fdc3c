using System.Runtime.InteropServices;

namespace Uncoded.Signer.Hardening;

internal static partial class Posix
{
    private const uint S_IFMT = 0xF000;
    private const uint S_IFSOCK = 0xC000;
    private const uint S_IFREG = 0x8000;

    /// <summary>True when <paramref name="path"/> is a socket (lstat, no link following).</summary>
    public static bool IsSocket(string path)
    {
        // .NET's file APIs do not expose the file type bits; statx has one layout on every
        // Linux architecture, unlike struct stat.
        return Lstat(path, out var mode) && (mode & S_IFMT) == S_IFSOCK;
    }

    /// <summary>True when <paramref name="path"/> is a regular file, following symbolic links (not a FIFO, device or directory).</summary>
    public static bool IsRegularFile(string path) => Stat(path, follow: true, out var mode, out _) && (mode & S_IFMT) == S_IFREG;

    /// <summary>Mode (type and permission bits, sticky included) and owner of <paramref name="path"/>, following links; false if it cannot be stat'ed.</summary>
    public static bool TryStat(string path, out uint mode, out uint uid) => Stat(path, follow: true, out mode, out uid);

    public const uint StickyBit = 0x200;

    /// <summary>
    /// The device and inode of <paramref name="path"/>, following links: one file whatever the
    /// path (symlinked directories, hard links). False if it cannot be stat'ed.
    /// </summary>
    public static unsafe bool TryFileId(string path, out (ulong Device, ulong Inode) id)
    {
        // struct statx: stx_ino u64 at offset 32, stx_dev_major/minor u32 at 136/140. STATX_INO = 0x100.
        var buffer = stackalloc byte[256];
        var rc = statx(-100, path, 0, 0x100, buffer);
        id = rc == 0 ? (((ulong)*(uint*)(buffer + 136) << 32) | *(uint*)(buffer + 140), *(ulong*)(buffer + 32)) : default;
        return rc == 0;
    }

    private static bool Lstat(string path, out uint mode) => Stat(path, follow: false, out mode, out _);

    private static unsafe bool Stat(string path, bool follow, out uint mode, out uint uid)
    {
        // struct statx: stx_uid is a u32 at offset 20, stx_mode a u16 at offset 28.
        // AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, STATX_TYPE | STATX_MODE | STATX_UID = 1 | 2 | 8.
        var buffer = stackalloc byte[256];
        var rc = statx(-100, path, follow ? 0 : 0x100, 1 | 2 | 8, buffer);
        mode = rc == 0 ? *(ushort*)(buffer + 28) : 0u;
        uid = rc == 0 ? *(uint*)(buffer + 20) : uint.MaxValue;
        return rc == 0;
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);
}
