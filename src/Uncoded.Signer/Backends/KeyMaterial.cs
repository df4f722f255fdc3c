using Uncoded.Signer.Hardening;

namespace Uncoded.Signer.Backends;

/// <summary>What a sealed file holds. The secret lives in locked memory and dies with this object.</summary>
internal sealed class KeyMaterial : IDisposable
{
    public KeyMaterial(KeyAlgorithm algorithm, DateTimeOffset createdAt, string label, LockedBuffer secret)
    {
        Algorithm = algorithm;
        CreatedAt = createdAt;
        Label = label;
        Secret = secret;
    }

    public KeyAlgorithm Algorithm { get; }

    public DateTimeOffset CreatedAt { get; }

    public string Label { get; }

    /// <summary>HMAC: the secret's ASCII bytes. RSA: PKCS#8 DER. Ed25519: the 32-byte private seed.</summary>
    public LockedBuffer Secret { get; }

    public void Dispose() => Secret.Dispose();

    public override string ToString() => $"KeyMaterial({Algorithm}, label '{Label}', secret redacted)";
}
