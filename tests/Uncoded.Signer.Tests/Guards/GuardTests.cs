using System.Text.Json;
using Grpc.Core;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Guards;

/// <summary>One real signer for the class; every guard allows a good request and refuses each violation with its reason, audited.</summary>
public sealed class GuardTests(GuardTests.Fixture fixture) : IClassFixture<GuardTests.Fixture>
{
    private const string Order = "/api/v3/order";
    private const string Limit = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp={now}";
    private readonly GuardedSigner _signer = fixture.Signer;

    public static readonly object Guard = new
    {
        Symbols = new Dictionary<string, object>
        {
            ["LTCBTC"] = new { MaxOrderNotional = 100m, MaxQuantity = 50m },
            ["ETHBTC"] = new { MaxOrderNotional = 100m },
        },
        MaxDailyNotional = 1_000_000m,
        SignaturesPerMinute = 100_000,
        SignaturesPerMinutePerPeer = 100_000,
    };

    public sealed class Fixture : IAsyncLifetime
    {
        internal GuardedSigner Signer { get; private set; } = null!;

        public async Task InitializeAsync() => Signer = await GuardedSigner.StartAsync(Guard);

        public async Task DisposeAsync() => await Signer.DisposeAsync();
    }

    public static TheoryData<string, string, string> Allowed => new()
    {
        { "POST", Order, Limit },
        { "POST", Order, "symbol=LTCBTC&side=SELL&type=LIMIT_MAKER&quantity=2&price=0.5&newClientOrderId=abc-1_2&newOrderRespType=FULL&selfTradePreventionMode=EXPIRE_TAKER&recvWindow=3000&timestamp={now}" },
        { "POST", Order, "symbol=LTCBTC&side=BUY&type=MARKET&quoteOrderQty=10&recvWindow=5000&timestamp={now}" },
        { "POST", Order, "symbol=LTCBTC&side=SELL&type=MARKET&quantity=3&recvWindow=5000&timestamp={now}" },
        { "POST", "/api/v3/order/test", Limit + "&computeCommissionRates=true" },
        { "DELETE", Order, "symbol=LTCBTC&orderId=12345&recvWindow=5000&timestamp={now}" },
        { "DELETE", Order, "symbol=BTCUSDT&origClientOrderId=my-order&recvWindow=5000&timestamp={now}" },
        { "DELETE", "/api/v3/openOrders", "symbol=LTCBTC&recvWindow=5000&timestamp={now}" },
        { "GET", Order, "symbol=LTCBTC&orderId=1&recvWindow=5000&timestamp={now}" },
        { "GET", "/api/v3/openOrders", "recvWindow=5000&timestamp={now}" },
        { "GET", "/api/v3/openOrders", "symbol=LTCBTC&recvWindow=5000&timestamp={now}" },
        { "GET", "/api/v3/account", "omitZeroBalances=true&recvWindow=5000&timestamp={now}" },
        { "GET", "/sapi/v1/account/apiRestrictions", "recvWindow=5000&timestamp={now}" },
    };

    [Theory]
    [MemberData(nameof(Allowed))]
    public async Task Sign_AllowedRequest_SignedAndAudited(string method, string path, string payload)
    {
        var response = await _signer.SignAsync(method, path, payload);
        Assert.NotEmpty(response.Signature);
        var record = _signer.LastAuditRecord();
        Assert.Equal(response.AuditSeq, record.GetProperty("seq").GetUInt64());
        Assert.Equal("allow", record.GetProperty("decision").GetString());
        Assert.Equal(path, record.GetProperty("path").GetString());
    }

    public static TheoryData<string, string, string, StatusCode, string> Refused => new()
    {
        // Strict parser.
        { "POST", Order, Limit + "&symbol=LTCBTC", StatusCode.InvalidArgument, "DUPLICATE_PARAMETER" },
        { "POST", Order, Limit + "&Symbol=LTCBTC", StatusCode.InvalidArgument, "DUPLICATE_PARAMETER" },
        { "POST", Order, Limit + "&=1", StatusCode.InvalidArgument, "EMPTY_PARAMETER_NAME" },
        { "POST", Order, Limit + "&newClientOrderId=", StatusCode.InvalidArgument, "EMPTY_PARAMETER_VALUE" },
        { "POST", Order, Limit + "&&", StatusCode.InvalidArgument, "MALFORMED_PAYLOAD" },
        { "POST", Order, Limit + "&newClientOrderId=%G1", StatusCode.InvalidArgument, "BAD_PERCENT_ESCAPE" },
        { "POST", Order, Limit + "&newClientOrderId=a%2", StatusCode.InvalidArgument, "BAD_PERCENT_ESCAPE" },
        { "POST", Order, Limit + "&newClientOrderId=%FF", StatusCode.InvalidArgument, "BAD_PERCENT_ESCAPE" },
        { "POST", Order, Limit.Replace("price=0.1", "price=0%2E1", StringComparison.Ordinal), StatusCode.InvalidArgument, "NON_CANONICAL_ENCODING" },
        { "POST", Order, Limit + "&newClientOrderId=a%2fb", StatusCode.InvalidArgument, "NON_CANONICAL_ENCODING" },
        { "POST", Order, Limit + "&newClientOrderId=a+b", StatusCode.InvalidArgument, "NON_CANONICAL_ENCODING" },
        { "POST", Order, Limit + "&newClientOrderId=a%0Ab", StatusCode.InvalidArgument, "CONTROL_CHARACTER" },
        { "POST", Order, Limit + "&signature=abc", StatusCode.InvalidArgument, "SIGNATURE_PARAMETER" },
        { "POST", Order, Limit + "&newClientOrderId=" + new string('a', 4100), StatusCode.InvalidArgument, "PAYLOAD_TOO_LARGE" },
        // Endpoint allowlist and schemas.
        { "GET", "/api/v3/myTrades", "symbol=LTCBTC&recvWindow=5000&timestamp={now}", StatusCode.PermissionDenied, "ENDPOINT_NOT_ALLOWED" },
        { "PUT", Order, Limit, StatusCode.PermissionDenied, "ENDPOINT_NOT_ALLOWED" },
        { "POST", Order, Limit + "&foo=1", StatusCode.InvalidArgument, "UNKNOWN_PARAMETER" },
        { "GET", "/api/v3/account", "symbol=LTCBTC&recvWindow=5000&timestamp={now}", StatusCode.InvalidArgument, "UNKNOWN_PARAMETER" },
        { "POST", Order, Limit.Replace("side=BUY&", "", StringComparison.Ordinal), StatusCode.InvalidArgument, "MISSING_PARAMETER" },
        { "POST", Order, Limit.Replace("recvWindow=5000&", "", StringComparison.Ordinal), StatusCode.InvalidArgument, "MISSING_PARAMETER" },
        { "GET", "/api/v3/account", "recvWindow=5000", StatusCode.InvalidArgument, "MISSING_PARAMETER" },
        { "DELETE", Order, "symbol=LTCBTC&recvWindow=5000&timestamp={now}", StatusCode.InvalidArgument, "MISSING_PARAMETER" },
        { "POST", Order, Limit.Replace("side=BUY", "side=HOLD", StringComparison.Ordinal), StatusCode.InvalidArgument, "INVALID_PARAMETER" },
        { "POST", Order, Limit.Replace("price=0.1", "price=-1", StringComparison.Ordinal), StatusCode.InvalidArgument, "INVALID_PARAMETER" },
        { "POST", Order, Limit.Replace("price=0.1", "price=1e3", StringComparison.Ordinal), StatusCode.InvalidArgument, "INVALID_PARAMETER" },
        { "POST", Order, Limit.Replace("price=0.1", "price=0", StringComparison.Ordinal), StatusCode.InvalidArgument, "INVALID_PARAMETER" },
        // Never-sign list: paths and parameters.
        { "POST", "/sapi/v1/capital/withdraw/apply", Limit, StatusCode.PermissionDenied, "NEVER_SIGN_PATH" },
        { "POST", "/sapi/v1/asset/transfer", "type=MAIN_UMFUTURE&asset=USDT&amount=1&recvWindow=5000&timestamp={now}", StatusCode.PermissionDenied, "NEVER_SIGN_PATH" },
        { "POST", "/sapi/v1/sub-account/transfer/subToMaster", Limit, StatusCode.PermissionDenied, "NEVER_SIGN_PATH" },
        { "POST", "/sapi/v1/margin/loan", Limit, StatusCode.PermissionDenied, "NEVER_SIGN_PATH" },
        { "POST", "/fapi/v1/order", Limit, StatusCode.PermissionDenied, "NEVER_SIGN_PATH" },
        { "POST", "/dapi/v1/order", Limit, StatusCode.PermissionDenied, "NEVER_SIGN_PATH" },
        { "POST", "/eapi/v1/order", Limit, StatusCode.PermissionDenied, "NEVER_SIGN_PATH" },
        { "POST", Order, Limit + "&address=1BoatSLRHtKNngkdXEeobR76b53LETtpyT", StatusCode.PermissionDenied, "NEVER_SIGN_PARAMETER" },
        { "POST", Order, Limit + "&addressTag=1", StatusCode.PermissionDenied, "NEVER_SIGN_PARAMETER" },
        { "POST", Order, Limit + "&network=BTC", StatusCode.PermissionDenied, "NEVER_SIGN_PARAMETER" },
        { "POST", Order, Limit + "&coin=BTC", StatusCode.PermissionDenied, "NEVER_SIGN_PARAMETER" },
        { "POST", Order, Limit + "&amount=1", StatusCode.PermissionDenied, "NEVER_SIGN_PARAMETER" },
        { "POST", Order, Limit + "&asset=BTC", StatusCode.PermissionDenied, "NEVER_SIGN_PARAMETER" },
        { "POST", Order, Limit + "&toEmail=a%40b.c", StatusCode.PermissionDenied, "NEVER_SIGN_PARAMETER" },
        { "POST", Order, Limit.Replace("type=LIMIT", "type=MAIN_UMFUTURE", StringComparison.Ordinal), StatusCode.PermissionDenied, "NEVER_SIGN_PARAMETER" },
        // Freshness.
        { "POST", Order, Limit.Replace("{now}", "{old}", StringComparison.Ordinal), StatusCode.FailedPrecondition, "STALE_TIMESTAMP" },
        { "POST", Order, TestKeys.BinanceExamplePayload, StatusCode.FailedPrecondition, "STALE_TIMESTAMP" },
        { "POST", Order, Limit.Replace("{now}", "{future}", StringComparison.Ordinal), StatusCode.FailedPrecondition, "FUTURE_TIMESTAMP" },
        { "POST", Order, Limit.Replace("recvWindow=5000", "recvWindow=60000", StringComparison.Ordinal), StatusCode.FailedPrecondition, "RECV_WINDOW_TOO_LONG" },
        { "POST", Order, Limit.Replace("recvWindow=5000", "recvWindow=9999999999999999999", StringComparison.Ordinal), StatusCode.FailedPrecondition, "RECV_WINDOW_TOO_LONG" },
        { "POST", Order, Limit.Replace("{now}", "9999999999999999999", StringComparison.Ordinal), StatusCode.FailedPrecondition, "FUTURE_TIMESTAMP" },
        { "POST", Order, Limit.Replace("{now}", "0", StringComparison.Ordinal), StatusCode.FailedPrecondition, "STALE_TIMESTAMP" },
        // Symbols and order types.
        { "POST", Order, Limit.Replace("LTCBTC", "PUMPUSDT", StringComparison.Ordinal), StatusCode.PermissionDenied, "SYMBOL_NOT_ALLOWED" },
        { "POST", Order, "symbol=PUMPUSDT&side=BUY&type=MARKET&quoteOrderQty=10&recvWindow=5000&timestamp={now}", StatusCode.PermissionDenied, "SYMBOL_NOT_ALLOWED" },
        { "POST", "/api/v3/order/test", Limit.Replace("LTCBTC", "PUMPUSDT", StringComparison.Ordinal), StatusCode.PermissionDenied, "SYMBOL_NOT_ALLOWED" },
        { "POST", Order, "symbol=LTCBTC&side=BUY&type=MARKET&quantity=1&recvWindow=5000&timestamp={now}", StatusCode.PermissionDenied, "MARKET_BUY_NEEDS_QUOTE_ORDER_QTY" },
        { "POST", Order, "symbol=ETHBTC&side=SELL&type=MARKET&quantity=1&recvWindow=5000&timestamp={now}", StatusCode.PermissionDenied, "SELL_NEEDS_MAX_QUANTITY" },
        // A LIMIT sell at a near-zero price is a dump into the attacker's bid: its notional is ~0, so only MaxQuantity bounds it.
        { "POST", Order, "symbol=ETHBTC&side=SELL&type=LIMIT&timeInForce=IOC&quantity=1000&price=0.00000001&recvWindow=5000&timestamp={now}", StatusCode.PermissionDenied, "SELL_NEEDS_MAX_QUANTITY" },
        { "POST", Order, "symbol=LTCBTC&side=SELL&type=MARKET&quoteOrderQty=10&recvWindow=5000&timestamp={now}", StatusCode.PermissionDenied, "SELL_BY_QUOTE_NOT_ALLOWED" },
        { "POST", Order, Limit.Replace("type=LIMIT", "type=STOP_LOSS_LIMIT", StringComparison.Ordinal) + "&stopPrice=0.1", StatusCode.PermissionDenied, "ORDER_TYPE_NOT_ALLOWED" },
        { "POST", Order, Limit + "&stopPrice=0.1", StatusCode.PermissionDenied, "STOP_ORDER_NOT_ALLOWED" },
        { "POST", Order, Limit + "&trailingDelta=100", StatusCode.PermissionDenied, "STOP_ORDER_NOT_ALLOWED" },
        { "POST", Order, Limit + "&icebergQty=0.5", StatusCode.PermissionDenied, "ICEBERG_NOT_ALLOWED" },
        { "POST", Order, Limit + "&pegPriceType=PRIMARY_PEG", StatusCode.PermissionDenied, "PEGGED_ORDER_NOT_ALLOWED" },
        { "POST", Order, Limit.Replace("&price=0.1", "", StringComparison.Ordinal), StatusCode.InvalidArgument, "ORDER_SHAPE_INVALID" },
        { "POST", Order, "symbol=LTCBTC&side=BUY&type=MARKET&quoteOrderQty=10&price=1&recvWindow=5000&timestamp={now}", StatusCode.InvalidArgument, "ORDER_SHAPE_INVALID" },
        { "POST", Order, "symbol=LTCBTC&side=SELL&type=MARKET&quantity=1&quoteOrderQty=10&recvWindow=5000&timestamp={now}", StatusCode.InvalidArgument, "ORDER_SHAPE_INVALID" },
        // Per-order caps.
        { "POST", Order, Limit.Replace("price=0.1", "price=101", StringComparison.Ordinal), StatusCode.PermissionDenied, "NOTIONAL_CAP" },
        { "POST", Order, Limit.Replace("quantity=1&price=0.1", "quantity=40&price=2.6", StringComparison.Ordinal), StatusCode.PermissionDenied, "NOTIONAL_CAP" },
        { "POST", Order, "symbol=LTCBTC&side=BUY&type=MARKET&quoteOrderQty=100.01&recvWindow=5000&timestamp={now}", StatusCode.PermissionDenied, "NOTIONAL_CAP" },
        { "POST", Order, Limit.Replace("LTCBTC", "ETHBTC", StringComparison.Ordinal).Replace("quantity=1&price=0.1", "quantity=99999999999999999999&price=99999999999999999999", StringComparison.Ordinal), StatusCode.PermissionDenied, "NOTIONAL_CAP" },
        { "POST", Order, "symbol=LTCBTC&side=SELL&type=MARKET&quantity=50.5&recvWindow=5000&timestamp={now}", StatusCode.PermissionDenied, "QUANTITY_CAP" },
        // Request shape and keys.
        { "PATCH", Order, Limit, StatusCode.InvalidArgument, "BAD_METHOD" },
        { "POST", Order, Limit.Replace("GTC", "G C", StringComparison.Ordinal), StatusCode.InvalidArgument, "NON_ASCII_PAYLOAD" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Sign_Violation_RefusedWithReasonAndAudited(string method, string path, string payload, StatusCode code, string reason)
    {
        var now = TestKeys.NowMs();
        payload = payload.Replace("{old}", (now - 10 * 60 * 1000).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{future}", (now + 10_000).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        payload = GuardedSigner.Fill(payload);
        var refused = await _signer.RefusedAsync(method, path, payload);
        Assert.Equal(reason, refused.Reason);
        Assert.Equal(code, refused.Code);
        Assert.True(refused.Metadata.ContainsKey("rule"), "metadata has rule");
        Assert.True(refused.Metadata.ContainsKey("observed"), "metadata has observed");
        Assert.True(refused.Metadata.ContainsKey("limit"), "metadata has limit");
        var record = _signer.LastAuditRecord();
        Assert.Equal("deny", record.GetProperty("decision").GetString());
        Assert.Equal(reason, record.GetProperty("reason").GetString());
        Assert.Equal(path, record.GetProperty("path").GetString());
        Assert.Equal(payload, record.GetProperty("payload").GetString());
    }

    [Fact]
    public async Task Sign_UnknownKey_RefusedAndAudited()
    {
        var refused = await Assert.ThrowsAsync<Client.SignerRefusedException>(() =>
            _signer.Client.SignAsync("nope", "POST", Order, System.Text.Encoding.ASCII.GetBytes(GuardedSigner.Fill(Limit))));
        Assert.Equal("UNKNOWN_KEY", refused.Reason);
        Assert.Equal("nope", _signer.LastAuditRecord().GetProperty("key").GetString());
    }

    [Fact]
    public async Task Sign_Refusal_MetadataSaysRuleObservedLimit()
    {
        var refused = await _signer.RefusedAsync("POST", Order, Limit.Replace("price=0.1", "price=101", StringComparison.Ordinal));
        Assert.Equal("notional-per-order", refused.Metadata["rule"]);
        Assert.Equal("101", refused.Metadata["observed"]);
        Assert.Equal("100", refused.Metadata["limit"]);
    }

    [Fact]
    public async Task Sign_AuditRecord_HasPeerAndNoSecret()
    {
        await _signer.SignAsync("POST", Order, Limit);
        var record = _signer.LastAuditRecord();
        Assert.Equal(Environment.ProcessId, record.GetProperty("peer").GetProperty("pid").GetInt32());
        Assert.Equal(Hardening.Libc.getuid(), record.GetProperty("peer").GetProperty("uid").GetUInt32());
        var text = File.ReadAllText(_signer.AuditPath);
        Assert.DoesNotContain(TestKeys.BinanceExampleSecret, text, StringComparison.Ordinal);
        Assert.DoesNotContain(TestKeys.Passphrase, text, StringComparison.Ordinal);
        Assert.DoesNotContain(TestKeys.BinanceExampleSecret, _signer.Process.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void AuditRecord_IsOneJsonObjectPerLine()
    {
        foreach (var line in _signer.AuditLines())
        {
            Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(line).RootElement.ValueKind);
        }
    }
}
