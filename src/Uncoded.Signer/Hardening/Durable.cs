using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Uncoded.Signer.Hardening;

/// <summary>The few flushes durability needs, with errors that say what failed.</summary>
internal static class Durable
{
    /// <summary>fdatasync: the file's data (and the size) reach the disk; timestamps may not.</summary>
    public static void DataSync(SafeFileHandle file) => Flush(file, Libc.fdatasync, "fdatasync");

    private static void Flush(SafeFileHandle file, Func<int, int> flush, string name)
    {
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            if (flush((int)file.DangerousGetHandle()) != 0)
            {
                throw new IOException($"{name} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    /// <summary>link(2): a second name for <paramref name="existing"/>; fails if <paramref name="newPath"/> exists.</summary>
    public static void Link(string existing, string newPath)
    {
        if (Libc.link(existing, newPath) != 0)
        {
            throw new IOException($"cannot link '{existing}' as '{newPath}' (errno {Marshal.GetLastPInvokeError()})");
        }
    }

    /// <summary>True when both paths name the same file (device and inode, from stat(2)).</summary>
    public static bool SameFile(string a, string b)
    {
        if (!Posix.TryFileId(a, out var first) || !Posix.TryFileId(b, out var second))
        {
            throw new IOException($"cannot stat '{a}' or '{b}' (errno {Marshal.GetLastPInvokeError()})");
        }
        return first == second;
    }

    /// <summary>fsync of a directory: makes a create or rename in it durable.</summary>
    public static void SyncDirectory(string directory)
    {
        var fd = Libc.open(directory, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory '{directory}' to fsync it (errno {Marshal.GetLastPInvokeError()})");
        }
        try
        {
            if (Libc.fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory '{directory}' failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            Libc.close(fd);
        }
    }

    /// <summary>
    /// Atomic replace: write a temp file (born 0600, never through a symlink), fsync it, rename it
    /// over <paramref name="path"/>. The caller fsyncs the directory. Plain syscalls: this runs
    /// before every admitted order is signed, and a FileStream plus File.Move cost a dozen more
    /// (flock, fstatfs, ftruncate, lseek, lstat) for nothing.
    /// </summary>
    public static unsafe void ReplaceFile(string path, ReadOnlySpan<byte> content)
    {
        var temp = path + ".tmp";
        var fd = Libc.open(temp, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC | Libc.O_NOFOLLOW, 0b110_000_000 /* 0600 */);
        if (fd < 0)
        {
            throw new IOException($"cannot create '{temp}' (errno {Marshal.GetLastPInvokeError()})");
        }
        try
        {
            fixed (byte* start = content)
            {
                var written = 0;
                while (written < content.Length)
                {
                    var n = Libc.write(fd, start + written, (nuint)(content.Length - written));
                    if (n < 0)
                    {
                        var errno = Marshal.GetLastPInvokeError();
                        if (errno == Libc.EINTR)
                        {
                            continue;
                        }
                        throw new IOException($"write to '{temp}' failed (errno {errno})");
                    }
                    written += (int)n;
                }
            }
            if (Libc.fsync(fd) != 0)
            {
                throw new IOException($"fsync of '{temp}' failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            Libc.close(fd);
        }
        if (Libc.rename(temp, path) != 0)
        {
            throw new IOException($"cannot rename '{temp}' to '{path}' (errno {Marshal.GetLastPInvokeError()})");
        }
    }

    /// <summary>
    /// Opens a file that, if created, is born 0600 (no umask window). Unbuffered: use its handle
    /// with RandomAccess. A symbolic link is refused: the signer writes its own files only, never
    /// wherever a link planted in its directory points.
    /// </summary>
    public static FileStream OpenPrivate(string path, FileMode mode, FileAccess access)
    {
        RefuseLink(path);
        return new(path, new FileStreamOptions
        {
            Mode = mode,
            Access = access,
            Share = FileShare.Read,
            BufferSize = 0,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
    }

    private static void RefuseLink(string path)
    {
        if (new FileInfo(path).LinkTarget is not null)
        {
            throw new IOException($"'{path}' is a symbolic link; the signer only opens its own files there");
        }
    }

    /// <summary>
    /// Holds an exclusive advisory lock (flock, taken by .NET for FileShare.None) on
    /// <paramref name="lockPath"/> until disposed, so two signers never write the same log or
    /// state. Throws <see cref="IOException"/> when another process holds it.
    /// </summary>
    public static FileStream Lock(string lockPath)
    {
        RefuseLink(lockPath);
        return new(lockPath, new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
            BufferSize = 0,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
    }

    /// <summary>Creates <paramref name="directory"/> 0700 if missing.</summary>
    public static void EnsurePrivateDirectory(string directory)
    {
        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
