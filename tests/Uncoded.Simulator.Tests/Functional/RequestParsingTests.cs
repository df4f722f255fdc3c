using System.Globalization;
using Uncoded.Simulator.Tests.Support;

namespace Uncoded.Simulator.Tests.Functional;

/// <summary>
/// How parameters reach an endpoint: query string and form body, where <c>signature</c> may stand,
/// which value wins, and the bounds on what the simulator reads before it knows the caller.
/// </summary>
public sealed class RequestParsingTests : MarketTest
{
    private const string Limit = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=50000.00";

    private string Timestamp => "timestamp=" + Sim.Clock.UnixMs.ToString(CultureInfo.InvariantCulture);

    private decimal LockedUsdt => Sim.Exchange.Balances("trader")["USDT"].Locked;

    /// <summary>BINANCE.md: <c>signature</c> is not part of the signed string and is appended last.</summary>
    [Fact]
    public async Task Order_SignatureFirstInQuery_Rejected1022()
    {
        var query = $"{Limit}&{Timestamp}";
        var signature = await Key.Sign(query);

        var answer = await Client.SendAsync(HttpMethod.Post, $"/api/v3/order?signature={signature}&{query}", null, Key.ApiKey);

        Assert.Equal((400, -1022, "Signature for this request is not valid."), (answer.Status, answer.Code, answer.Msg));
        Assert.Equal(0m, LockedUsdt);
    }

    [Fact]
    public async Task Order_SignatureInQueryWithParametersInBody_Rejected1022()
    {
        const string query = "symbol=BTCUSDT&side=BUY";
        var body = $"type=LIMIT&timeInForce=GTC&quantity=0.01&price=50000.00&{Timestamp}";
        var signature = await Key.Sign(query + body);

        var answer = await Client.SendAsync(HttpMethod.Post, $"/api/v3/order?{query}&signature={signature}", body, Key.ApiKey);

        Assert.Equal((400, -1022), (answer.Status, answer.Code));
        Assert.Equal(0m, LockedUsdt);
    }

    /// <summary>rest-api.md: "If a parameter sent in both the query string and request body, the query string parameter will be used."</summary>
    [Fact]
    public async Task Order_ParameterInQueryAndBody_QueryValueUsed()
    {
        var answer = await Client.SignedAsync(HttpMethod.Post, "/api/v3/order", Limit, body: "price=40000.00");

        Assert.True(answer.Status == 200, answer.ToString());
        Assert.Equal("50000.00000000", answer.Get("price"));
        Assert.Equal(0.01m * 50_000m, LockedUsdt);
    }

    [Fact]
    public async Task Order_ParameterTwiceInBody_Rejected1101()
    {
        var answer = await Client.SignedAsync(HttpMethod.Post, "/api/v3/order", "symbol=BTCUSDT&side=BUY",
            body: "type=LIMIT&timeInForce=GTC&quantity=0.01&price=50000.00&price=50000.00");

        Assert.Equal((400, -1101, "Duplicate values for a parameter detected."), (answer.Status, answer.Code, answer.Msg));
    }

    [Fact]
    public async Task Order_SignatureInQueryAndBody_Rejected1101()
    {
        var query = $"{Limit}&{Timestamp}";
        var signature = await Key.Sign(query);

        var answer = await Client.SendAsync(HttpMethod.Post, $"/api/v3/order?{query}&signature={signature}", $"signature={signature}", Key.ApiKey);

        Assert.Equal((400, -1101), (answer.Status, answer.Code));
        Assert.Equal(0m, LockedUsdt);
    }

    /// <summary>errors.md -1101: "Too many parameters sent for this endpoint."</summary>
    [Fact]
    public async Task Account_HundredsOfParameters_Rejected1101()
    {
        var many = string.Join('&', Enumerable.Range(0, 150).Select(i => $"p{i}=1"));

        var inQuery = await Client.SignedAsync(HttpMethod.Get, "/api/v3/account", many);
        var inBody = await Client.SignedAsync(HttpMethod.Post, "/api/v3/order", "symbol=BTCUSDT", body: many);

        Assert.Equal((400, -1101, "Too many parameters sent for this endpoint."), (inQuery.Status, inQuery.Code, inQuery.Msg));
        Assert.Equal((400, -1101), (inBody.Status, inBody.Code));
    }

    [Fact]
    public async Task Order_BodyOver64KiB_Refused413()
    {
        var body = "newClientOrderId=" + new string('a', 70_000);

        var answer = await Client.SignedAsync(HttpMethod.Post, "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01", body: body);

        Assert.Equal(413, answer.Status);
        Assert.Equal(100_000m, Sim.Exchange.Balances("trader")["USDT"].Free);
    }

    /// <summary>The API key header is checked before the body is read: a stranger's body is never parsed.</summary>
    [Fact]
    public async Task Order_UnknownOrMissingKeyWithMalformedBody_KeyRefusedFirst()
    {
        const string body = "symbol=BTCUSDT&symbol=ETHUSDT";

        var unknown = await Client.SendAsync(HttpMethod.Post, $"/api/v3/order?{Timestamp}&signature=00", body, TestKeys.NewApiKey());
        var missing = await Client.SendAsync(HttpMethod.Post, $"/api/v3/order?{Timestamp}&signature=00", body, null);

        Assert.Equal((401, -2015), (unknown.Status, unknown.Code));
        Assert.Equal((401, -2014), (missing.Status, missing.Code));
    }

    /// <summary>BINANCE.md: every response carries X-MBX-USED-WEIGHT-1M, those without a body too.</summary>
    [Fact]
    public async Task UnknownPathWrongMethodOversizedBody_CarryUsedWeight()
    {
        var weighed = await Client.PublicAsync("/api/v3/time");

        var notFound = await Client.PublicAsync("/api/v3/no-such-endpoint");
        var wrongMethod = await Client.SendAsync(HttpMethod.Put, "/api/v3/time", null, null);
        var tooLarge = await Client.SignedAsync(HttpMethod.Post, "/api/v3/order", "symbol=BTCUSDT", body: "newClientOrderId=" + new string('a', 70_000));

        Assert.Equal((404, 405, 413), (notFound.Status, wrongMethod.Status, tooLarge.Status));
        Assert.All(new[] { weighed, notFound, wrongMethod, tooLarge }, a => Assert.Equal(weighed.Header("X-MBX-USED-WEIGHT-1M"), a.Header("X-MBX-USED-WEIGHT-1M")));
        Assert.Equal("1", weighed.Header("X-MBX-USED-WEIGHT-1M"));
    }

    /// <summary>Binance's messages carry <c>'</c> as it is; the JSON on the wire is byte for byte theirs.</summary>
    [Fact]
    public async Task ErrorMessage_WithQuotes_WrittenLiterallyNotEscaped()
    {
        var answer = await Client.SignedAsync(HttpMethod.Get, "/api/v3/account", "recvWindow=70000");

        Assert.Contains("'recvWindow' contains unexpected value", answer.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u0027", answer.Body, StringComparison.Ordinal);
    }
}
