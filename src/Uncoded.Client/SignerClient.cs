using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using Uncoded.Signer.V1;

namespace Uncoded.Client;

/// <summary>A thin client for the signer's one RPC.</summary>
public sealed class SignerClient : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly Signer.V1.Signer.SignerClient _client;

    /// <summary>Connects to the signer's Unix socket (lazily, on the first call).</summary>
    /// <param name="socketPath">Absolute path of the signer's socket.</param>
    public SignerClient(string socketPath)
    {
        _channel = SignerChannel.ForUnixSocket(socketPath);
        _client = new Signer.V1.Signer.SignerClient(_channel);
    }

    /// <summary>Asks the signer to sign <paramref name="payload"/> (the exact query string + body to send).</summary>
    /// <exception cref="SignerRefusedException">The signer refused; <see cref="SignerRefusedException.Reason"/> says why.</exception>
    public async Task<SignResponse> SignAsync(string keyId, string method, string path, ReadOnlyMemory<byte> payload,
        CancellationToken cancellationToken = default)
    {
        try
        {
            return await _client.SignAsync(new SignRequest
            {
                KeyId = keyId,
                Method = method,
                Path = path,
                Payload = ByteString.CopyFrom(payload.Span),
            }, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw SignerRefusedException.From(e);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _channel.Dispose();
}

/// <summary>A refusal from the signer: the gRPC status plus the stable <see cref="Reason"/> from its ErrorInfo.</summary>
public sealed class SignerRefusedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SignerRefusedException(StatusCode code, string reason, string message, IReadOnlyDictionary<string, string> metadata, Exception inner)
        : base(message, inner)
    {
        Code = code;
        Reason = reason;
        Metadata = metadata;
    }

    /// <summary>The gRPC status code.</summary>
    public StatusCode Code { get; }

    /// <summary>Stable machine-readable reason (e.g. UNKNOWN_KEY), or the status code name when the signer gave none.</summary>
    public string Reason { get; }

    /// <summary>ErrorInfo metadata (rule, observed, limit, ...).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Reads the google.rpc.ErrorInfo out of a gRPC error.</summary>
    public static SignerRefusedException From(RpcException e)
    {
        var info = e.GetRpcStatus()?.GetDetail<ErrorInfo>();
        return new SignerRefusedException(e.StatusCode, info?.Reason ?? e.StatusCode.ToString(), e.Status.Detail,
            info?.Metadata.ToDictionary(p => p.Key, p => p.Value) ?? new Dictionary<string, string>(), e);
    }
}
