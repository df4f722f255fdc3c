using System.Text;
using Grpc.Core;
using NSec.Cryptography;
using Uncoded.Client;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Pkcs11;

/// <summary>
/// The PKCS#11 backend end to end on a real SoftHSM token: the signer CLI and a real <c>serve</c>
/// process (each with its own SOFTHSM2_CONF), signatures checked by openssl.
/// </summary>
public sealed class Pkcs11ServeTests
{
    private sealed record Signed(string Signature, string Algorithm, string ApiKey, string Payload);

    /// <summary>Signs <paramref name="payload"/>, by default Binance's example order with a fresh timestamp (the guards want one).</summary>
    private static async Task<Signed> SignAsync(SignerProcess signer, string keyId, string? payload = null)
    {
        payload ??= TestKeys.FreshExamplePayload();
        using var client = signer.Client();
        var response = await client.SignAsync(keyId, "POST", "/api/v3/order", Encoding.ASCII.GetBytes(payload));
        return new Signed(response.Signature, response.Algorithm, response.ApiKey, payload);
    }

    [Theory]
    [InlineData("ed25519")]
    [InlineData("rsa2048")]
    [InlineData("rsa4096")]
    public async Task Keygen_InToken_PubkeyRepeatsPemAndServeSignaturesVerifyWithOpenssl(string type)
    {
        using var hsm = await SoftHsm.CreateAsync();
        var pem = await hsm.KeygenAsync(type, "binance");
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----\n", pem, StringComparison.Ordinal);

        var again = await hsm.SignerAsync(["pubkey", .. hsm.KeyArgs("binance")]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(pem, again.Stdout);

        // The token says the private key is sensitive and never extractable (pkcs11-tool's own view).
        var objects = await hsm.Pkcs11ToolAsync("--list-objects", "--type", "privkey");
        Assert.Contains("sensitive, always sensitive, never extractable, local", objects.Stdout, StringComparison.Ordinal);
        // A signing key only: no "decrypt" or "unwrap" (SoftHSM's defaults when the template says nothing).
        Assert.Matches(@"Usage:\s+sign\n", objects.Stdout);
        var publicObjects = await hsm.Pkcs11ToolAsync("--list-objects", "--type", "pubkey");
        Assert.Matches(@"Usage:\s+verify\n", publicObjects.Stdout);

        await using var signer = await hsm.ServeAsync(new Dictionary<string, object> { ["k"] = hsm.KeyConfig("binance") });
        Assert.Contains("PKCS#11 token 'uncoded-test'", signer.Log, StringComparison.Ordinal);
        var response = await SignAsync(signer, "k");
        Assert.Equal(type == "ed25519" ? "ED25519" : "RSA_PKCS1_SHA256", response.Algorithm);
        Assert.Equal("api-key-binance", response.ApiKey);
        await Signatures.AssertOpensslVerifiesAsync(hsm.Dir, pem, response.Payload, response.Signature, ed25519: type == "ed25519");
    }

    [Fact]
    public async Task Keygen_LabelTaken_RefusedAndExistingKeyUntouched()
    {
        using var hsm = await SoftHsm.CreateAsync();
        var pem = await hsm.KeygenAsync("ed25519", "binance");
        var second = await hsm.SignerAsync(["keygen", "--type", "ed25519", .. hsm.KeyArgs("binance")]);
        Assert.Equal(2, second.ExitCode);
        Assert.Contains("KEY_EXISTS", second.Stderr, StringComparison.Ordinal);
        var again = await hsm.SignerAsync(["pubkey", .. hsm.KeyArgs("binance")]);
        Assert.Equal(pem, again.Stdout);
    }

    [Fact]
    public async Task Keygen_KeyIdTaken_RefusedForNewKeyAndSecret_KeyStillFoundById()
    {
        using var hsm = await SoftHsm.CreateAsync();
        var first = await hsm.SignerAsync(["keygen", "--type", "ed25519", .. hsm.KeyArgs("binance"), "--key-id", "01"]);
        Assert.True(first.ExitCode == 0, first.ToString());

        // Another label, the same CKA_ID: before the fix this made a second key 01, and naming the key by ID failed (AMBIGUOUS_KEY).
        var second = await hsm.SignerAsync(["keygen", "--type", "rsa2048", .. hsm.KeyArgs("other"), "--key-id", "01"]);
        Assert.Equal(2, second.ExitCode);
        Assert.Contains("already holds a key with CKA_ID 01", second.Stderr, StringComparison.Ordinal);
        Assert.Contains("KEY_ID_EXISTS", second.Stderr, StringComparison.Ordinal);
        var secretFile = hsm.Dir.Write("hmac.secret", TestKeys.BinanceExampleSecret + "\n");
        var secret = await hsm.SignerAsync(["seal-into-token", "--hmac-secret-file", secretFile, .. hsm.KeyArgs("hmac"), "--key-id", "0x01"]);
        Assert.Equal(2, secret.ExitCode);
        Assert.Contains("KEY_ID_EXISTS", secret.Stderr, StringComparison.Ordinal);

        var objects = await hsm.Pkcs11ToolAsync("--list-objects");
        Assert.Equal(1, Count(objects.Stdout, "Private Key Object"));
        Assert.Equal(1, Count(objects.Stdout, "Public Key Object"));
        Assert.Equal(0, Count(objects.Stdout, "Secret Key Object"));
        var byId = await hsm.SignerAsync("pubkey", "--pkcs11-module", SoftHsm.Module, "--token-label", hsm.Label, "--key-id", "01", "--pin-file", hsm.PinFile);
        Assert.True(byId.ExitCode == 0, byId.ToString());
        Assert.Equal(first.Stdout, byId.Stdout);
    }

    [Fact]
    public async Task SealIntoToken_SecretTooShortForTheToken_RefusedAndNothingLeftInTheToken()
    {
        using var hsm = await SoftHsm.CreateAsync();
        // 26 printable bytes pass the signer's own checks, but SoftHSM signs HMAC-SHA256 only with
        // keys of 32 bytes or more (CKR_KEY_SIZE_RANGE, and only when it signs, not when it imports).
        const string shortSecret = "abcdefghijklmnopqrstuvwxyz";
        var shortFile = hsm.Dir.Write("short.secret", shortSecret + "\n");
        var refused = await hsm.SignerAsync(["seal-into-token", "--hmac-secret-file", shortFile, .. hsm.KeyArgs("hmac")]);
        Assert.Equal(3, refused.ExitCode);
        Assert.Contains("token 'uncoded-test' cannot sign with this 26-byte HMAC secret", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("CKR_KEY_SIZE_RANGE", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("nothing was left in the token [TOKEN_CANNOT_USE_SECRET]", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(shortSecret, refused.Stdout + refused.Stderr, StringComparison.Ordinal);
        var objects = await hsm.Pkcs11ToolAsync("--list-objects");
        Assert.True(objects.ExitCode == 0, objects.ToString());
        Assert.DoesNotContain("Object;", objects.Stdout, StringComparison.Ordinal);

        // The label is free again, and a real (64-character) Binance secret passes the same test.
        var secretFile = hsm.Dir.Write("hmac.secret", TestKeys.BinanceExampleSecret + "\n");
        var import = await hsm.SignerAsync(["seal-into-token", "--hmac-secret-file", secretFile, .. hsm.KeyArgs("hmac")]);
        Assert.True(import.ExitCode == 0, import.ToString());
        Assert.Equal(1, Count((await hsm.Pkcs11ToolAsync("--list-objects")).Stdout, "Secret Key Object"));
    }

    [Fact]
    public async Task KeysFromOtherTools_FoundAndUsed_ImportedKeysSignByteIdenticalToSealedFile()
    {
        using var hsm = await SoftHsm.CreateAsync();
        // Generated by OpenSC's pkcs11-tool (it writes CKA_EC_PARAMS as the PrintableString "edwards25519").
        Assert.Equal(0, (await hsm.Pkcs11ToolAsync("--keypairgen", "--key-type", "EC:edwards25519", "--label", "tool-ed", "--id", "a1")).ExitCode);
        Assert.Equal(0, (await hsm.Pkcs11ToolAsync("--keypairgen", "--key-type", "rsa:2048", "--label", "tool-rsa", "--id", "a2")).ExitCode);
        Assert.Equal(0, (await hsm.Pkcs11ToolAsync("--keypairgen", "--key-type", "rsa:3072", "--label", "tool-rsa3072", "--id", "a3")).ExitCode);
        Assert.Equal(0, (await hsm.Pkcs11ToolAsync("--keygen", "--key-type", "GENERIC:64", "--usage-sign", "--sensitive", "--label", "tool-hmac", "--id", "a4")).ExitCode);

        // Made by openssl, imported into the token by softhsm2-util and sealed into a file by the signer.
        var keys = new Dictionary<string, object>
        {
            ["tool-ed"] = hsm.KeyConfig("tool-ed"),
            ["tool-rsa"] = hsm.KeyConfig("tool-rsa"),
            ["tool-rsa3072"] = hsm.KeyConfig("tool-rsa3072"),
            ["tool-hmac"] = hsm.KeyConfig("tool-hmac"),
        };
        foreach (var (name, algorithm, bits, id) in new[] { ("imp-ed", "ed25519", 0, "b1"), ("imp-rsa", "rsa", 2048, "b2"), ("imp-rsa3072", "rsa", 3072, "b3") })
        {
            var pemPath = hsm.Dir.File(name + ".pem");
            var gen = await Run.OpensslAsync(["genpkey", "-algorithm", algorithm, .. bits > 0 ? new[] { "-pkeyopt", $"rsa_keygen_bits:{bits}" } : [], "-out", pemPath]);
            Assert.True(gen.ExitCode == 0, gen.ToString());
            var import = await hsm.ToolAsync("softhsm2-util", "--import", pemPath, "--token", hsm.Label, "--label", name, "--id", id, "--pin", SoftHsm.UserPin);
            Assert.True(import.ExitCode == 0, import.ToString());
            var (sealedPath, passPath) = TestKeys.Seal(hsm.Dir, name + ".sealed", KeyFactory.ImportPrivateKeyPem(await File.ReadAllBytesAsync(pemPath), name, DateTimeOffset.UnixEpoch));
            keys[name] = hsm.KeyConfig(name);
            keys[name + "-sealed"] = new { ApiKey = "api-key-" + name, SealedFile = new { Path = sealedPath, PassphraseFile = passPath } };
        }

        await using var signer = await hsm.ServeAsync(keys);
        foreach (var name in new[] { "tool-ed", "tool-rsa", "tool-rsa3072" })
        {
            var pem = await hsm.SignerAsync(["pubkey", .. hsm.KeyArgs(name)]);
            Assert.True(pem.ExitCode == 0, pem.ToString());
            var response = await SignAsync(signer, name);
            await Signatures.AssertOpensslVerifiesAsync(hsm.Dir, pem.Stdout, response.Payload, response.Signature, ed25519: name == "tool-ed");
        }
        // A generic secret the signer never saw: its HMAC equals the one pkcs11-tool computes in the token.
        var hmacPayload = TestKeys.FreshExamplePayload();
        var fromSigner = await SignAsync(signer, "tool-hmac", hmacPayload);
        var data = hsm.Dir.Write("hmac.data", hmacPayload);
        var byTool = await hsm.Pkcs11ToolAsync("--sign", "-m", "SHA256-HMAC", "--label", "tool-hmac", "-i", data, "-o", hsm.Dir.File("hmac.sig"));
        Assert.True(byTool.ExitCode == 0, byTool.ToString());
        Assert.Equal("HMAC_SHA256", fromSigner.Algorithm);
        Assert.Equal(Convert.ToHexStringLower(await File.ReadAllBytesAsync(hsm.Dir.File("hmac.sig"))), fromSigner.Signature);
        // Ed25519 and RSA PKCS#1 v1.5 are deterministic: the same key gives the same bytes in both backends.
        foreach (var name in new[] { "imp-ed", "imp-rsa", "imp-rsa3072" })
        {
            var payload = TestKeys.FreshExamplePayload();
            var fromToken = await SignAsync(signer, name, payload);
            var fromFile = await SignAsync(signer, name + "-sealed", payload);
            Assert.Equal(fromFile.Signature, fromToken.Signature);
            Assert.Equal(fromFile.Algorithm, fromToken.Algorithm);
        }
    }

    [Fact]
    public async Task SealIntoToken_BinanceHmacExample_SameHexAsSealedFile()
    {
        using var hsm = await SoftHsm.CreateAsync();
        var secretFile = hsm.Dir.Write("hmac.secret", TestKeys.BinanceExampleSecret + "\n");
        var import = await hsm.SignerAsync(["seal-into-token", "--hmac-secret-file", secretFile, .. hsm.KeyArgs("hmac")]);
        Assert.True(import.ExitCode == 0, import.ToString());
        Assert.DoesNotContain(TestKeys.BinanceExampleSecret, import.Stdout + import.Stderr, StringComparison.Ordinal);

        var noPem = await hsm.SignerAsync(["pubkey", .. hsm.KeyArgs("hmac")]);
        Assert.Contains("NO_PUBLIC_KEY", noPem.Stderr, StringComparison.Ordinal);

        var (sealedPath, passPath) = TestKeys.SealHmac(hsm.Dir, "hmac.sealed");
        await using var signer = await hsm.ServeAsync(new Dictionary<string, object>
        {
            ["token"] = hsm.KeyConfig("hmac"),
            ["file"] = new { ApiKey = "api-key-file", SealedFile = new { Path = sealedPath, PassphraseFile = passPath } },
        });
        // Binance's example order, fresh timestamp (the guards refuse the 2017 one): the token's
        // HMAC equals .NET's HMAC with the published secret and the sealed-file backend's.
        // (The published 2017 signature itself is reproduced in-process: Pkcs11InProcessTests.)
        var payload = TestKeys.FreshExamplePayload();
        var fromToken = await SignAsync(signer, "token", payload);
        Assert.Equal("HMAC_SHA256", fromToken.Algorithm);
        Assert.Equal(TestKeys.ExpectedHmac(payload), fromToken.Signature);
        Assert.Equal((await SignAsync(signer, "file", payload)).Signature, fromToken.Signature);
    }

    [Fact]
    public async Task WrongPin_StartupFailsOnce_OneLoginAttemptAndTokenCountsIt()
    {
        using var hsm = await SoftHsm.CreateAsync();
        await hsm.KeygenAsync("ed25519", "binance");
        Assert.DoesNotContain("user PIN count low", await hsm.TokenFlagsAsync(), StringComparison.Ordinal);

        // The signer loads OpenSC's pkcs11-spy in front of SoftHSM: the spy logs every PKCS#11 call
        // the signer makes, so the number of C_Login attempts is observed, not inferred.
        var spyLog = hsm.Dir.File("spy.log");
        var wrongPin = hsm.Dir.Write("wrong.pin", "999999\n");
        await using var signer = await hsm.ServeAsync(
            new Dictionary<string, object> { ["k"] = hsm.KeyConfig("binance", pinFile: wrongPin, module: SoftHsm.SpyModule) },
            new Dictionary<string, string?> { ["PKCS11SPY"] = SoftHsm.Module, ["PKCS11SPY_OUTPUT"] = spyLog },
            waitUntilListening: false);
        Assert.Equal(3, await signer.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("PIN_INCORRECT", signer.Log, StringComparison.Ordinal);
        Assert.Contains("not retried", signer.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("999999", signer.Log, StringComparison.Ordinal);

        var calls = await File.ReadAllTextAsync(spyLog);
        Assert.Equal(1, Count(calls, ": C_Login\n"));
        Assert.Equal(1, Count(calls, "CKR_PIN_INCORRECT"));

        // SoftHSM has no numeric retry counter; after a failed C_Login it sets CKF_USER_PIN_COUNT_LOW
        // in the token info (and clears it on the next good login). That flag is the counter we can
        // read: it went from clear to set, and the spy log shows exactly one attempt caused it.
        Assert.Contains("user PIN count low", await hsm.TokenFlagsAsync(), StringComparison.Ordinal);

        await using var good = await hsm.ServeAsync(new Dictionary<string, object> { ["k"] = hsm.KeyConfig("binance") });
        await SignAsync(good, "k");
        Assert.DoesNotContain("user PIN count low", await hsm.TokenFlagsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task EightParallelCallers_OverTheSocket_AllSignaturesValid()
    {
        using var hsm = await SoftHsm.CreateAsync();
        var pem = await hsm.KeygenAsync("ed25519", "binance");
        var publicKey = PublicKey.Import(SignatureAlgorithm.Ed25519, Encoding.ASCII.GetBytes(pem), KeyBlobFormat.PkixPublicKeyText);
        // The PIN from an environment variable this time (the config names the variable, never the PIN).
        await using var signer = await hsm.ServeAsync(
            new Dictionary<string, object>
            {
                ["k"] = new { ApiKey = "a", Pkcs11 = new { Module = SoftHsm.Module, TokenLabel = hsm.Label, KeyLabel = "binance", PinEnv = "TOKEN_PIN", Sessions = 4 } },
            },
            new Dictionary<string, string?> { ["TOKEN_PIN"] = SoftHsm.UserPin });

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(caller => Task.Run(async () =>
        {
            using var client = signer.Client();
            var signed = new List<(string Payload, string Signature)>();
            for (var i = 0; i < 25; i++)
            {
                var payload = $"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1.{caller}{i:D2}&recvWindow=5000&timestamp={TestKeys.NowMs()}";
                var response = await client.SignAsync("k", "POST", "/api/v3/order", Encoding.ASCII.GetBytes(payload));
                signed.Add((payload, response.Signature));
            }
            return signed;
        })));

        var all = results.SelectMany(r => r).ToList();
        Assert.Equal(200, all.Count);
        Assert.All(all, s => Assert.True(SignatureAlgorithm.Ed25519.Verify(publicKey, Encoding.ASCII.GetBytes(s.Payload), Signatures.FromWire(s.Signature)), s.Payload));
        await Signatures.AssertOpensslVerifiesAsync(hsm.Dir, pem, all[^1].Payload, all[^1].Signature, ed25519: true);
        Assert.False(signer.HasExited);
    }

    [Fact]
    public async Task TokenGone_AnswersUnavailableWithReasonAndStaysUp_ResumesWhenBack()
    {
        using var hsm = await SoftHsm.CreateAsync();
        var pem = await hsm.KeygenAsync("ed25519", "binance");
        await using var signer = await hsm.ServeAsync(new Dictionary<string, object> { ["k"] = hsm.KeyConfig("binance") });
        await SignAsync(signer, "k");

        // SoftHSM keeps each token in a directory under tokendir; moving it away is the closest
        // SoftHSM gets to pulling a YubiKey out. Measured (SoftHSM 2.6.1): the next C_Sign fails
        // with CKR_OBJECT_HANDLE_INVALID, then C_GetSlotList no longer lists the token.
        var tokenDir = Directory.GetDirectories(hsm.TokenDir).Single();
        var away = hsm.Dir.File("token-away");
        Directory.Move(tokenDir, away);
        for (var i = 0; i < 3; i++)
        {
            var refused = await Assert.ThrowsAsync<SignerRefusedException>(() => SignAsync(signer, "k"));
            Assert.Equal(StatusCode.Unavailable, refused.Code);
            Assert.Equal("TOKEN_NOT_PRESENT", refused.Reason);
            // The caller learns the reason; the token's label and the module path stay in the signer's log.
            Assert.Equal("the signer cannot sign now (TOKEN_NOT_PRESENT); the details are in the signer's log", refused.Message);
            Assert.Contains("token 'uncoded-test' is not present", signer.Log, StringComparison.Ordinal);
        }
        Assert.False(signer.HasExited);
        Assert.Contains("dropped its sessions", signer.Log, StringComparison.Ordinal);

        // SoftHSM lists tokens only at C_Initialize; the backend re-initialises the module (at
        // most every 2 s) while the token is missing, so the token is found again once it is back.
        Directory.Move(away, tokenDir);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        Signed? response = null;
        while (response is null)
        {
            try
            {
                response = await SignAsync(signer, "k");
            }
            catch (SignerCallException e) when (e.Code == StatusCode.Unavailable && DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
            }
        }
        await Signatures.AssertOpensslVerifiesAsync(hsm.Dir, pem, response.Payload, response.Signature, ed25519: true);
        Assert.Contains("back in slot", signer.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OrderNotSignedBecauseTheTokenIsGone_GivesItsNotionalBackToTheCap_AlsoAfterKill9()
    {
        using var hsm = await SoftHsm.CreateAsync();
        await hsm.KeygenAsync("ed25519", "binance");
        var key = System.Text.Json.JsonSerializer.SerializeToNode(hsm.KeyConfig("binance"))!.AsObject();
        key["Guard"] = System.Text.Json.JsonSerializer.SerializeToNode(new
        {
            Symbols = new Dictionary<string, object> { ["LTCBTC"] = new { MaxOrderNotional = 100m } },
            MaxDailyNotional = 100m,
        });
        var keys = new Dictionary<string, object> { ["k"] = key };
        static string Order(int quantity) => FormattableString.Invariant(
            $"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity={quantity}&price=1&recvWindow=5000&timestamp={TestKeys.NowMs()}");
        var auditPath = hsm.Dir.File("audit.log");
        var signer = await hsm.ServeAsync(keys);
        try
        {
            await SignAsync(signer, "k", Order(60));

            var tokenDir = Directory.GetDirectories(hsm.TokenDir).Single();
            var away = hsm.Dir.File("token-away");
            Directory.Move(tokenDir, away);
            var refused = await Assert.ThrowsAsync<SignerRefusedException>(() => SignAsync(signer, "k", Order(30)));
            Assert.Equal("TOKEN_NOT_PRESENT", refused.Reason);

            // The allowed record counted 30; the unsigned record after it gives the 30 back.
            var lines = await File.ReadAllLinesAsync(auditPath);
            using var allowedDoc = System.Text.Json.JsonDocument.Parse(lines[^2]);
            using var unsignedDoc = System.Text.Json.JsonDocument.Parse(lines[^1]);
            var allowed = allowedDoc.RootElement;
            var unsigned = unsignedDoc.RootElement;
            Assert.Equal("allow", allowed.GetProperty("decision").GetString());
            Assert.Equal("30", allowed.GetProperty("notional").GetString());
            Assert.Equal("unsigned", unsigned.GetProperty("decision").GetString());
            Assert.Equal("30", unsigned.GetProperty("notional").GetString());
            Assert.Equal(allowed.GetProperty("seq").GetUInt64(), unsigned.GetProperty("allowedSeq").GetUInt64());
            Assert.Equal(allowed.GetProperty("time").GetString(), unsigned.GetProperty("allowedTime").GetString());
            Assert.Equal("TOKEN_NOT_PRESENT", unsigned.GetProperty("reason").GetString());
            Assert.Equal("", unsigned.GetProperty("payload").GetString());
            Assert.Contains("its notional is given back to the 24 h cap", signer.Log, StringComparison.Ordinal);

            // Token back: 60 + 40 fits the cap of 100 only because the unsigned 30 left it.
            Directory.Move(away, tokenDir);
            await WaitUntilSignsAsync(signer);
            await SignAsync(signer, "k", Order(40));
            refused = await Assert.ThrowsAsync<SignerRefusedException>(() => SignAsync(signer, "k", Order(1)));
            Assert.Equal("ROLLING_CAP", refused.Reason);
            Assert.Equal("100 + 1", refused.Metadata["observed"]);

            // kill -9: the replay gives the 30 back again (an allowed record alone would make it 130).
            signer.Kill();
            await signer.DisposeAsync();
            signer = await hsm.ServeAsync(keys);
            refused = await Assert.ThrowsAsync<SignerRefusedException>(() => SignAsync(signer, "k", Order(1)));
            Assert.Equal("ROLLING_CAP", refused.Reason);
            Assert.Equal("100 + 1", refused.Metadata["observed"]);
        }
        finally
        {
            await signer.DisposeAsync();
        }
        var verify = await hsm.SignerAsync("verify-audit", "--log", auditPath);
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    /// <summary>Polls with reads (no notional) until the token is found again (the module is re-initialised at most every 2 s).</summary>
    private static async Task WaitUntilSignsAsync(SignerProcess signer)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        using var client = signer.Client();
        while (true)
        {
            try
            {
                await client.SignAsync("k", "GET", "/api/v3/account", Encoding.ASCII.GetBytes(FormattableString.Invariant($"recvWindow=5000&timestamp={TestKeys.NowMs()}")));
                return;
            }
            catch (SignerCallException e) when (e.Code == StatusCode.Unavailable && DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
            }
        }
    }

    private static int Count(string text, string what)
    {
        var count = 0;
        for (var at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + what.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
