using Grpc.Core;
using Microsoft.AspNetCore.Connections.Features;
using Uncoded.Signer.Transport;
using Uncoded.Signer.V1;

namespace Uncoded.Signer.Service;

/// <summary>The gRPC surface: one RPC. All decisions live in <see cref="SignPipeline"/>.</summary>
internal sealed class SignerService(SignPipeline pipeline, ILogger<SignerService> logger) : V1.Signer.SignerBase
{
    public override async Task<SignResponse> Sign(SignRequest request, ServerCallContext context)
    {
        var peer = context.GetHttpContext().Features.Get<IConnectionItemsFeature>()?.Items[PeerCredentials.ItemKey] as PeerCredentials;
        try
        {
            var result = await pipeline.SignAsync(request.KeyId, request.Method, request.Path, request.Payload.Memory, request.CalculateSize(), peer,
                context.CancellationToken).ConfigureAwait(false);
            Log.Signed(logger, SignPipeline.Printable(request.KeyId), request.Method, SignPipeline.Printable(request.Path), result.Algorithm);
            return new SignResponse
            {
                Signature = result.Signature,
                ApiKey = result.ApiKey,
                Algorithm = result.Algorithm,
                AuditSeq = result.AuditSeq,
            };
        }
        catch (SignerException e)
        {
            // The pipeline logged it (or, past the refusal budget, counted it).
            throw ErrorMapping.ToRpcException(e);
        }
        catch (Exception e) when (e is not RpcException and not OperationCanceledException)
        {
            Log.InternalError(logger, e.GetType().Name);
            throw ErrorMapping.Internal();
        }
    }
}
