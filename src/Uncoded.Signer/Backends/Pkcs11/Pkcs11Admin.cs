using System.Security.Cryptography;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using ISession = Net.Pkcs11Interop.HighLevelAPI.ISession;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Backends.Pkcs11;

/// <summary>
/// Key lifecycle inside a token (the <c>keygen</c>, <c>pubkey</c> and <c>seal-into-token</c>
/// commands). Private and secret keys are created sensitive, non-extractable, private token
/// objects: they never leave the token, not even to this process. They are signing keys only
/// (key separation): no decrypt, unwrap or derive, and their public keys no encrypt or wrap.
/// </summary>
internal static class Pkcs11Admin
{
    /// <summary>Generates a key pair in the token; returns its public key PEM.</summary>
    public static string Generate(Pkcs11KeySettings settings, string type, ILogger log)
    {
        RequireLabel(settings);
        return WithSession(settings, log, session =>
        {
            var id = settings.KeyId ?? RandomNumberGenerator.GetBytes(16);
            RefuseExisting(session, settings, id);
            var f = Pkcs11Module.Factories.ObjectAttributeFactory;
            // SoftHSM 2.6.1 accepts every one of these for RSA and for EC-Edwards key pairs (tested).
            var publicTemplate = new List<IObjectAttribute>
            {
                f.Create(CKA.CKA_TOKEN, true),
                f.Create(CKA.CKA_PRIVATE, false),
                f.Create(CKA.CKA_VERIFY, true),
                f.Create(CKA.CKA_ENCRYPT, false),
                f.Create(CKA.CKA_WRAP, false),
                f.Create(CKA.CKA_LABEL, settings.KeyLabel!),
                f.Create(CKA.CKA_ID, id),
            };
            var privateTemplate = new List<IObjectAttribute>
            {
                f.Create(CKA.CKA_TOKEN, true),
                f.Create(CKA.CKA_PRIVATE, true),
                f.Create(CKA.CKA_SENSITIVE, true),
                f.Create(CKA.CKA_EXTRACTABLE, false),
                f.Create(CKA.CKA_SIGN, true),
                f.Create(CKA.CKA_DECRYPT, false),
                f.Create(CKA.CKA_UNWRAP, false),
                f.Create(CKA.CKA_DERIVE, false),
                f.Create(CKA.CKA_LABEL, settings.KeyLabel!),
                f.Create(CKA.CKA_ID, id),
            };
            ulong mechanism;
            switch (type)
            {
                case "ed25519":
                    mechanism = Pkcs11Module.CKM_EC_EDWARDS_KEY_PAIR_GEN;
                    publicTemplate.Add(f.Create(CKA.CKA_EC_PARAMS, Pkcs11Objects.Ed25519Params));
                    break;
                case "rsa2048":
                case "rsa4096":
                    mechanism = (ulong)CKM.CKM_RSA_PKCS_KEY_PAIR_GEN;
                    publicTemplate.Add(f.Create(CKA.CKA_MODULUS_BITS, type == "rsa2048" ? 2048UL : 4096UL));
                    publicTemplate.Add(f.Create(CKA.CKA_PUBLIC_EXPONENT, new byte[] { 0x01, 0x00, 0x01 }));
                    break;
                default:
                    throw new SignerException(ErrorKind.InvalidRequest, "UNKNOWN_KEY_TYPE",
                        $"unknown key type '{type}'; expected one of: {string.Join(", ", KeyFactory.GeneratedTypes)}");
            }
            try
            {
                using var mech = Pkcs11Module.Factories.MechanismFactory.Create(mechanism);
                WithAllowedMechanism(privateTemplate, type == "ed25519" ? KeyAlgorithm.Ed25519 : KeyAlgorithm.RsaPkcs1Sha256, settings,
                    template => session.GenerateKeyPair(mech, publicTemplate, template, out _, out _));
            }
            catch (Pkcs11Exception e)
            {
                throw Pkcs11Errors.Map(e, $"generating a {type} key pair in {settings.TokenDescription}");
            }
            finally
            {
                publicTemplate.ForEach(a => a.Dispose());
                privateTemplate.ForEach(a => a.Dispose());
            }
            Console.Error.WriteLine($"generated {type} key '{settings.KeyLabel}' (CKA_ID {Convert.ToHexStringLower(id)}) in {settings.TokenDescription}: sensitive, not extractable");
            return PublicKeyPem(session, settings with { KeyIdHex = Convert.ToHexStringLower(id) });
        });
    }

    /// <summary>The public key PEM of an existing RSA or Ed25519 key in the token.</summary>
    public static string PublicKey(Pkcs11KeySettings settings, ILogger log) =>
        WithSession(settings, log, session => PublicKeyPem(session, settings));

    /// <summary>
    /// Imports an HMAC secret as a non-extractable CKK_GENERIC_SECRET that can only sign, then
    /// proves that the token can use it (<see cref="RemoveUnlessTokenSignsLikeUs"/>); the caller
    /// zeroes <paramref name="secret"/>.
    /// </summary>
    public static void ImportHmacSecret(Pkcs11KeySettings settings, ReadOnlySpan<byte> secret, ILogger log)
    {
        RequireLabel(settings);
        var value = secret.ToArray();
        try
        {
            WithSession(settings, log, session =>
            {
                var id = settings.KeyId ?? RandomNumberGenerator.GetBytes(16);
                RefuseExisting(session, settings, id);
                var f = Pkcs11Module.Factories.ObjectAttributeFactory;
                // Sign only: SoftHSM 2.6.1 accepts every one of these false for a generic secret (tested).
                var template = new List<IObjectAttribute>
                {
                    f.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
                    f.Create(CKA.CKA_KEY_TYPE, CKK.CKK_GENERIC_SECRET),
                    f.Create(CKA.CKA_TOKEN, true),
                    f.Create(CKA.CKA_PRIVATE, true),
                    f.Create(CKA.CKA_SENSITIVE, true),
                    f.Create(CKA.CKA_EXTRACTABLE, false),
                    f.Create(CKA.CKA_SIGN, true),
                    f.Create(CKA.CKA_VERIFY, false),
                    f.Create(CKA.CKA_ENCRYPT, false),
                    f.Create(CKA.CKA_DECRYPT, false),
                    f.Create(CKA.CKA_WRAP, false),
                    f.Create(CKA.CKA_UNWRAP, false),
                    f.Create(CKA.CKA_DERIVE, false),
                    f.Create(CKA.CKA_LABEL, settings.KeyLabel!),
                    f.Create(CKA.CKA_ID, id),
                    f.Create(CKA.CKA_VALUE, value),
                };
                IObjectHandle handle = null!;
                try
                {
                    WithAllowedMechanism(template, KeyAlgorithm.HmacSha256, settings, t => handle = session.CreateObject(t));
                }
                catch (Pkcs11Exception e)
                {
                    throw Pkcs11Errors.Map(e, $"importing the HMAC secret into {settings.TokenDescription}");
                }
                finally
                {
                    template.ForEach(a => a.Dispose());
                }
                RemoveUnlessTokenSignsLikeUs(session, handle, value, settings);
                Console.Error.WriteLine($"imported HMAC secret as '{settings.KeyLabel}' (CKA_ID {Convert.ToHexStringLower(id)}) into {settings.TokenDescription}: sensitive, not extractable");
                return 0;
            });
        }
        finally
        {
            CryptographicOperations.ZeroMemory(value);
        }
    }

    /// <summary>
    /// Runs <paramref name="create"/> with <paramref name="template"/> plus CKA_ALLOWED_MECHANISMS =
    /// the one mechanism the signer uses for <paramref name="algorithm"/>, so the key cannot serve
    /// as a raw RSA (decrypt-equivalent) or any other operation even to a holder of the PIN. A token
    /// that does not know the attribute (it is optional in PKCS#11) gets the template without it,
    /// with a warning: CKA_SIGN and the other usage flags still limit the key.
    /// </summary>
    private static void WithAllowedMechanism(List<IObjectAttribute> template, KeyAlgorithm algorithm, Pkcs11KeySettings settings, Action<List<IObjectAttribute>> create)
    {
        using var allowed = Pkcs11Module.Factories.ObjectAttributeFactory.Create(CKA.CKA_ALLOWED_MECHANISMS, new List<ulong> { Pkcs11Objects.Mechanism(algorithm) });
        try
        {
            create([.. template, allowed]);
        }
        catch (Pkcs11Exception e) when (e.RV is CKR.CKR_ATTRIBUTE_TYPE_INVALID or CKR.CKR_ATTRIBUTE_VALUE_INVALID or CKR.CKR_TEMPLATE_INCONSISTENT)
        {
            Console.Error.WriteLine($"warning: {settings.TokenDescription} refused CKA_ALLOWED_MECHANISMS ({e.RV}); the key is created without it, limited by its usage flags only");
            create(template);
        }
    }

    private static readonly byte[] HmacTestMessage = "uncoded-signer seal-into-token: HMAC-SHA256 test"u8.ToArray();

    /// <summary>
    /// Signs a fixed message once with the new secret key in the token and compares the result with
    /// HMAC-SHA256 computed here from the same secret. A token that refuses the key (SoftHSM answers
    /// CKR_KEY_SIZE_RANGE for HMAC-SHA256 keys under 32 bytes, but only when it signs) or computes
    /// something else gets the object destroyed again: no key is left that <c>serve</c> would load
    /// and then fail every signature with.
    /// </summary>
    private static void RemoveUnlessTokenSignsLikeUs(ISession session, IObjectHandle handle, byte[] secret, Pkcs11KeySettings settings)
    {
        var expected = HMACSHA256.HashData(secret, HmacTestMessage);
        byte[]? actual = null;
        SignerException? refused = null;
        try
        {
            try
            {
                using var mechanism = Pkcs11Module.Factories.MechanismFactory.Create(CKM.CKM_SHA256_HMAC);
                actual = session.Sign(mechanism, handle, HmacTestMessage);
            }
            catch (Pkcs11Exception e)
            {
                refused = Pkcs11Errors.Map(e, "a test HMAC-SHA256 signature in the token");
            }
            if (actual is not null && CryptographicOperations.FixedTimeEquals(actual, expected))
            {
                return;
            }
            var why = refused?.Message ?? "its HMAC-SHA256 of a test message differs from the one computed from the same secret in this process";
            string removed;
            try
            {
                session.DestroyObject(handle);
                removed = "The imported object was destroyed again: nothing was left in the token";
            }
            catch (Pkcs11Exception e)
            {
                removed = $"Destroying the imported object failed ({e.RV}): delete the secret key labelled '{settings.KeyLabel}' by hand (pkcs11-tool --login --delete-object --type secrkey --label ...)";
            }
            throw new SignerException(ErrorKind.Configuration, "TOKEN_CANNOT_USE_SECRET",
                $"{settings.TokenDescription} cannot sign with this {secret.Length}-byte HMAC secret; {why}. {removed}",
                refused?.Metadata, refused);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(expected);
            if (actual is not null)
            {
                CryptographicOperations.ZeroMemory(actual);
            }
        }
    }

    private static string PublicKeyPem(ISession session, Pkcs11KeySettings settings)
    {
        var found = Pkcs11Objects.FindSigningKey(session, settings);
        return found.Algorithm == KeyAlgorithm.HmacSha256
            ? throw new SignerException(ErrorKind.InvalidRequest, "NO_PUBLIC_KEY", "this is an HMAC key: it has no public key")
            : found.PublicKeyPem ?? throw new SignerException(ErrorKind.Configuration, "NO_PUBLIC_KEY",
                $"the token holds no readable public key for {settings.KeyDescription}");
    }

    private static void RequireLabel(Pkcs11KeySettings settings)
    {
        if (string.IsNullOrEmpty(settings.KeyLabel))
        {
            throw new SignerException(ErrorKind.InvalidRequest, "KEY_LABEL_REQUIRED", "give --key-label for the new key");
        }
    }

    /// <summary>
    /// Never shadow a key: two keys with one label, or with one CKA_ID, would make the signer refuse
    /// to start (AMBIGUOUS_KEY) when the key is named by that label or ID. Public keys count too:
    /// a second public key with the ID could be the one <c>pubkey</c> prints.
    /// </summary>
    private static void RefuseExisting(ISession session, Pkcs11KeySettings settings, byte[] id)
    {
        if (CountKeys(session, settings with { KeyIdHex = null }) > 0)
        {
            throw new SignerException(ErrorKind.InvalidRequest, "KEY_EXISTS",
                $"{settings.TokenDescription} already holds a key labelled '{settings.KeyLabel}'; choose another --key-label");
        }
        var idHex = Convert.ToHexStringLower(id);
        if (CountKeys(session, settings with { KeyLabel = null, KeyIdHex = idHex }) > 0)
        {
            throw new SignerException(ErrorKind.InvalidRequest, "KEY_ID_EXISTS",
                $"{settings.TokenDescription} already holds a key with CKA_ID {idHex}; choose another --key-id, or leave it out for a random one");
        }
    }

    private static int CountKeys(ISession session, Pkcs11KeySettings settings) =>
        Pkcs11Objects.Find(session, settings, CKO.CKO_PRIVATE_KEY).Count
        + Pkcs11Objects.Find(session, settings, CKO.CKO_SECRET_KEY).Count
        + Pkcs11Objects.Find(session, settings, CKO.CKO_PUBLIC_KEY).Count;

    private static T WithSession<T>(Pkcs11KeySettings settings, ILogger log, Func<ISession, T> action)
    {
        using var token = Pkcs11Token.Open(settings with { Sessions = 1 }, readWrite: true, log);
        var lease = token.RentAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        try
        {
            return action(lease.Session);
        }
        catch (Pkcs11Exception e)
        {
            throw Pkcs11Errors.Map(e, $"working with {settings.TokenDescription}");
        }
        finally
        {
            token.Return(lease, healthy: false);
        }
    }
}
