using Uncoded.Signer.Backends;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Tests.Unit;

/// <summary>Shutdown never frees key material under a signature in flight.</summary>
public sealed class KeyRingTests
{
    [Fact]
    public async Task Close_WaitsForTheSignatureInFlight_ThenFreesTheKeyAndRefusesNewOnes()
    {
        using var key = new GatedKey();
        var ring = new KeyRing([new LoadedKey("k", "api", key)]);
        Assert.True(ring.TryGet("k", out var loaded));
        var signing = ring.SignAsync(loaded, new byte[] { 1 }, default).AsTask();
        await key.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var closing = Task.Run(ring.Close);
        await Task.Delay(200);
        Assert.False(closing.IsCompleted);
        Assert.False(key.Disposed);

        key.Release.SetResult();
        Assert.Equal(new byte[] { 1 }, await signing);
        Assert.True(await closing.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(key.Disposed);
        var e = await Assert.ThrowsAsync<SignerException>(() => ring.SignAsync(loaded, new byte[] { 2 }, default).AsTask());
        Assert.Equal("SHUTTING_DOWN", e.Reason);
        Assert.Equal(1, key.Calls);
    }

    /// <summary>A key whose signature blocks until the test releases it.</summary>
    private sealed class GatedKey : ISigningKey
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Disposed { get; private set; }

        public int Calls { get; private set; }

        public KeyAlgorithm Algorithm => KeyAlgorithm.HmacSha256;

        public string? PublicKeyPem => null;

        public async ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
        {
            Calls++;
            Entered.SetResult();
            await Release.Task;
            return payload.ToArray();
        }

        public void Dispose() => Disposed = true;
    }
}
