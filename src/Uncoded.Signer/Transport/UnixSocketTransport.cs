using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Uncoded.Signer.Hardening;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Transport;

/// <summary>
/// Kestrel on a Unix socket only: no TCP port, ever. The socket is born 0660 (umask set before
/// bind, so there is no window), a stale socket is replaced, a live one stops start-up, and
/// every connection's SO_PEERCRED is checked before the HTTP/2 handshake.
/// </summary>
internal static class UnixSocketTransport
{
    /// <summary>
    /// gRPC's limit on a received message: above <see cref="SignPipeline.MaxRequestBytes"/>, so a
    /// request a little over that gets the signer's own REQUEST_TOO_LARGE; beyond this one gRPC
    /// answers RESOURCE_EXHAUSTED itself, without reading the message.
    /// </summary>
    public const int MaxMessageBytes = 8 * 1024;

    /// <summary>Kestrel's request body limit: the backstop that resets anything larger without buffering it.</summary>
    public const int MaxBodyBytes = 16 * 1024;

    /// <summary>
    /// Open connections at most (refused peers included, until their check closes them). Kestrel
    /// closes connections over it at once, so a flood cannot use up the process's descriptors
    /// (at the limit, accept() failing with EMFILE in a loop took the process down).
    /// </summary>
    public const int MaxConnections = 256;

    /// <summary>
    /// Pending connections the kernel queues (Kestrel's default is 512). Kestrel accepts a queued
    /// connection before it can refuse it, so open descriptors peak at about the runtime's own
    /// (~190) + <see cref="MaxConnections"/> + this, well under a 1,024 limit (the runtime aborts
    /// when it runs out of descriptors).
    /// </summary>
    public const int Backlog = 64;

    public static void Configure(KestrelServerOptions kestrel, SignerSettings settings, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("Uncoded.Signer.PeerGuard");
        kestrel.AddServerHeader = false;
        kestrel.Limits.MaxRequestBodySize = MaxBodyBytes;
        kestrel.Limits.MaxRequestHeadersTotalSize = 8 * 1024;
        kestrel.Limits.MaxConcurrentConnections = MaxConnections;
        kestrel.Limits.MaxConcurrentUpgradedConnections = 0;
        kestrel.ListenUnixSocket(settings.SocketPath, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            listen.Use(next => context => CheckPeer(context, next, settings, logger));
        });
    }

    private static Task CheckPeer(ConnectionContext context, ConnectionDelegate next, SignerSettings settings, ILogger logger)
    {
        var socket = context.Features.Get<IConnectionSocketFeature>()?.Socket;
        PeerCredentials? peer = null;
        try
        {
            peer = socket is null ? null : PeerCredentials.Read(socket);
        }
        catch (SocketException e)
        {
            Log.PeerUnknown(logger, e.SocketErrorCode.ToString());
        }
        if (peer is null)
        {
            Log.PeerUnknown(logger, "no SO_PEERCRED");
            context.Abort(new ConnectionAbortedException("peer credentials unavailable"));
            return Task.CompletedTask;
        }
        if (!settings.AllowedUids.Contains(peer.Uid) && !settings.AllowedGids.Contains(peer.Gid))
        {
            RefusedPeers.Log(logger, peer, TimeProvider.System);
            context.Abort(new ConnectionAbortedException("peer not allowed"));
            return Task.CompletedTask;
        }
        context.Items[PeerCredentials.ItemKey] = peer;
        return next(context);
    }

    /// <summary>Before binding: a live socket means another signer is running; a dead one is removed.</summary>
    public static void PrepareSocketPath(string path, ILogger logger)
    {
        var directory = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(directory))
        {
            const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute;
            Directory.CreateDirectory(directory, mode);
            // The umask applies to mkdir: 077 would make it 0700 and lock out peers allowed by group.
            File.SetUnixFileMode(directory, mode);
        }
        var info = new FileInfo(path);
        if (!info.Exists && info.LinkTarget is null)
        {
            return;
        }
        if (!Posix.IsSocket(path))
        {
            throw new SignerException(ErrorKind.Configuration, "SOCKET_PATH_IN_USE",
                $"'{path}' exists and is not a socket; refusing to delete it");
        }
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            // Nobody listens: a signer that died without cleaning up.
            File.Delete(path);
            Log.StaleSocketRemoved(logger, path);
            return;
        }
        catch (SocketException e)
        {
            // EACCES and the like: it may well be alive (another user's); never delete what we cannot probe.
            throw new SignerException(ErrorKind.Configuration, "SOCKET_PATH_IN_USE",
                $"'{path}' is a socket this signer cannot probe ({e.SocketErrorCode}): it may be another process's; remove it by hand if it is stale");
        }
        throw new SignerException(ErrorKind.Configuration, "SOCKET_IN_USE",
            $"another process is already listening on '{path}'; stop it first or choose another Signer:SocketPath");
    }

    /// <summary>Runs <paramref name="bind"/> with umask 0117, so the socket is created 0660 with no window.</summary>
    public static async Task BindWithUmaskAsync(Func<Task> bind)
    {
        var previous = Libc.umask(0b001_001_111) /* 0117 */;
        try
        {
            await bind().ConfigureAwait(false);
        }
        finally
        {
            Libc.umask(previous);
        }
    }
}
