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
    /// least 2048 bits with nothing after the key. <paramref name="time"/> paces the release of
    /// OpenSSL's idle RSA working copies (<see cref="RsaKey.IdleRelease"/>).
    /// </summary>
    public static ISigningKey Create(KeyMaterial material, TimeProvider? time = null)
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
                KeyAlgorithm.RsaPkcs1Sha256 => new RsaKey(material, time ?? TimeProvider.System),
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
    /// serialise on one object and no object is shared between threads. The key material stays in
    /// the locked buffer; an RSA object is OpenSSL's working copy in its own (unlocked) heap, so
    /// one that has not signed for <see cref="IdleRelease"/> is freed, and OpenSSL clears the
    /// private numbers as it frees them. Importing costs ~1 ms (OpenSSL checks the key), so
    /// objects are kept while signatures keep coming.
    /// </summary>
    private sealed class RsaKey : ISigningKey
    {
        public static readonly TimeSpan IdleRelease = TimeSpan.FromSeconds(1);

        private readonly System.Collections.Concurrent.ConcurrentBag<(RSA Rsa, long LastUsed)> _pool = [];
        private readonly KeyMaterial _material;
        private readonly TimeProvider _time;
        private readonly ITimer _sweeper;
        private int _disposed;

        public RsaKey(KeyMaterial material, TimeProvider time)
        {
            _material = material;
            _time = time;
            // Checked once: the key material never changes.
            using (var rsa = RSA.Create())
            {
                rsa.ImportPkcs8PrivateKey(_material.Secret.Span, out var read);
                if (read != _material.Secret.Length || rsa.KeySize < KeyFactory.MinRsaBits)
                {
                    throw new SignerException(ErrorKind.Configuration, "BAD_KEY_MATERIAL",
                        read != _material.Secret.Length ? "the RSA key has trailing bytes" : $"the RSA key has {rsa.KeySize} bits; at least {KeyFactory.MinRsaBits} are required");
                }
                PublicKeyPem = rsa.ExportSubjectPublicKeyInfoPem() + "\n";
            }
            _sweeper = time.CreateTimer(_ => ReleaseIdle(), null, IdleRelease, IdleRelease);
        }

        public KeyAlgorithm Algorithm => KeyAlgorithm.RsaPkcs1Sha256;

        public string? PublicKeyPem { get; }

        public ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
        {
            var rsa = _pool.TryTake(out var pooled) ? pooled.Rsa : NewRsa();
            try
            {
                return ValueTask.FromResult(rsa.SignData(payload.Span, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
            }
            finally
            {
                if (Volatile.Read(ref _disposed) != 0)
                {
                    rsa.Dispose(); // the key was disposed while this signature ran: nothing may be pooled after it
                }
                else
                {
                    _pool.Add((rsa, _time.GetTimestamp()));
                    if (Volatile.Read(ref _disposed) != 0)
                    {
                        DisposePool(); // Dispose emptied the pool between the check and the Add
                    }
                }
            }
        }

        /// <summary>Frees the working copies that have not signed for <see cref="IdleRelease"/>.</summary>
        private void ReleaseIdle()
        {
            var keep = new List<(RSA Rsa, long LastUsed)>();
            while (_pool.TryTake(out var entry))
            {
                if (_time.GetElapsedTime(entry.LastUsed) >= IdleRelease)
                {
                    entry.Rsa.Dispose();
                }
                else
                {
                    keep.Add(entry);
                }
            }
            foreach (var entry in keep)
            {
                _pool.Add(entry);
            }
            if (Volatile.Read(ref _disposed) != 0)
            {
                DisposePool(); // Dispose ran while this sweep held entries: none may outlive the key
            }
        }

        private void DisposePool()
        {
            while (_pool.TryTake(out var entry))
            {
                entry.Rsa.Dispose();
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
            Volatile.Write(ref _disposed, 1);
            _sweeper.Dispose();
            DisposePool();
            _material.Dispose();
        }
    }

    /// <summary>SubjectPublicKeyInfo PEM with LF line ends, byte-identical to `openssl pkey -pubout`.</summary>
    public static string PublicPem(Key key) =>
        SignatureEncoding.ToPemBlock("PUBLIC KEY", key.Export(KeyBlobFormat.PkixPublicKey));
}
