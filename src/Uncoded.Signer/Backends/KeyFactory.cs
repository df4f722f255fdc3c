using System.Formats.Asn1;
using System.Security.Cryptography;
using NSec.Cryptography;
using Uncoded.Signer.Hardening;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Backends;

/// <summary>Key generation and import for the sealed-file backend. Every intermediate copy is zeroed.</summary>
internal static class KeyFactory
{
    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string Ed25519Oid = "1.3.101.112";

    public static readonly string[] GeneratedTypes = ["ed25519", "rsa2048", "rsa4096"];

    /// <summary>The smallest RSA key imported or loaded.</summary>
    public const int MinRsaBits = 2048;

    public static KeyMaterial Generate(string type, string label, DateTimeOffset now)
    {
        switch (type)
        {
            case "ed25519":
            {
                using var key = Key.Create(SignatureAlgorithm.Ed25519,
                    new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
                var secret = new LockedBuffer(32);
                if (!key.TryExport(KeyBlobFormat.RawPrivateKey, secret.Span, out var written) || written != 32)
                {
                    secret.Dispose();
                    throw new SignerException(ErrorKind.Internal, "KEYGEN_FAILED", "Ed25519 key export failed");
                }
                return new KeyMaterial(KeyAlgorithm.Ed25519, now, label, secret);
            }
            case "rsa2048":
            case "rsa4096":
            {
                using var rsa = RSA.Create(type == "rsa2048" ? 2048 : 4096);
                return RsaMaterial(rsa, label, now);
            }
            default:
                throw new SignerException(ErrorKind.InvalidRequest, "UNKNOWN_KEY_TYPE",
                    $"unknown key type '{type}'; expected one of: {string.Join(", ", GeneratedTypes)}");
        }
    }

    /// <summary>An HMAC secret as Binance shows it: printable ASCII; one trailing newline is ignored.</summary>
    public static KeyMaterial ImportHmacSecret(ReadOnlySpan<byte> fileBytes, string label, DateTimeOffset now)
    {
        var secret = TrimNewline(fileBytes);
        if (secret.IsEmpty)
        {
            throw new SignerException(ErrorKind.InvalidRequest, "EMPTY_SECRET", "the HMAC secret file is empty");
        }
        if (!IsPrintable(secret))
        {
            throw new SignerException(ErrorKind.InvalidRequest, "BAD_SECRET",
                "the HMAC secret file must hold one line of printable ASCII (the secret as Binance shows it)");
        }
        return new KeyMaterial(KeyAlgorithm.HmacSha256, now, label, LockedBuffer.CopyOf(secret));
    }

    /// <summary>An HMAC secret as Binance issues it: printable ASCII, no spaces.</summary>
    public static bool IsPrintable(ReadOnlySpan<byte> secret) => !secret.IsEmpty && !secret.ContainsAnyExceptInRange((byte)0x21, (byte)0x7E);

    /// <summary>Accepts an unencrypted PEM private key: PKCS#8 (RSA or Ed25519) or PKCS#1 (RSA).</summary>
    public static KeyMaterial ImportPrivateKeyPem(ReadOnlySpan<byte> fileBytes, string label, DateTimeOffset now)
    {
        var chars = new char[fileBytes.Length];
        byte[]? der = null;
        try
        {
            for (var i = 0; i < fileBytes.Length; i++)
            {
                chars[i] = (char)fileBytes[i];
            }
            if (chars.AsSpan().IndexOf("Proc-Type: 4,ENCRYPTED", StringComparison.Ordinal) >= 0)
            {
                throw EncryptedPem();
            }
            if (!PemEncoding.TryFind(chars, out var fields))
            {
                throw new SignerException(ErrorKind.InvalidRequest, "BAD_PEM", "no PEM block found in the private key file");
            }
            if (PemEncoding.TryFind(chars.AsSpan(fields.Location.End.GetOffset(chars.Length)), out _))
            {
                throw new SignerException(ErrorKind.InvalidRequest, "BAD_PEM", "the file holds more than one PEM block; put only the private key in it");
            }
            var pemLabel = new string(chars.AsSpan(fields.Label));
            der = new byte[fields.DecodedDataLength];
            if (!Convert.TryFromBase64Chars(chars.AsSpan(fields.Base64Data), der, out var length))
            {
                throw new SignerException(ErrorKind.InvalidRequest, "BAD_PEM", "the PEM block is not valid base64");
            }
            var body = der.AsSpan(0, length);
            return pemLabel switch
            {
                "PRIVATE KEY" => FromPkcs8(body, label, now),
                "RSA PRIVATE KEY" => FromPkcs1(body, label, now),
                "ENCRYPTED PRIVATE KEY" => throw EncryptedPem(),
                _ => throw new SignerException(ErrorKind.InvalidRequest, "BAD_PEM",
                    $"unsupported PEM block '{pemLabel}'; expected PRIVATE KEY (PKCS#8) or RSA PRIVATE KEY (PKCS#1)"),
            };
        }
        finally
        {
            Array.Clear(chars);
            if (der is not null)
            {
                CryptographicOperations.ZeroMemory(der);
            }
        }
    }

    private static SignerException EncryptedPem() => new(ErrorKind.InvalidRequest, "ENCRYPTED_PEM",
        "the PEM key is encrypted; decrypt it to a temporary file first (openssl pkey -in enc.pem -out plain.pem), seal it, then shred the plain copy");

    private static KeyMaterial FromPkcs8(ReadOnlySpan<byte> der, string label, DateTimeOffset now)
    {
        string oid;
        byte[] privateKey = [];
        byte[]? publicKey = null;
        byte[] copy = der.ToArray();
        try
        {
            try
            {
                // OneAsymmetricKey (RFC 5958): version 0 or 1, algorithm, key, [0] attributes, [1] public key; nothing after.
                var reader = new AsnReader(copy, AsnEncodingRules.DER);
                var info = reader.ReadSequence();
                reader.ThrowIfNotEmpty();
                if (!info.TryReadInt32(out var version) || version is not (0 or 1))
                {
                    throw new SignerException(ErrorKind.InvalidRequest, "BAD_PEM", "the PKCS#8 version is not 0 or 1");
                }
                var algorithm = info.ReadSequence();
                oid = algorithm.ReadObjectIdentifier();
                if (oid == Ed25519Oid)
                {
                    algorithm.ThrowIfNotEmpty();
                }
                privateKey = info.ReadOctetString();
                if (info.HasData && info.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0)))
                {
                    _ = info.ReadEncodedValue();
                }
                if (version == 1 && info.HasData)
                {
                    publicKey = info.ReadBitString(out _, new Asn1Tag(TagClass.ContextSpecific, 1));
                }
                info.ThrowIfNotEmpty();
            }
            catch (AsnContentException)
            {
                throw new SignerException(ErrorKind.InvalidRequest, "BAD_PEM", "the PKCS#8 structure is malformed (or has data after the key)");
            }
            switch (oid)
            {
                case RsaOid:
                {
                    using var rsa = RSA.Create();
                    rsa.ImportPkcs8PrivateKey(der, out _);
                    return RsaMaterial(rsa, label, now);
                }
                case Ed25519Oid:
                {
                    // CurvePrivateKey ::= OCTET STRING (RFC 8410): the 32-byte seed, wrapped once more.
                    byte[] inner;
                    try
                    {
                        inner = new AsnReader(privateKey, AsnEncodingRules.DER).ReadOctetString();
                    }
                    catch (AsnContentException)
                    {
                        throw new SignerException(ErrorKind.InvalidRequest, "BAD_PEM", "the Ed25519 private key is malformed");
                    }
                    try
                    {
                        if (inner.Length != 32)
                        {
                            throw new SignerException(ErrorKind.InvalidRequest, "BAD_PEM", "an Ed25519 private key must be 32 bytes");
                        }
                        if (publicKey is not null && !MatchesEd25519Seed(inner, publicKey))
                        {
                            throw new SignerException(ErrorKind.InvalidRequest, "BAD_PEM",
                                "the PEM's embedded Ed25519 public key does not belong to its private key");
                        }
                        return new KeyMaterial(KeyAlgorithm.Ed25519, now, label, LockedBuffer.CopyOf(inner));
                    }
                    finally
                    {
                        CryptographicOperations.ZeroMemory(inner);
                    }
                }
                default:
                    throw new SignerException(ErrorKind.InvalidRequest, "UNSUPPORTED_KEY",
                        $"unsupported private key algorithm {oid}; Binance accepts RSA and Ed25519");
            }
        }
        catch (CryptographicException)
        {
            throw new SignerException(ErrorKind.InvalidRequest, "BAD_PEM", "the RSA private key could not be read");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(copy);
            CryptographicOperations.ZeroMemory(privateKey);
        }
    }

    private static bool MatchesEd25519Seed(ReadOnlySpan<byte> seed, ReadOnlySpan<byte> publicKey)
    {
        using var key = Key.Import(SignatureAlgorithm.Ed25519, seed, KeyBlobFormat.RawPrivateKey);
        return key.PublicKey.Export(KeyBlobFormat.RawPublicKey).AsSpan().SequenceEqual(publicKey);
    }

    private static KeyMaterial FromPkcs1(ReadOnlySpan<byte> der, string label, DateTimeOffset now)
    {
        using var rsa = RSA.Create();
        try
        {
            rsa.ImportRSAPrivateKey(der, out var read);
            if (read != der.Length)
            {
                throw new SignerException(ErrorKind.InvalidRequest, "BAD_PEM", "the PKCS#1 RSA private key has data after it");
            }
        }
        catch (CryptographicException)
        {
            throw new SignerException(ErrorKind.InvalidRequest, "BAD_PEM", "the PKCS#1 RSA private key could not be read");
        }
        return RsaMaterial(rsa, label, now);
    }

    private static KeyMaterial RsaMaterial(RSA rsa, string label, DateTimeOffset now)
    {
        if (rsa.KeySize < MinRsaBits)
        {
            throw new SignerException(ErrorKind.InvalidRequest, "WEAK_KEY", $"RSA keys must be at least {MinRsaBits} bits (got {rsa.KeySize})");
        }
        var pkcs8 = rsa.ExportPkcs8PrivateKey();
        try
        {
            return new KeyMaterial(KeyAlgorithm.RsaPkcs1Sha256, now, label, LockedBuffer.CopyOf(pkcs8));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    public static ReadOnlySpan<byte> TrimNewline(ReadOnlySpan<byte> value)
    {
        if (value.EndsWith("\n"u8))
        {
            value = value[..^1];
        }
        if (value.EndsWith("\r"u8))
        {
            value = value[..^1];
        }
        return value;
    }
}
