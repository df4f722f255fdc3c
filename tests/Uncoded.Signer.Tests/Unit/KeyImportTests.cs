using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Hardening;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Tests.Unit;

/// <summary>
/// Key import (PEM) and key loading (what a sealed file holds) accept exactly one well-formed
/// key: anything ambiguous, weak or with data around it is refused with a clear reason.
/// </summary>
public sealed class KeyImportTests
{
    private static readonly byte[] Seed = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    [Fact]
    public void Ed25519Pkcs8_V1WithItsPublicKey_Accepted_SameKeyAsV0()
    {
        using var plain = Import(Pem(Ed25519Pkcs8(version: 0)));
        using var withPublic = Import(Pem(Ed25519Pkcs8(version: 1, publicKey: PublicKey(Seed))));
        Assert.Equal(plain.Secret.Span.ToArray(), withPublic.Secret.Span.ToArray());
        Assert.Equal(Seed, withPublic.Secret.Span.ToArray());
    }

    public static TheoryData<string, string, string> Refused => new()
    {
        { "a public key of another seed", Pem(Ed25519Pkcs8(version: 1, publicKey: PublicKey([.. Seed.Reverse()]))), "does not belong to its private key" },
        { "version 7", Pem(Ed25519Pkcs8(version: 7)), "version is not 0 or 1" },
        { "NULL algorithm parameters", Pem(Ed25519Pkcs8(version: 0, nullParameters: true)), "malformed" },
        { "data after the sequence", Pem([.. Ed25519Pkcs8(version: 0), 0x05, 0x00]), "malformed" },
        { "two key blocks", Pem(Ed25519Pkcs8(version: 0)) + Pem(Ed25519Pkcs8(version: 0)), "more than one PEM block" },
        { "a legacy encrypted PKCS#1 key",
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            "is encrypted" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Pem_Ambiguous_Refused(string what, string pem, string message)
    {
        var e = Assert.Throws<SignerException>(() => Import(pem));
        Assert.True(e.Message.Contains(message, StringComparison.Ordinal), $"{what}: {e.Reason}: {e.Message}");
        Assert.Equal(ErrorKind.InvalidRequest, e.Kind);
    }

    [Fact]
    public void Pkcs1WithTrailingData_Refused()
    {
        using var rsa = RSA.Create(2048);
        var e = Assert.Throws<SignerException>(() => Import(Pem([.. rsa.ExportRSAPrivateKey(), 0x05, 0x00], "RSA PRIVATE KEY")));
        Assert.Equal("BAD_PEM", e.Reason);
    }

    public static TheoryData<string, int, byte[], string> NotLoadable()
    {
        using var weak = RSA.Create(1024);
        using var strong = RSA.Create(2048);
        return new()
        {
            { "a non-printable HMAC secret", (int)KeyAlgorithm.HmacSha256, [0x00, 0x41, 0x0a, 0x42], "not printable" },
            { "RSA-1024", (int)KeyAlgorithm.RsaPkcs1Sha256, weak.ExportPkcs8PrivateKey(), "1024 bits" },
            { "RSA with trailing bytes", (int)KeyAlgorithm.RsaPkcs1Sha256, [.. strong.ExportPkcs8PrivateKey(), 0x05, 0x00], "trailing bytes" },
        };
    }

    [Theory]
    [MemberData(nameof(NotLoadable))]
    public void Load_KeyImportWouldRefuse_RefusedToo(string what, int algorithm, byte[] secret, string message)
    {
        // What a sealed file written by other software could hold: the same rules as import apply.
        var material = new KeyMaterial((KeyAlgorithm)algorithm, DateTimeOffset.UnixEpoch, what, LockedBuffer.CopyOf(secret));
        var e = Assert.Throws<SignerException>(() => SoftwareKeys.Create(material));
        Assert.Equal("BAD_KEY_MATERIAL", e.Reason);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Throws<ObjectDisposedException>(() => material.Secret.Span.ToArray());
    }

    private static KeyMaterial Import(string pem) => KeyFactory.ImportPrivateKeyPem(Encoding.ASCII.GetBytes(pem), "t", DateTimeOffset.UnixEpoch);

    private static string Pem(byte[] der, string label = "PRIVATE KEY") => new string(PemEncoding.Write(label, der)) + "\n";

    private static byte[] PublicKey(byte[] seed)
    {
        using var key = Key.Import(SignatureAlgorithm.Ed25519, seed, KeyBlobFormat.RawPrivateKey);
        return key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    /// <summary>RFC 8410 / RFC 5958 Ed25519 private key, written by hand.</summary>
    private static byte[] Ed25519Pkcs8(int version, byte[]? publicKey = null, bool nullParameters = false)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteInteger(version);
            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier("1.3.101.112");
                if (nullParameters)
                {
                    writer.WriteNull();
                }
            }
            var inner = new AsnWriter(AsnEncodingRules.DER);
            inner.WriteOctetString(Seed);
            writer.WriteOctetString(inner.Encode());
            if (publicKey is not null)
            {
                writer.WriteBitString(publicKey, 0, new Asn1Tag(TagClass.ContextSpecific, 1));
            }
        }
        return writer.Encode();
    }
}
