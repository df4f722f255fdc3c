namespace Uncoded.Signer.Backends;

/// <summary>The algorithms Binance verifies, named as the Sign RPC reports them.</summary>
internal enum KeyAlgorithm
{
    HmacSha256 = 1,
    RsaPkcs1Sha256 = 2,
    Ed25519 = 3,
}

/// <summary>
/// One signing key, whatever holds it (sealed file, PKCS#11 token). Implementations return the
/// raw signature bytes; <see cref="SignatureEncoding"/> turns them into Binance's wire form, so
/// every backend produces byte-identical output for the same key.
/// </summary>
internal interface ISigningKey : IDisposable
{
    KeyAlgorithm Algorithm { get; }

    /// <summary>Signs exactly <paramref name="payload"/>. Throws <see cref="Service.SignerException"/> on failure.</summary>
    ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);

    /// <summary>SubjectPublicKeyInfo PEM for asymmetric keys; null for HMAC.</summary>
    string? PublicKeyPem { get; }
}
