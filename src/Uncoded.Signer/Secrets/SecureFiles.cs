using System.Security.Cryptography;
using Uncoded.Signer.Hardening;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Secrets;

/// <summary>File rules for secrets: refuse group/other access on read (like ssh), 0600 on write, never overwrite.</summary>
internal static class SecureFiles
{
    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    public static byte[] ReadPrivate(string path, int maxLength, string what)
    {
        FileInfo info;
        try
        {
            info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new SignerException(ErrorKind.Configuration, "FILE_NOT_FOUND", $"{what} '{path}' does not exist");
            }
        }
        catch (IOException e)
        {
            throw new SignerException(ErrorKind.Configuration, "FILE_UNREADABLE", $"{what} '{path}' cannot be read: {e.Message}");
        }
        if ((info.UnixFileMode & GroupOrOther) != 0)
        {
            throw new SignerException(ErrorKind.Configuration, "FILE_PERMISSIONS",
                $"{what} '{path}' is accessible by group or others (mode {Convert.ToString((int)info.UnixFileMode, 8)}); run: chmod 600 '{path}'");
        }
        if (!Posix.IsRegularFile(path))
        {
            // A FIFO or device would block start-up or feed it without end.
            throw new SignerException(ErrorKind.Configuration, "FILE_UNREADABLE", $"{what} '{path}' is not a regular file");
        }
        if (info.Length > maxLength)
        {
            throw new SignerException(ErrorKind.Configuration, "FILE_TOO_LARGE", $"{what} '{path}' is larger than {maxLength} bytes");
        }
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SignerException(ErrorKind.Configuration, "FILE_UNREADABLE", $"{what} '{path}' cannot be read: {e.Message}");
        }
    }

    /// <summary>
    /// Writes a new 0600 file durably (temp file + fsync, link into place without overwriting,
    /// directory fsync). Never replaces an existing file, and removes only the temp file it made.
    /// </summary>
    public static void WriteNewPrivate(string path, ReadOnlySpan<byte> content)
    {
        if (File.Exists(path))
        {
            throw Exists(path);
        }
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}.tmp");
        try
        {
            using var stream = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            try
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }
            catch
            {
                File.Delete(temp);
                throw;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw WriteFailed(path, e);
        }
        try
        {
            // Without overwrite, .NET links the file into place (fails if the name exists); on file
            // systems without hard links it falls back to check-then-rename, which has a race window.
            File.Move(temp, full, overwrite: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temp);
            throw File.Exists(full) ? Exists(path) : WriteFailed(path, e);
        }
        try
        {
            Durable.SyncDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SignerException(ErrorKind.InvalidRequest, "WRITE_NOT_DURABLE",
                $"'{path}' was written, but its directory could not be synced to disk ({e.Message}); run 'sync' before relying on it");
        }
    }

    private static SignerException WriteFailed(string path, Exception e) => new(ErrorKind.InvalidRequest, "WRITE_FAILED", $"cannot write '{path}': {e.Message}");

    private static SignerException Exists(string path) => new(ErrorKind.InvalidRequest, "FILE_EXISTS",
        $"'{path}' already exists; refusing to overwrite a key file (move it away first)");
}
