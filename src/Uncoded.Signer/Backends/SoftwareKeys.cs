using System.Security.Cryptography;
using NSec.Cryptography;
using Uncoded.Signer.Hardening;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Backends;

/// <summary>Builds in-process signing keys from key material (the sealed-file backend's keys).</summary>
internal static class SoftwareKeys
{
    /// <summary>
    /// Takes ownership of <paramref name="material"/>. Checks it as import does (a sealed file
    /// written by other software is held to the same rules): printable HMAC secrets, RSA of at
    /// least 2048 bits with nothing after the key.
    /// </summary>
    public static ISigningKey Create(KeyMaterial material)
    {
        try
        {
            if (material.Algorithm == KeyAlgorithm.HmacSha256 && !KeyFactory.IsPrintable(material.Secret.Span))
            {
                throw new SignerException(ErrorKind.Configuration, "BAD_KEY_MATERIAL", "the HMAC secret is not printable ASCII (as Binance issues it)");
            }
            return material.Algorithm switch
            {
                KeyAlgorithm.HmacSha256 => new HmacKey(material),
                KeyAlgorithm.Ed25519 => new Ed25519Key(material),
                KeyAlgorithm.RsaPkcs1Sha256 => new RsaKey(material),
                _ => throw new SignerException(ErrorKind.Configuration, "UNSUPPORTED_KEY", "unsupported key type"),
            };
        }
        catch (SignerException)
        {
            material.Dispose();
            throw;
        }
        catch (Exception e)
        {
            material.Dispose();
            throw new SignerException(ErrorKind.Configuration, "BAD_KEY_MATERIAL",
                $"the {material.Algorithm} key material could not be loaded ({e.GetType().Name})");
        }
    }

    /// <summary>HMAC-SHA256 keyed straight from locked memory: the secret is never copied to the managed heap.</summary>
    private sealed class HmacKey(KeyMaterial material) : ISigningKey
    {
        public KeyAlgorithm Algorithm => KeyAlgorithm.HmacSha256;

        public string? PublicKeyPem => null;

        public ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
            ValueTask.FromResult(HMACSHA256.HashData(material.Secret.Span, payload.Span));

        public void Dispose() => material.Dispose();
    }

    /// <summary>NSec keeps the private key in libsodium's guarded, locked memory.</summary>
    private sealed class Ed25519Key : ISigningKey
    {
        private readonly Key _key;

        public Ed25519Key(KeyMaterial material)
        {
            using (material)
            {
                _key = Key.Import(SignatureAlgorithm.Ed25519, material.Secret.Span, KeyBlobFormat.RawPrivateKey);
            }
            PublicKeyPem = PublicPem(_key);
        }

        public KeyAlgorithm Algorithm => KeyAlgorithm.Ed25519;

        public string? PublicKeyPem { get; }

        public ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
            ValueTask.FromResult(SignatureAlgorithm.Ed25519.Sign(_key, payload.Span));

        public void Dispose() => _key.Dispose();
    }

    /// <summary>
    /// RSA via the platform (OpenSSL). One RSA object per concurrent caller, so signatures do not
    /// serialise on one object and no object is shared between threads.
    /// </summary>
    private sealed class RsaKey : ISigningKey
    {
        private readonly System.Collections.Concurrent.ConcurrentBag<RSA> _pool = [];
        private readonly KeyMaterial _material;

        public RsaKey(KeyMaterial material)
        {
            _material = material;
            // Checked once: the key material never changes.
            var rsa = RSA.Create();
            rsa.ImportPkcs8PrivateKey(_material.Secret.Span, out var read);
            if (read != _material.Secret.Length || rsa.KeySize < KeyFactory.MinRsaBits)
            {
                rsa.Dispose();
                throw new SignerException(ErrorKind.Configuration, "BAD_KEY_MATERIAL",
                    read != _material.Secret.Length ? "the RSA key has trailing bytes" : $"the RSA key has {rsa.KeySize} bits; at least {KeyFactory.MinRsaBits} are required");
            }
            PublicKeyPem = rsa.ExportSubjectPublicKeyInfoPem() + "\n";
            _pool.Add(rsa);
        }

        public KeyAlgorithm Algorithm => KeyAlgorithm.RsaPkcs1Sha256;

        public string? PublicKeyPem { get; }

        public ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
        {
            var rsa = _pool.TryTake(out var pooled) ? pooled : NewRsa();
            try
            {
                return ValueTask.FromResult(rsa.SignData(payload.Span, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
            }
            finally
            {
                _pool.Add(rsa);
            }
        }

        private RSA NewRsa()
        {
            var rsa = RSA.Create();
            rsa.ImportPkcs8PrivateKey(_material.Secret.Span, out _);
            return rsa;
        }

        public void Dispose()
        {
            while (_pool.TryTake(out var rsa))
            {
                rsa.Dispose();
            }
            _material.Dispose();
        }
    }

    /// <summary>SubjectPublicKeyInfo PEM with LF line ends, byte-identical to `openssl pkey -pubout`.</summary>
    public static string PublicPem(Key key) =>
        SignatureEncoding.ToPemBlock("PUBLIC KEY", key.Export(KeyBlobFormat.PkixPublicKey));
}
