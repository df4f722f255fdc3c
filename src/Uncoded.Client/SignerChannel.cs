using System.Net.Sockets;
using Grpc.Net.Client;

namespace Uncoded.Client;

/// <summary>Opens gRPC channels to the signer over its Unix socket.</summary>
public static class SignerChannel
{
    /// <summary>Creates a channel whose every connection goes to the Unix socket at <paramref name="socketPath"/>.</summary>
    /// <param name="socketPath">Absolute path of the signer's socket.</param>
    public static GrpcChannel ForUnixSocket(string socketPath)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = handler,
            // Disposing the channel closes its connections (they would otherwise stay open until
            // idle, and a caller creating a client per call could use up the signer's 256).
            DisposeHttpClient = true,
            MaxReceiveMessageSize = 64 * 1024,
        });
    }
}
