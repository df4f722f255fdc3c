using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using Uncoded.Signer.V1;

namespace Uncoded.Client;

/// <summary>
/// A thin client for the signer's one RPC. Keep one per process and share it: it holds one
/// HTTP/2 connection (the signer accepts at most 256 at once); disposing it closes the connection.
/// </summary>
public sealed class SignerClient : IDisposable
{
    /// <summary>How long a call may take when the caller gives no timeout.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The error domain of the signer's ErrorInfo details.</summary>
    public const string ErrorDomain = "uncoded.signer";

    private readonly GrpcChannel _channel;
    private readonly Signer.V1.Signer.SignerClient _client;
    private readonly TimeSpan _timeout;

    /// <summary>Connects to the signer's Unix socket (lazily, on the first call).</summary>
    /// <param name="socketPath">Absolute path of the signer's socket.</param>
    /// <param name="timeout">Deadline of each call (default <see cref="DefaultTimeout"/>): a stopped or hung signer cannot hang the caller.</param>
    public SignerClient(string socketPath, TimeSpan? timeout = null)
    {
        _timeout = timeout ?? DefaultTimeout;
        if (_timeout <= TimeSpan.Zero || _timeout.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), _timeout, "the timeout must be positive and at most 24 days");
        }
        _channel = SignerChannel.ForUnixSocket(socketPath);
        _client = new Signer.V1.Signer.SignerClient(_channel);
    }

    /// <summary>Asks the signer to sign <paramref name="payload"/> (the exact query string + body to send).</summary>
    /// <remarks>
    /// A call that timed out or lost its connection may still have been signed (and counted
    /// against the rolling cap): the signer's audit log says.
    /// </remarks>
    /// <exception cref="SignerRefusedException">The signer (or its gRPC layer) answered with a refusal; <see cref="SignerRefusedException.Reason"/> says why.</exception>
    /// <exception cref="SignerUnavailableException">The signer could not be reached or did not answer in time.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<SignResponse> SignAsync(string keyId, string method, string path, ReadOnlyMemory<byte> payload,
        CancellationToken cancellationToken = default)
    {
        // A client-side timeout, not a gRPC deadline: a deadline is a header whose value changes
        // every call and makes the server arm a timer per call; the signer needs none of its own.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            return await _client.SignAsync(new SignRequest
            {
                KeyId = keyId,
                Method = method,
                Path = path,
                Payload = ByteString.CopyFrom(payload.Span),
            }, cancellationToken: timeout.Token).ConfigureAwait(false);
        }
        catch (RpcException e) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("the Sign call was cancelled", e, cancellationToken);
        }
        catch (RpcException e) when (timeout.IsCancellationRequested)
        {
            throw new SignerUnavailableException(StatusCode.DeadlineExceeded, $"no answer from the signer within {_timeout.TotalSeconds:0.###} s", e);
        }
        catch (RpcException e)
        {
            throw SignerCallException.From(e);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _channel.Dispose();
}

/// <summary>A Sign call that did not return a signature: <see cref="SignerRefusedException"/> or <see cref="SignerUnavailableException"/>.</summary>
public abstract class SignerCallException : Exception
{
    /// <summary>Creates the exception.</summary>
    protected SignerCallException(StatusCode code, string message, Exception inner)
        : base(message, inner)
    {
        Code = code;
    }

    /// <summary>The gRPC status code.</summary>
    public StatusCode Code { get; }

    /// <summary>Sorts a gRPC error: the signer's own refusals (ErrorInfo in its domain) and the gRPC layer's answers are refusals; no answer is unavailability.</summary>
    public static SignerCallException From(RpcException e)
    {
        ErrorInfo? info = null;
        try
        {
            info = e.GetRpcStatus()?.GetDetail<ErrorInfo>();
        }
        catch (InvalidProtocolBufferException)
        {
            // A malformed detail: treated as none.
        }
        if (info is not null && info.Domain == SignerClient.ErrorDomain)
        {
            return new SignerRefusedException(e.StatusCode, info.Reason, e.Status.Detail, info.Metadata.ToDictionary(p => p.Key, p => p.Value), e);
        }
        if (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown or StatusCode.Cancelled)
        {
            return new SignerUnavailableException(e.StatusCode, e.Status.Detail, e);
        }
        return new SignerRefusedException(e.StatusCode, e.StatusCode.ToString(), e.Status.Detail, new Dictionary<string, string>(), e);
    }
}

/// <summary>A refusal: the gRPC status plus the stable <see cref="Reason"/> from the signer's ErrorInfo. Retrying the same request gets the same answer.</summary>
public sealed class SignerRefusedException : SignerCallException
{
    /// <summary>Creates the exception.</summary>
    public SignerRefusedException(StatusCode code, string reason, string message, IReadOnlyDictionary<string, string> metadata, Exception inner)
        : base(code, message, inner)
    {
        Reason = reason;
        Metadata = metadata;
    }

    /// <summary>Stable machine-readable reason (e.g. UNKNOWN_KEY), or the status code name when the gRPC layer refused (e.g. a message over 8 KiB).</summary>
    public string Reason { get; }

    /// <summary>ErrorInfo metadata (rule, observed, limit, ...).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
}

/// <summary>No answer: the socket is missing or refused, the connection broke, or the deadline passed. The call may or may not have been signed.</summary>
public sealed class SignerUnavailableException : SignerCallException
{
    /// <summary>Creates the exception.</summary>
    public SignerUnavailableException(StatusCode code, string message, Exception inner)
        : base(code, message, inner)
    {
    }
}
