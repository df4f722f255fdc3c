using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace Uncoded.Signer.Service;

/// <summary>The one place where signer errors become gRPC statuses with a google.rpc.ErrorInfo.</summary>
internal static class ErrorMapping
{
    public const string Domain = "uncoded.signer";

    public static Code ToCode(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidRequest => Code.InvalidArgument,
        ErrorKind.UnknownKey => Code.NotFound,
        ErrorKind.Denied => Code.PermissionDenied,
        ErrorKind.Exhausted => Code.ResourceExhausted,
        ErrorKind.Precondition => Code.FailedPrecondition,
        ErrorKind.Unavailable => Code.Unavailable,
        ErrorKind.Configuration => Code.FailedPrecondition,
        _ => Code.Internal,
    };

    public static RpcException ToRpcException(SignerException error)
    {
        var info = new ErrorInfo { Reason = error.Reason, Domain = Domain };
        foreach (var (key, value) in error.Metadata)
        {
            info.Metadata[key] = value;
        }
        var status = new Google.Rpc.Status
        {
            Code = (int)ToCode(error.Kind),
            Message = PeerMessage(error),
            Details = { Any.Pack(info) },
        };
        return status.ToRpcException();
    }

    /// <summary>
    /// What the caller is told. A refusal of the request says why in full; a fault of the signer
    /// itself (token gone, audit log unwritable, internal error) names only its reason: the detail
    /// (paths, token labels, errno) is in the signer's log, not handed to a possibly compromised
    /// caller.
    /// </summary>
    public static string PeerMessage(SignerException error) => error.Kind is ErrorKind.Unavailable or ErrorKind.Configuration or ErrorKind.Internal
        ? $"the signer cannot sign now ({error.Reason}); the details are in the signer's log"
        : error.Message;

    public static RpcException Internal() => ToRpcException(
        new SignerException(ErrorKind.Internal, "INTERNAL", "internal signer error; see the signer's log"));
}
