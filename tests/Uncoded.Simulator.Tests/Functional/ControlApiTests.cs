using System.Net.Http.Json;
using System.Text.Json;
using Uncoded.Simulator.Scenarios;
using Uncoded.Simulator.Tests.Support;

namespace Uncoded.Simulator.Tests.Functional;

/// <summary>The control API (separate loopback port, off by default) and the exchange clock.</summary>
public sealed class ControlApiTests
{
    [Fact]
    public async Task ControlApi_NotRequested_OffAndNotOnApiPort()
    {
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market());
        using var client = new BinanceClient(sim);

        var onApiPort = await client.PublicAsync("/control/state");

        Assert.Null(sim.ControlAddress);
        Assert.Equal(404, onApiPort.Status);
    }

    [Fact]
    public async Task ControlApi_OnItsOwnPort_LoadsScenarioInjectsFaultMovesClockReadsBalances()
    {
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(), controlPort: 0);
        using var control = new HttpClient { BaseAddress = sim.ControlAddress, Timeout = TimeSpan.FromSeconds(30) };
        using var client = new BinanceClient(sim);
        Assert.NotEqual(sim.BaseAddress.Port, sim.ControlAddress!.Port);
        Assert.True(System.Net.IPAddress.IsLoopback(System.Net.IPAddress.Parse(sim.ControlAddress.Host)));

        using var load = await control.PostAsync("/control/scenario?name=pump-and-dump", null);
        var loadedName = sim.Scenario.Name;
        var balances = await control.GetFromJsonAsync<JsonElement>("/control/balances?account=victim");
        var before = (await client.PublicAsync("/api/v3/time")).Json.GetProperty("serverTime").GetInt64();
        using var clock = await control.PostAsJsonAsync("/control/clock", new { advanceMs = 3_600_000 });
        var after = (await client.PublicAsync("/api/v3/time")).Json.GetProperty("serverTime").GetInt64();
        using var fault = await control.PostAsJsonAsync("/control/faults", new { kind = "Unavailable503BeforeExecute", count = 1 });
        var faulted = await client.PublicAsync("/api/v3/time");
        var recovered = await client.PublicAsync("/api/v3/time");
        using var bad = await control.PostAsJsonAsync("/control/clock", new { advanceMs = 1, offsetMs = 2 });
        using var custom = await control.PostAsync("/control/scenario", new StringContent(TestScenarios.Market().ToJson()));
        var customName = sim.Scenario.Name;
        using var invalid = await control.PostAsync("/control/scenario", new StringContent("""{ "symbols": [{ "symbol": "X" }] }"""));

        Assert.Equal(200, (int)load.StatusCode);
        Assert.Equal("pump-and-dump", loadedName);
        Assert.Equal("10000.00000000", balances.GetProperty("victim").GetProperty("USDT").GetProperty("free").GetString());
        Assert.InRange(after - before, 3_600_000, 3_600_000 + 10_000);
        Assert.Equal(200, (int)fault.StatusCode);
        Assert.Equal(503, faulted.Status);
        Assert.Equal(200, recovered.Status);
        Assert.Equal(400, (int)bad.StatusCode);
        Assert.Equal((200, "test-market"), ((int)custom.StatusCode, customName));
        Assert.Equal(400, (int)invalid.StatusCode);
        Assert.Equal("test-market", sim.Scenario.Name);
    }

    [Fact]
    public async Task Account_ServerClockSkewedBehindClient_Rejected1021()
    {
        var key = TestKeys.Hmac();
        // The exchange clock runs 3 s behind this machine's: a client stamping with its own clock is "ahead".
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(key) with { Clock = new ClockSpec { OffsetMs = -3000 } });
        using var client = new BinanceClient(sim, key);

        var local = await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "", timestamp: DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var synced = await client.SignedAsync(HttpMethod.Get, "/api/v3/account", "");

        Assert.Equal((-1021, "Timestamp for this request was 1000ms ahead of the server's time."), (local.Code, local.Msg));
        Assert.Equal(200, synced.Status);
    }

    [Fact]
    public async Task ControlApi_ScenarioBodyInYaml_LoadedAndItsFaultsQueued()
    {
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(), controlPort: 0);
        using var control = new HttpClient { BaseAddress = sim.ControlAddress, Timeout = TimeSpan.FromSeconds(30) };
        const string yaml = """
            name: from-yaml
            accounts: [{ id: trader, balances: { USDT: 5 } }]
            faults: [{ kind: Unavailable503BeforeExecute, count: 3 }]
            """;

        using var loaded = await control.PostAsync("/control/scenario", new StringContent(yaml, System.Text.Encoding.UTF8, "application/yaml"));
        using var asJson = await control.PostAsync("/control/scenario", new StringContent(yaml, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(200, (int)loaded.StatusCode);
        Assert.Equal(400, (int)asJson.StatusCode);
        Assert.Equal(("from-yaml", 3), (sim.Scenario.Name, sim.Faults.Pending));
        Assert.Equal(5m, sim.Exchange.Balances("trader")["USDT"].Free);
    }

    [Fact]
    public async Task ControlApi_ClockSkewAndFreeze_FaultForNextThree_UnknownAccount404()
    {
        await using var sim = await TestScenarios.StartAsync(TestScenarios.Market(), controlPort: 0);
        using var control = new HttpClient { BaseAddress = sim.ControlAddress, Timeout = TimeSpan.FromSeconds(30) };
        using var client = new BinanceClient(sim);
        async Task<long> ServerTimeAsync() => (await client.PublicAsync("/api/v3/time")).Json.GetProperty("serverTime").GetInt64();

        using var skew = await control.PostAsJsonAsync("/control/clock", new { offsetMs = -3_600_000 });
        var skewed = await ServerTimeAsync() - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using var freeze = await control.PostAsJsonAsync("/control/clock", new { freezeAtUnixMs = 1499827319559 });
        var frozen = await ServerTimeAsync();
        await Task.Delay(50);
        var stillFrozen = await ServerTimeAsync();
        using var fault = await control.PostAsJsonAsync("/control/faults", new { kind = "Unavailable503BeforeExecute", count = 3, path = "/api/v3/depth" });
        var statuses = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add((await client.PublicAsync("/api/v3/depth?symbol=BTCUSDT")).Status);
        }
        var time = await client.PublicAsync("/api/v3/time");
        using var unknown = await control.GetAsync("/control/balances?account=nobody");

        Assert.Equal((200, 200, 200), ((int)skew.StatusCode, (int)freeze.StatusCode, (int)fault.StatusCode));
        Assert.InRange(skewed, -3_600_000 - 10_000, -3_600_000 + 10_000);
        Assert.Equal((1499827319559, 1499827319559), (frozen, stillFrozen));
        Assert.Equal([503, 503, 503, 200], statuses);
        Assert.Equal(200, time.Status);
        Assert.Equal(404, (int)unknown.StatusCode);
        Assert.Contains("no account 'nobody'", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
