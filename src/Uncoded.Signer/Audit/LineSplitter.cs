namespace Uncoded.Signer.Audit;

/// <summary>Gets one complete line (without its newline); returns false to stop reading.</summary>
internal delegate bool LineHandler(ReadOnlySpan<byte> line);

/// <summary>Reads a stream as '\n'-terminated lines, however its reads split them.</summary>
internal static class LineSplitter
{
    /// <summary>Returned by <see cref="Split"/> when a line is longer than its limit.</summary>
    public const int TooLong = -2;

    /// <summary>
    /// Hands every complete line to <paramref name="onLine"/> until the stream ends or the
    /// handler stops. Returns the number of bytes after the last newline (a line cut off mid-way),
    /// 0 when the stream ends with a newline, -1 when the handler stopped, or <see cref="TooLong"/>
    /// as soon as a line passes <paramref name="maxLine"/> bytes (memory stays bounded on any file).
    /// </summary>
    public static int Split(Stream stream, LineHandler onLine, int maxLine = int.MaxValue)
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
                if (line.Length + newline > maxLine)
                {
                    return TooLong;
                }
                line.Write(span[..newline]);
                span = span[(newline + 1)..];
                if (!onLine(line.GetBuffer().AsSpan(0, (int)line.Length)))
                {
                    return -1;
                }
                line.SetLength(0);
            }
            if (line.Length + span.Length > maxLine)
            {
                return TooLong;
            }
            line.Write(span);
        }
        return (int)line.Length;
    }
}
