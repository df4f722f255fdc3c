namespace Uncoded.Testing;

/// <summary>A private temporary directory (0700 by default), deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> Live = new();

    public TempDir(string prefix = "uncoded-test-")
    {
        // Short paths: Unix socket paths are limited to 107 bytes.
        Path = Directory.CreateTempSubdirectory(prefix).FullName;
        Live[Path] = 0;
    }

    /// <summary>Deletes every directory not disposed yet (for a process stopped by a signal).</summary>
    public static void DeleteAllLive()
    {
        foreach (var path in Live.Keys)
        {
            Delete(path);
        }
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes a file with mode 0600 (or the given mode).</summary>
    public string Write(string name, string content, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        var path = File(name);
        System.IO.File.WriteAllText(path, content);
        System.IO.File.SetUnixFileMode(path, mode);
        return path;
    }

    public void Dispose() => Delete(Path);

    private static void Delete(string path)
    {
        Live.TryRemove(path, out _);
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
