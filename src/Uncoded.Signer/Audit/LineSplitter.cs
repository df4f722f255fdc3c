namespace Uncoded.Signer.Audit;

/// <summary>Gets one complete line (without its newline); returns false to stop reading.</summary>
internal delegate bool LineHandler(ReadOnlySpan<byte> line);

/// <summary>Reads a stream as '\n'-terminated lines, however its reads split them.</summary>
internal static class LineSplitter
{
    /// <summary>
    /// Hands every complete line to <paramref name="onLine"/> until the stream ends or the
    /// handler stops. Returns the number of bytes after the last newline (a line cut off mid-way),
    /// 0 when the stream ends with a newline, or -1 when the handler stopped.
    /// </summary>
    public static int Split(Stream stream, LineHandler onLine)
    {
        using var line = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            var span = buffer.AsSpan(0, read);
            int newline;
            while ((newline = span.IndexOf((byte)'\n')) >= 0)
            {
                line.Write(span[..newline]);
                span = span[(newline + 1)..];
                if (!onLine(line.GetBuffer().AsSpan(0, (int)line.Length)))
                {
                    return -1;
                }
                line.SetLength(0);
            }
            line.Write(span);
        }
        return (int)line.Length;
    }
}
