using System.Buffers.Binary;
using System.Net.Sockets;

namespace Uncoded.Signer.Transport;

/// <summary>The kernel's word on who is at the other end of a Unix socket (SO_PEERCRED).</summary>
internal sealed record PeerCredentials(int Pid, uint Uid, uint Gid)
{
    public const string ItemKey = "uncoded.peer";
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    public static PeerCredentials? Read(Socket socket)
    {
        Span<byte> buffer = stackalloc byte[12];
        var length = socket.GetRawSocketOption(SolSocket, SoPeerCred, buffer);
        if (length != 12)
        {
            return null;
        }
        return new PeerCredentials(
            BinaryPrimitives.ReadInt32LittleEndian(buffer),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer[8..]));
    }
}
