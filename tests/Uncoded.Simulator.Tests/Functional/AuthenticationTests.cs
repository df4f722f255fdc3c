using System.Net;
using Uncoded.Simulator.Scenarios;
using Uncoded.Simulator.Tests.Support;

namespace Uncoded.Simulator.Tests.Functional;

/// <summary>Binance's request authentication: API key, IP allowlist, permissions, signature, timestamp.</summary>
public sealed class AuthenticationTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static async Task<Answer> AccountAsync(BinanceClient client) =>
        await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "omitZeroBalances=true");

    [Fact]
    public async Task Account_HmacSignedByDotnet_Accepted()
    {
        var key = TestKeys.Hmac();
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        var answer = await AccountAsync(client);

        Assert.Equal(200, answer.Status);
        var usdt = answer.Json.GetProperty("balances").EnumerateArray().Single(b => b.GetProperty("asset").GetString() == "USDT");
        Assert.Equal("100000.00000000", usdt.GetProperty("free").GetString());
    }

    [Fact]
    public async Task Account_HmacUpperCaseHex_Accepted()
    {
        var key = TestKeys.Hmac(upperCaseHex: true);
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        Assert.Equal(200, (await AccountAsync(client)).Status);
    }

    public static TheoryData<string> KeyTypes => new() { "HMAC", "ED25519", "RSA" };

    private async Task<TestKey> KeyAsync(string type) => type switch
    {
        "HMAC" => TestKeys.Hmac(),
        "ED25519" => await TestKeys.Ed25519Async(_dir),
        _ => await TestKeys.RsaAsync(_dir),
    };

    /// <summary>HMAC by .NET's HMACSHA256; Ed25519 and RSA by the openssl CLI.</summary>
    [Theory]
    [MemberData(nameof(KeyTypes))]
    public async Task Account_SignedByIndependentTool_Accepted(string type)
    {
        var key = await KeyAsync(type);
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        var answer = await AccountAsync(client);

        Assert.True(answer.Status == 200, answer.ToString());
        Assert.Equal("SPOT", answer.Get("accountType"));
    }

    [Theory]
    [MemberData(nameof(KeyTypes))]
    public async Task Account_OneAlteredPayloadByte_Rejected1022(string type)
    {
        var key = await KeyAsync(type);
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        // omitZeroBalances=true → omitZeroBalances=truf after signing.
        var answer = await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "omitZeroBalances=true",
            tamperPayload: q => q.Replace("true", "truf", StringComparison.Ordinal));

        Assert.Equal(400, answer.Status);
        Assert.Equal(-1022, answer.Code);
        Assert.Equal("Signature for this request is not valid.", answer.Msg);
    }

    [Theory]
    [MemberData(nameof(KeyTypes))]
    public async Task Account_OneAlteredSignatureByte_Rejected1022(string type)
    {
        var key = await KeyAsync(type);
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        var answer = await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "",
            tamperSignature: s => (s[0] == 'a' ? 'b' : 'a') + s[1..]);

        Assert.Equal(-1022, answer.Code);
    }

    [Theory]
    [MemberData(nameof(KeyTypes))]
    public async Task Account_TruncatedSignature_Rejected1022(string type)
    {
        var key = await KeyAsync(type);
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        var answer = await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "", tamperSignature: s => s[..^8]);

        Assert.Equal((400, -1022), (answer.Status, answer.Code));
    }

    [Fact]
    public async Task Account_RefusedSignature_LoggedWithoutSecretOrSignature()
    {
        var key = TestKeys.Hmac();
        using var log = new CapturingLoggerProvider();
        await using var sim = await Hosting.SimulatorHost.StartAsync(new Hosting.SimulatorOptions
        {
            Scenario = TestScenarios.Market(key),
            LogLevel = Microsoft.Extensions.Logging.LogLevel.Debug,
            LoggerProvider = log,
        });
        using var client = new BinanceClient(sim, key);
        string? sent = null;

        var answer = await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "", tamperSignature: s => sent = (s[0] == 'a' ? 'b' : 'a') + s[1..]);

        Assert.Equal(-1022, answer.Code);
        Assert.Contains("Refused GET /api/v3/account from 127.0.0.1: HTTP 400 -1022", log.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(key.Spec.Secret!, log.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(sent!, log.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Order_ParametersSplitBetweenQueryAndBody_Accepted()
    {
        var key = TestKeys.Hmac();
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        var answer = await client.SignedAsync(HttpMethod.Post, "/api/v3/order", "symbol=BTCUSDT&side=BUY",
            body: "type=LIMIT&timeInForce=GTC&quantity=0.01&price=50000.00");

        Assert.True(answer.Status == 200, answer.ToString());
        Assert.Equal("NEW", answer.Get("status"));
    }

    [Fact]
    public async Task Account_SixSecondOldTimestampWithRecvWindow5000_Rejected1021()
    {
        var key = TestKeys.Hmac();
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        var answer = await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "recvWindow=5000", timestamp: sim.Clock.UnixMs - 6000);

        Assert.Equal(400, answer.Status);
        Assert.Equal(-1021, answer.Code);
        Assert.Equal("Timestamp for this request is outside of the recvWindow.", answer.Msg);
    }

    [Fact]
    public async Task Account_TimestampAtBoundaries_AcceptedUntilOneSecondAhead()
    {
        var key = TestKeys.Hmac();
        var now = 1_700_000_000_000L;
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key) with { Clock = new ClockSpec { FixedUnixMs = now } });
        using var client = new BinanceClient(sim, key);

        var ahead999 = await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "", timestamp: now + 999);
        var ahead1000 = await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "", timestamp: now + 1000);
        var oldest = await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "recvWindow=5000", timestamp: now - 5000);
        var tooOld = await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "recvWindow=5000", timestamp: now - 5001);
        var micros = await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "", timestamp: (now * 1000) - 1);

        Assert.Equal(200, ahead999.Status);
        Assert.Equal("Timestamp for this request was 1000ms ahead of the server's time.", ahead1000.Msg);
        Assert.Equal(200, oldest.Status);
        Assert.Equal(-1021, tooOld.Code);
        Assert.Equal(200, micros.Status);
    }

    [Fact]
    public async Task Account_RecvWindowAbove60000_Rejected()
    {
        var key = TestKeys.Hmac();
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        var max = await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "recvWindow=60000");
        var over = await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "recvWindow=60001");

        Assert.Equal(200, max.Status);
        // errors.md -1102: "'%s' contains unexpected value. Cannot be greater than %s." (no -1131 on Spot).
        Assert.Equal((400, -1102, "'recvWindow' contains unexpected value. Cannot be greater than 60000."), (over.Status, over.Code, over.Msg));
    }

    [Fact]
    public async Task Account_KeyUsedFromNonAllowlistedIp_Rejected2015()
    {
        var key = TestKeys.Hmac(ipAllowlist: ["127.0.0.1"]);
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var here = new BinanceClient(sim, key, IPAddress.Loopback);
        using var elsewhere = new BinanceClient(sim, key, IPAddress.Parse("127.0.0.2"));

        var allowed = await AccountAsync(here);
        var refused = await AccountAsync(elsewhere);

        Assert.Equal(200, allowed.Status);
        Assert.Equal(401, refused.Status);
        Assert.Equal(-2015, refused.Code);
        Assert.Equal("Invalid API-key, IP, or permissions for action.", refused.Msg);
    }

    [Fact]
    public async Task Order_BinancePublishedHmacExampleWithFixedClock_Accepted()
    {
        const string payload = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        const string signature = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
        var key = TestKeys.Hmac(secret: "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
            apiKey: "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A");
        var scenario = TestScenarios.Market(key) with { Clock = new ClockSpec { FixedUnixMs = 1499827319559 + 200 } };
        await using var sim = await TestScenarios.StartAsync(scenario);
        using var client = new BinanceClient(sim, key);

        var answer = await client.SendAsync(HttpMethod.Post, $"/api/v3/order?{payload}&signature={signature}", null, key.ApiKey);
        var tampered = await client.SendAsync(HttpMethod.Post, $"/api/v3/order?{payload.Replace("price=0.1", "price=0.2", StringComparison.Ordinal)}&signature={signature}", null, key.ApiKey);

        Assert.True(answer.Status == 200, answer.ToString());
        Assert.Equal("LTCBTC", answer.Get("symbol"));
        Assert.Equal("NEW", answer.Get("status"));
        Assert.Equal(-1022, tampered.Code);
    }

    [Fact]
    public async Task Account_MissingOrMalformedApiKey_Rejected2014()
    {
        var key = TestKeys.Hmac();
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);
        var query = $"timestamp={sim.Clock.UnixMs}";
        var signature = await key.Sign(query);

        var missing = await client.SendAsync(HttpMethod.Get, $"/api/v3/account?{query}&signature={signature}", null, null);
        var malformed = await client.SendAsync(HttpMethod.Get, $"/api/v3/account?{query}&signature={signature}", null, "short-key");
        var unknown = await client.SendAsync(HttpMethod.Get, $"/api/v3/account?{query}&signature={signature}", null, TestKeys.NewApiKey());

        Assert.Equal((401, -2014), (missing.Status, missing.Code));
        Assert.Equal((401, -2014), (malformed.Status, malformed.Code));
        Assert.Equal((401, -2015), (unknown.Status, unknown.Code));
    }

    [Fact]
    public async Task Order_ReadOnlyKey_Rejected2015()
    {
        var key = TestKeys.Hmac(permissions: ["reading"]);
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        var read = await AccountAsync(client);
        var trade = await client.SignedAsync(HttpMethod.Post, "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01");

        Assert.Equal(200, read.Status);
        Assert.Equal(-2015, trade.Code);
        Assert.Equal(100_000m, sim.Exchange.Balances("trader")["USDT"].Free);
    }

    [Fact]
    public async Task Order_MissingSignature_Rejected1102()
    {
        var key = TestKeys.Hmac();
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        var answer = await client.SendAsync(HttpMethod.Get, $"/api/v3/account?timestamp={sim.Clock.UnixMs}", null, key.ApiKey);

        Assert.Equal(-1102, answer.Code);
        Assert.Equal("Mandatory parameter 'signature' was not sent, was empty/null, or malformed.", answer.Msg);
    }

    [Fact]
    public async Task ApiRestrictions_KeyPermissions_Reported()
    {
        var key = TestKeys.Hmac(permissions: ["reading", "spotTrading"], ipAllowlist: ["127.0.0.1"]);
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        var answer = await client.SignedAsync(HttpMethod.Get, "/sapi/v1/account/apiRestrictions", "");

        Assert.True(answer.Status == 200, answer.ToString());
        Assert.True(answer.Json.GetProperty("ipRestrict").GetBoolean());
        Assert.True(answer.Json.GetProperty("enableSpotAndMarginTrading").GetBoolean());
        Assert.False(answer.Json.GetProperty("enableWithdrawals").GetBoolean());
        Assert.False(answer.Json.GetProperty("enableMargin").GetBoolean());
    }

    [Fact]
    public async Task Withdraw_KeyWithAndWithoutWithdrawPermission_OnlyPermittedKeyWithdraws()
    {
        var tradeOnly = TestKeys.Hmac(permissions: ["reading", "spotTrading"]);
        var withdrawing = TestKeys.Hmac(permissions: ["reading", "withdrawals"], ipAllowlist: ["127.0.0.1"]);
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(tradeOnly, withdrawing));
        using var refusedClient = new BinanceClient(sim, tradeOnly);
        using var allowedClient = new BinanceClient(sim, withdrawing);
        const string request = "coin=USDT&address=TXattackerAddress&amount=1000";

        var refused = await refusedClient.SignedAsync(HttpMethod.Post, "/sapi/v1/capital/withdraw/apply", request);
        var afterRefusal = sim.Exchange.Balances("trader")["USDT"].Free;
        var allowed = await allowedClient.SignedAsync(HttpMethod.Post, "/sapi/v1/capital/withdraw/apply", request);

        Assert.Equal(-2015, refused.Code);
        Assert.Equal(100_000m, afterRefusal);
        Assert.True(allowed.Status == 200, allowed.ToString());
        Assert.Equal(99_000m, sim.Exchange.Balances("trader")["USDT"].Free);
    }

    [Fact]
    public async Task Withdraw_PayloadWithReservedCharacters_SignedPercentEncodedAcceptedRawRejected()
    {
        var key = TestKeys.Hmac(permissions: ["reading", "withdrawals"], ipAllowlist: ["127.0.0.1"]);
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);
        var query = BinanceClient.Query(("coin", "USDT"), ("address", "T+x/y="), ("amount", "1"), ("name", "１２３ wallet"),
            ("timestamp", sim.Clock.UnixMs.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var raw = Uri.UnescapeDataString(query);

        var encoded = await client.SendAsync(HttpMethod.Post, $"/sapi/v1/capital/withdraw/apply?{query}&signature={await key.Sign(query)}", null, key.ApiKey);
        var signedRaw = await client.SendAsync(HttpMethod.Post, $"/sapi/v1/capital/withdraw/apply?{query}&signature={await key.Sign(raw)}", null, key.ApiKey);

        Assert.Contains("name=%EF%BC%91%EF%BC%92%EF%BC%93%20wallet", query, StringComparison.Ordinal);
        Assert.True(encoded.Status == 200, encoded.ToString());
        Assert.Equal(-1022, signedRaw.Code);
    }

    [Fact]
    public async Task ApiRestrictions_EverySwitchOn_AllReportedTrue()
    {
        string[] all = ["reading", "spotTrading", "withdrawals", "margin", "futures", "universalTransfer", "internalTransfer", "vanillaOptions"];
        var key = TestKeys.Hmac(permissions: all, ipAllowlist: ["127.0.0.1"]);
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key));
        using var client = new BinanceClient(sim, key);

        var answer = await client.SignedAsync(HttpMethod.Get, "/sapi/v1/account/apiRestrictions", "");

        Assert.True(answer.Status == 200, answer.ToString());
        foreach (var field in new[]
        {
            "enableReading", "enableSpotAndMarginTrading", "enableWithdrawals", "enableMargin", "enableFutures",
            "permitsUniversalTransfer", "enableInternalTransfer", "enableVanillaOptions",
        })
        {
            Assert.True(answer.Json.GetProperty(field).GetBoolean(), field);
        }
    }
}
