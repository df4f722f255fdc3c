using Microsoft.Extensions.Configuration;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Guards;

public sealed class ConfigTests
{
    [Fact]
    public async Task Defaults_NoGuardSection_SignsReadsButNoOrders()
    {
        await using var signer = await GuardedSigner.StartAsync(null!);
        await signer.SignAsync("GET", "/api/v3/account", "recvWindow=5000&timestamp={now}");
        var refused = await signer.RefusedAsync("POST", "/api/v3/order", TestKeys.FreshExamplePayload());
        Assert.Equal("SYMBOL_NOT_ALLOWED", refused.Reason);
    }

    [Theory]
    [InlineData("MaxClockSkewMs", 60_000, "MaxClockSkewMs must be between")]
    [InlineData("MaxRecvWindowMs", 60_000, "MaxRecvWindowMs must be between")]
    [InlineData("SignaturesPerMinute", 0, "SignaturesPerMinute must be between")]
    public async Task Config_OutOfBounds_RefusesToStart(string setting, int value, string expected)
    {
        var guard = new Dictionary<string, object> { [setting] = value };
        await AssertRefusedAsync(guard, expected);
    }

    [Fact]
    public async Task Config_UnknownEndpoint_RefusesToStart() =>
        await AssertRefusedAsync(new { Endpoints = new[] { "POST /sapi/v1/capital/withdraw/apply" } }, "is not a known endpoint");

    [Fact]
    public async Task Config_SymbolsWithoutDailyCap_RefusesToStart() =>
        await AssertRefusedAsync(new { Symbols = new Dictionary<string, object> { ["LTCBTC"] = new { MaxOrderNotional = 1m } } }, "MaxDailyNotional is required");

    [Fact]
    public async Task Config_StopTypeWithoutAllowStopOrders_RefusesToStart() =>
        await AssertRefusedAsync(new { OrderTypes = new[] { "LIMIT", "STOP_LOSS_LIMIT" } }, "needs AllowStopOrders");

    [Fact]
    public async Task Config_UnknownGuardSetting_RefusesToStart_NamesIt() =>
        await AssertRefusedAsync(new { AllowWithdrawals = true }, "unknown setting 'Signer:Keys:k:Guard:AllowWithdrawals'");

    [Theory]
    [InlineData("{ \"Signer\": { ", "not JSON")]
    [InlineData("{ \"Signer\": { \"SocketPath\": \"/a\", \"SocketPath\": \"/b\" } }", "a key given twice")]
    public async Task Config_MalformedJson_ConfigurationErrorExit3(string json, string what)
    {
        using var dir = new TempDir();
        var configPath = dir.Write("signer.json", json);
        await using var signer = await SignerProcess.StartWithConfigAsync(configPath, dir.File("s.sock"), waitUntilListening: false);
        Assert.True(await signer.WaitForExitAsync(TimeSpan.FromSeconds(60)) == 3, what + ": " + signer.Log);
        Assert.Contains("BAD_CONFIG", signer.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", signer.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_EndpointSubset_OthersRefused()
    {
        await using var signer = await GuardedSigner.StartAsync(new { Endpoints = new[] { "GET /api/v3/account" } });
        await signer.SignAsync("GET", "/api/v3/account", "recvWindow=5000&timestamp={now}");
        var refused = await signer.RefusedAsync("GET", "/api/v3/openOrders", "recvWindow=5000&timestamp={now}");
        Assert.Equal("ENDPOINT_NOT_ALLOWED", refused.Reason);
    }

    [Fact]
    public async Task Config_RefusalBudgetZero_RefusesToStart() =>
        await AssertRefusedAsync(TestKeys.TestGuard, "Signer:Audit:MaxRefusalsPerMinutePerPeer must be between 1 and 1000000 (is 0)",
            new Dictionary<string, string?> { ["UNCODED_Signer__Audit__MaxRefusalsPerMinutePerPeer"] = "0" });

    [Fact]
    public async Task Config_RotationSizeTooSmall_RefusesToStart() =>
        await AssertRefusedAsync(TestKeys.TestGuard, "Signer:Audit:RotateAtBytes must be 0 (never rotate) or at least 65536 (is 1000)",
            new Dictionary<string, string?> { ["UNCODED_Signer__Audit__RotateAtBytes"] = "1000" });

    private static async Task AssertRefusedAsync(object guard, string expected, IDictionary<string, string?>? env = null)
    {
        using var dir = new TempDir();
        var key = TestKeys.SealHmac(dir, "k.sealed");
        var config = TestKeys.ConfigWithGuard(dir.File("s.sock"), new Dictionary<string, (string, string)> { ["k"] = key }, guard);
        await using var signer = await SignerProcess.StartAsync(dir, config, waitUntilListening: false, env: env);
        Assert.Equal(3, await signer.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains(expected, signer.Log, StringComparison.Ordinal);
    }

    /// <summary>A Logging value of the wrong shape is refused, not ignored (the signer would log at another level than asked).</summary>
    [Theory]
    [InlineData("Logging", "Debug", "'Logging' must be an object")]
    [InlineData("Logging:LogLevel", "Debug", "'Logging:LogLevel' must be an object of category")]
    [InlineData("Logging:LogLevel:Default", "Verbose", "'Logging:LogLevel:Default' must be one of Trace, Debug")]
    [InlineData("Logging:Console:FormatterName", "json", "unknown setting 'Logging:Console'")]
    public void Settings_LoggingOfTheWrongShape_BadConfig(string key, string value, string expected)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Signer:SocketPath"] = "/run/uncoded/s.sock", [key] = value })
            .Build();

        var error = Assert.Throws<Service.SignerException>(() => Service.SignerSettings.From(configuration));

        Assert.Equal("BAD_CONFIG", error.Reason);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
