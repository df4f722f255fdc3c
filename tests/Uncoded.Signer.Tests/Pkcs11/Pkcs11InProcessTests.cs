using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using NSec.Cryptography;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Backends.Pkcs11;
using Uncoded.Signer.Secrets;
using Uncoded.Signer.Service;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Pkcs11;

/// <summary>The backend in this process against SoftHSM (through pkcs11-spy): session loss, re-login, key secrecy.</summary>
public sealed class Pkcs11InProcessTests
{
    private static readonly byte[] Payload = Encoding.ASCII.GetBytes(TestKeys.BinanceExamplePayload);

    private static Pkcs11KeySettings Settings(InProcessToken token, string keyLabel, int sessions = 4, string? pinFile = null) =>
        new(SoftHsm.SpyModule, token.Label, null, keyLabel, null, new SecretSource(File: pinFile ?? token.Hsm.PinFile), sessions);

    private static ISlot FindSlot(Pkcs11Module module, string label) =>
        module.Library.GetSlotList(SlotsType.WithTokenPresent).Single(s => s.GetTokenInfo().Label.Trim() == label);

    private static int Count(string text, string what) => text.Split(what).Length - 1;

    /// <summary>A module named through a symlink (to the file or to its folder) is the same library: one module, initialised and finalised by one owner.</summary>
    [Fact]
    public async Task Module_OpenedThroughSymlink_SharedWithItsTarget()
    {
        var token = await InProcessSoftHsm.TokenAsync("pool");
        var link = token.Hsm.Dir.File("spy-link.so");
        File.CreateSymbolicLink(link, SoftHsm.SpyModule);
        var folder = token.Hsm.Dir.File("lib-link");
        Directory.CreateSymbolicLink(folder, Path.GetDirectoryName(SoftHsm.SpyModule)!);

        using var direct = Pkcs11Module.Open(SoftHsm.SpyModule);
        using var linked = Pkcs11Module.Open(link);
        using var throughFolder = Pkcs11Module.Open(Path.Combine(folder, Path.GetFileName(SoftHsm.SpyModule)));

        Assert.Same(direct, linked);
        Assert.Same(direct, throughFolder);
    }

    /// <summary>
    /// The pool hands out up to Sessions distinct logged-in sessions at once (concurrent signatures
    /// do not queue on one session), then makes the next caller wait for one to come back.
    /// </summary>
    [Fact]
    public async Task SessionPool_UpToSessionsDistinctLoggedInSessionsAtOnce_ThenTheNextWaits()
    {
        var token = await InProcessSoftHsm.TokenAsync("pool");
        using var key = await Pkcs11Key.OpenAsync(Settings(token, "ed", sessions: 3), NullLogger.Instance, default);

        var leases = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => key.Token.RentAsync(default).AsTask()));
        var fourth = key.Token.RentAsync(default).AsTask();
        var waited = await Task.WhenAny(fourth, Task.Delay(TimeSpan.FromMilliseconds(500))) != fourth;
        key.Token.Return(leases[1], healthy: true);
        var reused = await fourth.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(3, leases.Select(l => l.Session.SessionId).Distinct().Count());
        Assert.All(leases, l => Assert.Contains(l.Session.GetSessionInfo().State, new[] { CKS.CKS_RO_USER_FUNCTIONS, CKS.CKS_RW_USER_FUNCTIONS }));
        Assert.True(waited, "a fourth session was handed out while three were rented");
        Assert.Equal(leases[1].Session.SessionId, reused.Session.SessionId);
        foreach (var lease in new[] { leases[0], leases[2], reused })
        {
            key.Token.Return(lease, healthy: true);
        }
        Assert.NotEmpty(await key.SignAsync(Payload, default));
    }

    [Fact]
    public async Task SessionsClosedFromSecondHandle_MidRun_EverySignReopensLogsInAndSucceeds()
    {
        var token = await InProcessSoftHsm.TokenAsync("closed");
        using var key = await Pkcs11Key.OpenAsync(Settings(token, "ed"), NullLogger.Instance, default);
        var publicKey = PublicKey.Import(SignatureAlgorithm.Ed25519, Encoding.ASCII.GetBytes(key.PublicKeyPem!), KeyBlobFormat.PkixPublicKeyText);
        var epoch = key.Token.Epoch;
        var spyBefore = (await File.ReadAllTextAsync(InProcessSoftHsm.SpyLog(token))).Length;

        // 8 callers sign in a loop; after 5 signatures each they wait while another handle closes
        // all of the slot's sessions (which also logs this application out), then carry on. They
        // wait because C_CloseAllSessions under a C_Sign in flight on another thread crashes the
        // process (measured: SoftHSM 2.6.1 behind pkcs11-spy, 2 runs of 3). The signer itself never
        // calls C_CloseAllSessions; a real token loses sessions between calls, as here.
        var paused = new CountdownEvent(8);
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var callers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            var signatures = new List<byte[]>();
            for (var i = 0; i < 30; i++)
            {
                if (i == 5)
                {
                    paused.Signal();
                    await closed.Task;
                }
                signatures.Add(await key.SignAsync(Payload, default));
            }
            return signatures;
        })).ToList();

        Assert.True(paused.Wait(TimeSpan.FromSeconds(30)));
        using (var second = Pkcs11Module.Open(SoftHsm.SpyModule))
        {
            var slot = FindSlot(second, token.Label);
            slot.CloseAllSessions();
            // C_CloseAllSessions also logged this application out: a fresh session is public.
            using var probe = slot.OpenSession(SessionType.ReadOnly);
            Assert.Equal(CKS.CKS_RO_PUBLIC_SESSION, probe.GetSessionInfo().State);
        }
        closed.SetResult();

        var all = (await Task.WhenAll(callers)).SelectMany(s => s).ToList();
        Assert.Equal(240, all.Count);
        Assert.All(all, s => Assert.True(SignatureAlgorithm.Ed25519.Verify(publicKey, Payload, s)));
        await key.SignAsync(Payload, default);
        Assert.True(key.Token.Epoch > epoch);

        var calls = (await File.ReadAllTextAsync(InProcessSoftHsm.SpyLog(token)))[spyBefore..];
        Assert.Contains("CKR_SESSION_HANDLE_INVALID", calls, StringComparison.Ordinal);
        // Once after the close, not once per session.
        Assert.True(Count(calls, ": C_Login\n") == 1, "C_Login count != 1; calls after the close:\n" + CallSummary(calls));
    }

    /// <summary>The spy log as one line per call (number, function, session handles, return value), successful signatures left out.</summary>
    private static string CallSummary(string calls) => string.Join("\n", calls.Split("\n\n")
        .Select(call => string.Join(" | ", call.Split('\n').Select(l => l.Trim())
            .Where(l => l.Contains(": C_", StringComparison.Ordinal) || l.StartsWith("Returned:", StringComparison.Ordinal) || l.Contains("hSession", StringComparison.Ordinal))))
        .Where(call => call.Length > 0 && !(call.Contains(": C_Sign", StringComparison.Ordinal) && call.EndsWith("CKR_OK", StringComparison.Ordinal))));

    [Fact]
    public async Task LoggedOutFromSecondHandle_NextSignLogsInAgainAndSucceeds()
    {
        var token = await InProcessSoftHsm.TokenAsync("logout");
        using var key = await Pkcs11Key.OpenAsync(Settings(token, "hmac"), NullLogger.Instance, default);
        var spyBefore = (await File.ReadAllTextAsync(InProcessSoftHsm.SpyLog(token))).Length;

        // C_Logout on any session logs the whole application out; our pooled sessions stay open.
        // Measured: SoftHSM then answers C_SignInit with CKR_OBJECT_HANDLE_INVALID (the private
        // object is invisible to a public session), which the backend treats as a lost login.
        using (var second = Pkcs11Module.Open(SoftHsm.SpyModule))
        {
            using var session = FindSlot(second, token.Label).OpenSession(SessionType.ReadOnly);
            session.Logout();
        }

        var signature = await key.SignAsync(Payload, default);
        Assert.Equal(TestKeys.BinanceExampleSignature, SignatureEncoding.ToWire(key.Algorithm, signature));
        var calls = (await File.ReadAllTextAsync(InProcessSoftHsm.SpyLog(token)))[spyBefore..];
        Assert.Equal(1, Count(calls, ": C_Login\n"));
    }

    /// <summary>
    /// Three keys on one token, one PIN: after the PIN changes under them, the token sees exactly
    /// one wrong attempt in all, not one per key (three would lock a YubiKey's PIV PIN), also when
    /// all of them need to log in again at the same moment.
    /// </summary>
    [Fact]
    public async Task PinChangedWhileRunning_ReloginFailsOnceForAllKeysOnTheToken_NeverPresentedAgain()
    {
        var token = await InProcessSoftHsm.TokenAsync("pin");
        var pinFile = token.Hsm.Dir.Write("changing.pin", SoftHsm.UserPin + "\n");
        var keys = new List<Pkcs11Key>();
        try
        {
            foreach (var label in new[] { "rsa", "ed", "hmac" })
            {
                keys.Add(await Pkcs11Key.OpenAsync(Settings(token, label, sessions: 2, pinFile: pinFile), NullLogger.Instance, default));
                await keys[^1].SignAsync(Payload, default);
            }
            var spyBefore = (await File.ReadAllTextAsync(InProcessSoftHsm.SpyLog(token))).Length;

            // Someone changes the PIN and the token drops our login: the PIN the signer holds is now wrong.
            using (var second = Pkcs11Module.Open(SoftHsm.SpyModule))
            {
                var slot = FindSlot(second, token.Label);
                using (var session = slot.OpenSession(SessionType.ReadWrite))
                {
                    session.SetPin(Encoding.ASCII.GetBytes(SoftHsm.UserPin), Encoding.ASCII.GetBytes("654321"));
                }
                slot.CloseAllSessions();
            }
            try
            {
                // Six signatures at once (two per key), all needing a new login.
                using var start = new Barrier(6);
                var together = keys.SelectMany(key => new[] { key, key }).Select(key => Task.Run(async () =>
                {
                    Assert.True(start.SignalAndWait(TimeSpan.FromSeconds(30)), "the six signatures did not start together");
                    return await Assert.ThrowsAsync<SignerException>(async () => await key.SignAsync(Payload, default));
                })).ToList();
                Assert.All(await Task.WhenAll(together), error => Assert.Equal("PIN_INCORRECT", error.Reason));
                for (var i = 0; i < 3; i++)
                {
                    foreach (var key in keys)
                    {
                        var error = await Assert.ThrowsAsync<SignerException>(async () => await key.SignAsync(Payload, default));
                        Assert.Equal("PIN_INCORRECT", error.Reason);
                        Assert.Equal(ErrorKind.Configuration, error.Kind);
                    }
                }
                var calls = (await File.ReadAllTextAsync(InProcessSoftHsm.SpyLog(token)))[spyBefore..];
                Assert.Equal(1, Count(calls, "CKR_PIN_INCORRECT"));
            }
            finally
            {
                using var second = Pkcs11Module.Open(SoftHsm.SpyModule);
                using var session = FindSlot(second, token.Label).OpenSession(SessionType.ReadWrite);
                session.Login(CKU.CKU_USER, "654321");
                session.SetPin("654321", SoftHsm.UserPin);
                session.Logout();
            }
        }
        finally
        {
            keys.ForEach(k => k.Dispose());
        }
    }

    [Theory]
    [InlineData("ed", "ED25519")]
    [InlineData("rsa", "RSA_PKCS1_SHA256")]
    [InlineData("hmac", "HMAC_SHA256")]
    public async Task KeyValue_TokenRefusesToRevealIt(string label, string algorithmName)
    {
        var token = await InProcessSoftHsm.TokenAsync("value-" + label);
        using var key = await Pkcs11Key.OpenAsync(Settings(token, label, sessions: 1), NullLogger.Instance, default);
        var algorithm = key.Algorithm;
        Assert.Equal(algorithmName, SignatureEncoding.Name(algorithm));
        Assert.False(key.Extractable);
        var lease = await key.Token.RentAsync(default);
        try
        {
            var objectClass = algorithm == KeyAlgorithm.HmacSha256 ? CKO.CKO_SECRET_KEY : CKO.CKO_PRIVATE_KEY;
            var handle = Pkcs11Objects.Find(lease.Session, key.Token.Settings, objectClass).Single();
            // Logged in as the user, asking for the secret itself: the token answers
            // CKR_ATTRIBUTE_SENSITIVE, which Pkcs11Interop reports as "cannot be read".
            var secretAttributes = algorithm == KeyAlgorithm.RsaPkcs1Sha256
                ? new List<CKA> { CKA.CKA_PRIVATE_EXPONENT, CKA.CKA_PRIME_1, CKA.CKA_PRIME_2 }
                : new List<CKA> { CKA.CKA_VALUE };
            Assert.All(lease.Session.GetAttributeValue(handle, secretAttributes), a => Assert.True(a.CannotBeRead, a.Type.ToString()));
            var flags = lease.Session.GetAttributeValue(handle, [CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE, CKA.CKA_ALWAYS_SENSITIVE, CKA.CKA_NEVER_EXTRACTABLE, CKA.CKA_TOKEN, CKA.CKA_PRIVATE]);
            // An imported secret was known outside the token, so PKCS#11 rightly never calls it
            // "always sensitive" or "never extractable"; keys generated inside are both.
            var generatedInside = algorithm != KeyAlgorithm.HmacSha256;
            Assert.Equal([true, false, generatedInside, generatedInside, true, true], flags.Select(f => f.GetValueAsBool()));
        }
        finally
        {
            key.Token.Return(lease, healthy: true);
        }
    }

    [Theory]
    [InlineData("ed")]
    [InlineData("rsa")]
    [InlineData("hmac")]
    public async Task KeyUsage_SignOnly_NoDecryptUnwrapDeriveAndThePublicKeyNoEncryptWrap(string label)
    {
        var token = await InProcessSoftHsm.TokenAsync("usage-" + label);
        using var key = await Pkcs11Key.OpenAsync(Settings(token, label, sessions: 1), NullLogger.Instance, default);
        var lease = await key.Token.RentAsync(default);
        try
        {
            var session = lease.Session;
            if (key.Algorithm == KeyAlgorithm.HmacSha256)
            {
                var secret = Pkcs11Objects.Find(session, key.Token.Settings, CKO.CKO_SECRET_KEY).Single();
                AssertOnlyUse(session, secret, CKA.CKA_SIGN, CKA.CKA_VERIFY, CKA.CKA_ENCRYPT, CKA.CKA_DECRYPT, CKA.CKA_WRAP, CKA.CKA_UNWRAP, CKA.CKA_DERIVE);
                AssertOnlyMechanism(session, secret, Pkcs11Objects.Mechanism(key.Algorithm));
                return;
            }
            var privateKey = Pkcs11Objects.Find(session, key.Token.Settings, CKO.CKO_PRIVATE_KEY).Single();
            AssertOnlyUse(session, privateKey, CKA.CKA_SIGN, CKA.CKA_DECRYPT, CKA.CKA_UNWRAP, CKA.CKA_DERIVE);
            AssertOnlyMechanism(session, privateKey, Pkcs11Objects.Mechanism(key.Algorithm));
            var publicKey = Pkcs11Objects.Find(session, key.Token.Settings, CKO.CKO_PUBLIC_KEY).Single();
            AssertOnlyUse(session, publicKey, CKA.CKA_VERIFY, CKA.CKA_ENCRYPT, CKA.CKA_WRAP);
        }
        finally
        {
            key.Token.Return(lease, healthy: true);
        }
    }

    /// <summary>The key's CKA_ALLOWED_MECHANISMS is exactly the one mechanism the signer signs with.</summary>
    private static void AssertOnlyMechanism(ISession session, IObjectHandle handle, ulong mechanism)
    {
        var allowed = session.GetAttributeValue(handle, [CKA.CKA_ALLOWED_MECHANISMS])[0];
        Assert.False(allowed.CannotBeRead);
        Assert.Equal([mechanism], allowed.GetValueAsULongList());
    }

    /// <summary>The token reports <paramref name="allowed"/> true and every one of <paramref name="refused"/> false.</summary>
    private static void AssertOnlyUse(ISession session, IObjectHandle handle, CKA allowed, params CKA[] refused)
    {
        var values = session.GetAttributeValue(handle, [allowed, .. refused]);
        Assert.All(values, v => Assert.False(v.CannotBeRead, ((CKA)v.Type).ToString()));
        Assert.Equal([true, .. refused.Select(_ => false)], values.Select(v => v.GetValueAsBool()));
    }

    [Fact]
    public async Task RsaKey_TokenRefusesToDecryptOrUnwrapWithIt()
    {
        var token = await InProcessSoftHsm.TokenAsync("decrypt");
        using var key = await Pkcs11Key.OpenAsync(Settings(token, "rsa", sessions: 1), NullLogger.Instance, default);
        using var rsa = RSA.Create();
        rsa.ImportFromPem(key.PublicKeyPem);
        var ciphertext = rsa.Encrypt("a key someone wrapped for this public key"u8, RSAEncryptionPadding.Pkcs1);
        var lease = await key.Token.RentAsync(default);
        var unwrapped = SessionSecretTemplate();
        try
        {
            var handle = Pkcs11Objects.Find(lease.Session, key.Token.Settings, CKO.CKO_PRIVATE_KEY).Single();
            using var mechanism = Pkcs11Module.Factories.MechanismFactory.Create(CKM.CKM_RSA_PKCS);
            var decrypt = Assert.Throws<Pkcs11Exception>(() => lease.Session.Decrypt(mechanism, handle, ciphertext));
            Assert.Equal(CKR.CKR_KEY_FUNCTION_NOT_PERMITTED, decrypt.RV);
            var unwrap = Assert.Throws<Pkcs11Exception>(() => lease.Session.UnwrapKey(mechanism, handle, ciphertext, unwrapped));
            Assert.Equal(CKR.CKR_KEY_FUNCTION_NOT_PERMITTED, unwrap.RV);
            // Raw RSA "signing" is the private-key operation itself, i.e. decryption by another name;
            // CKA_ALLOWED_MECHANISMS leaves the key to CKM_SHA256_RSA_PKCS only.
            using var raw = Pkcs11Module.Factories.MechanismFactory.Create(CKM.CKM_RSA_X_509);
            var rawSign = Assert.Throws<Pkcs11Exception>(() => lease.Session.Sign(raw, handle, ciphertext));
            Assert.Equal(CKR.CKR_MECHANISM_INVALID, rawSign.RV);
        }
        finally
        {
            unwrapped.ForEach(a => a.Dispose());
            key.Token.Return(lease, healthy: true);
        }
        // Signing, its one use, still works.
        await key.SignAsync(Payload, default);
    }

    [Fact]
    public async Task HmacKeyShorterThanTheTokenAllows_SignFailsWithKeySizeNotSupported()
    {
        var token = await InProcessSoftHsm.TokenAsync("short-hmac");
        // seal-into-token no longer leaves such a key behind (Pkcs11ServeTests); other tools still can.
        // A session object: it is gone when this session closes, whatever the test does.
        using var module = Pkcs11Module.Open(SoftHsm.SpyModule);
        using var session = FindSlot(module, token.Label).OpenSession(SessionType.ReadWrite);
        try
        {
            session.Login(CKU.CKU_USER, SoftHsm.UserPin);
        }
        catch (Pkcs11Exception e) when (e.RV == CKR.CKR_USER_ALREADY_LOGGED_IN)
        {
        }
        var f = Pkcs11Module.Factories.ObjectAttributeFactory;
        var template = SessionSecretTemplate(
            f.Create(CKA.CKA_SIGN, true),
            f.Create(CKA.CKA_LABEL, "short-hmac"),
            f.Create(CKA.CKA_VALUE, Encoding.ASCII.GetBytes("abcdefghijklmnopqrstuvwxyz")));
        try
        {
            session.CreateObject(template);
        }
        finally
        {
            template.ForEach(a => a.Dispose());
        }

        using var key = await Pkcs11Key.OpenAsync(Settings(token, "short-hmac", sessions: 1), NullLogger.Instance, default);
        Assert.Equal(KeyAlgorithm.HmacSha256, key.Algorithm);
        var error = await Assert.ThrowsAsync<SignerException>(async () => await key.SignAsync(Payload, default));
        Assert.Equal("KEY_SIZE_NOT_SUPPORTED", error.Reason);
        Assert.Equal(ErrorKind.Configuration, error.Kind);
        Assert.Contains("the token refuses this key's size for this mechanism", error.Message, StringComparison.Ordinal);
        Assert.Equal("CKR_KEY_SIZE_RANGE", error.Metadata["ckr"]);
    }

    /// <summary>A generic secret key that is a session object (gone when its session closes), plus <paramref name="more"/>.</summary>
    private static List<IObjectAttribute> SessionSecretTemplate(params IObjectAttribute[] more)
    {
        var f = Pkcs11Module.Factories.ObjectAttributeFactory;
        return [f.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY), f.Create(CKA.CKA_KEY_TYPE, CKK.CKK_GENERIC_SECRET), f.Create(CKA.CKA_TOKEN, false), .. more];
    }
}
