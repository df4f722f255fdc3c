using System.Formats.Asn1;
using System.Security.Cryptography;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using ISession = Net.Pkcs11Interop.HighLevelAPI.ISession;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Backends.Pkcs11;

/// <summary>A signing key found in a token: its handle, what it is, and its public key when it has one.</summary>
internal sealed record Pkcs11FoundKey(IObjectHandle Handle, KeyAlgorithm Algorithm, bool Extractable, string? PublicKeyPem);

/// <summary>Finding keys by CKA_LABEL and/or CKA_ID, and turning token public keys into SubjectPublicKeyInfo PEM.</summary>
internal static class Pkcs11Objects
{
    /// <summary>DER of the Ed25519 OID 1.3.101.112 (RFC 8410), the CKA_EC_PARAMS we write.</summary>
    public static readonly byte[] Ed25519Params = [0x06, 0x03, 0x2B, 0x65, 0x70];

    /// <summary>PrintableString "edwards25519", the CKA_EC_PARAMS OpenSC's pkcs11-tool writes.</summary>
    private static readonly byte[] Ed25519ParamsPrintable = [0x13, 0x0C, .. "edwards25519"u8];

    private const string Ed25519Oid = "1.3.101.112";

    public static List<IObjectAttribute> Template(Pkcs11KeySettings settings, CKO objectClass)
    {
        var factory = Pkcs11Module.Factories.ObjectAttributeFactory;
        var template = new List<IObjectAttribute> { factory.Create(CKA.CKA_CLASS, objectClass) };
        if (settings.KeyLabel is not null)
        {
            template.Add(factory.Create(CKA.CKA_LABEL, settings.KeyLabel));
        }
        if (settings.KeyId is { } id)
        {
            template.Add(factory.Create(CKA.CKA_ID, id));
        }
        return template;
    }

    public static List<IObjectHandle> Find(ISession session, Pkcs11KeySettings settings, CKO objectClass)
    {
        var template = Template(settings, objectClass);
        try
        {
            return session.FindAllObjects(template);
        }
        finally
        {
            template.ForEach(a => a.Dispose());
        }
    }

    /// <summary>Finds the one private or secret key the settings name and checks that it can sign.</summary>
    public static Pkcs11FoundKey FindSigningKey(ISession session, Pkcs11KeySettings settings)
    {
        var where = $"{settings.KeyDescription} in {settings.TokenDescription}";
        try
        {
            var candidates = Find(session, settings, CKO.CKO_PRIVATE_KEY);
            if (candidates.Count == 0)
            {
                candidates = Find(session, settings, CKO.CKO_SECRET_KEY);
            }
            if (candidates.Count == 0)
            {
                throw new SignerException(ErrorKind.Configuration, "KEY_NOT_FOUND",
                    $"no private or secret {where} (is the PIN for the right token? private objects are only visible after login)");
            }
            if (candidates.Count > 1)
            {
                throw new SignerException(ErrorKind.Configuration, "AMBIGUOUS_KEY",
                    $"{candidates.Count} keys match {where}; name it by both KeyLabel and KeyId");
            }
            var handle = candidates[0];
            var attributes = session.GetAttributeValue(handle, [CKA.CKA_KEY_TYPE, CKA.CKA_SIGN, CKA.CKA_EXTRACTABLE]);
            var keyType = attributes[0].GetValueAsUlong();
            var canSign = !attributes[1].CannotBeRead && attributes[1].GetValueAsBool();
            var extractable = !attributes[2].CannotBeRead && attributes[2].GetValueAsBool();
            if (!canSign)
            {
                throw new SignerException(ErrorKind.Configuration, "KEY_CANNOT_SIGN", $"{where} does not have CKA_SIGN set");
            }
            return keyType switch
            {
                (ulong)CKK.CKK_RSA => new(handle, KeyAlgorithm.RsaPkcs1Sha256, extractable, RsaPublicKeyPem(session, settings, handle, where)),
                Pkcs11Module.CKK_EC_EDWARDS => new(handle, KeyAlgorithm.Ed25519, extractable, Ed25519PublicKeyPem(session, settings, handle)),
                (ulong)CKK.CKK_GENERIC_SECRET or (ulong)CKK.CKK_SHA256_HMAC => new(handle, KeyAlgorithm.HmacSha256, extractable, null),
                _ => throw new SignerException(ErrorKind.Configuration, "UNSUPPORTED_KEY",
                    $"{where} has key type 0x{keyType:x}; Binance needs RSA, Ed25519 (CKK_EC_EDWARDS) or an HMAC generic secret"),
            };
        }
        catch (Pkcs11Exception e)
        {
            throw Pkcs11Errors.Map(e, $"looking up {where}");
        }
    }

    /// <summary>The PKCS#11 mechanism that gives Binance's signature for <paramref name="algorithm"/>.</summary>
    public static ulong Mechanism(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.RsaPkcs1Sha256 => (ulong)CKM.CKM_SHA256_RSA_PKCS,
        KeyAlgorithm.Ed25519 => Pkcs11Module.CKM_EDDSA,
        KeyAlgorithm.HmacSha256 => (ulong)CKM.CKM_SHA256_HMAC,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    /// <summary>
    /// The RSA public key as PEM, from the first object that shows modulus and exponent (public
    /// attributes; most tokens expose them on the private key too). A key under
    /// <see cref="KeyFactory.MinRsaBits"/> is refused here as the sealed-file backend refuses it.
    /// </summary>
    private static string RsaPublicKeyPem(ISession session, Pkcs11KeySettings settings, IObjectHandle privateKey, string where)
    {
        foreach (var handle in Find(session, settings, CKO.CKO_PUBLIC_KEY).Prepend(privateKey))
        {
            var values = session.GetAttributeValue(handle, [CKA.CKA_MODULUS, CKA.CKA_PUBLIC_EXPONENT]);
            if (values.Any(v => v.CannotBeRead) || values[0].GetValueAsByteArray() is not { Length: > 0 } modulus)
            {
                continue;
            }
            using var rsa = RSA.Create(new RSAParameters { Modulus = modulus, Exponent = values[1].GetValueAsByteArray() });
            if (rsa.KeySize < KeyFactory.MinRsaBits)
            {
                throw new SignerException(ErrorKind.Configuration, "WEAK_KEY",
                    $"{where} is a {rsa.KeySize}-bit RSA key; at least {KeyFactory.MinRsaBits} bits are required");
            }
            return rsa.ExportSubjectPublicKeyInfoPem() + "\n";
        }
        // Fail closed: a key whose size cannot be read cannot be held to the 2048-bit rule.
        throw new SignerException(ErrorKind.Configuration, "KEY_SIZE_UNKNOWN",
            $"{where}: the token shows no RSA modulus (CKA_MODULUS) on the key or its public key, so its size cannot be checked");
    }

    private static string? Ed25519PublicKeyPem(ISession session, Pkcs11KeySettings settings, IObjectHandle privateKey)
    {
        var parameters = session.GetAttributeValue(privateKey, [CKA.CKA_EC_PARAMS])[0];
        if (!parameters.CannotBeRead && !IsEd25519(parameters.GetValueAsByteArray()))
        {
            throw new SignerException(ErrorKind.Configuration, "UNSUPPORTED_KEY",
                $"{settings.KeyDescription} is an Edwards key on another curve (Ed448?); Binance needs Ed25519");
        }
        foreach (var handle in Find(session, settings, CKO.CKO_PUBLIC_KEY))
        {
            var point = session.GetAttributeValue(handle, [CKA.CKA_EC_POINT])[0];
            if (!point.CannotBeRead && RawEd25519Point(point.GetValueAsByteArray()) is { } raw)
            {
                return Ed25519SpkiPem(raw);
            }
        }
        return null;
    }

    public static bool IsEd25519(byte[]? ecParams) =>
        ecParams is not null && (ecParams.AsSpan().SequenceEqual(Ed25519Params) || ecParams.AsSpan().SequenceEqual(Ed25519ParamsPrintable));

    /// <summary>CKA_EC_POINT is a DER OCTET STRING (04 20 + 32 bytes); a few tokens return the 32 raw bytes.</summary>
    public static byte[]? RawEd25519Point(byte[]? point) => point switch
    {
        { Length: 32 } => point,
        { Length: 34 } when point[0] == 0x04 && point[1] == 0x20 => point[2..],
        _ => null,
    };

    /// <summary>SubjectPublicKeyInfo { AlgorithmIdentifier { id-Ed25519 }, BIT STRING key } (RFC 8410), as PEM.</summary>
    public static string Ed25519SpkiPem(ReadOnlySpan<byte> publicKey)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(Ed25519Oid);
            }
            writer.WriteBitString(publicKey);
        }
        return SignatureEncoding.ToPemBlock("PUBLIC KEY", writer.Encode());
    }
}
