using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Uncoded.Simulator.Tests.Support;

namespace Uncoded.Simulator.Tests.Functional;

/// <summary>The real <c>uncoded-sim</c> binary, started as a process.</summary>
public sealed class StandaloneTests
{
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary><c>uncoded-sim --scenario S --port N</c>, running until disposed.</summary>
    private sealed class SimulatorProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly Task<string> _stderr;

        private SimulatorProcess(Process process, int port)
        {
            _process = process;
            _stderr = process.StandardError.ReadToEndAsync();
            Port = port;
        }

        public int Port { get; }

        public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(5) };

        public string Url(string pathAndQuery) => $"http://127.0.0.1:{Port}{pathAndQuery}";

        public static async Task<SimulatorProcess> StartAsync(string scenario)
        {
            var port = FreePort();
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in new[] { Repo.SimulatorDll, "--scenario", scenario, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            {
                info.ArgumentList.Add(arg);
            }
            var sim = new SimulatorProcess(Process.Start(info)!, port);
            for (var attempt = 0; attempt < 120 && !sim._process.HasExited; attempt++)
            {
                try
                {
                    using var answer = await sim.Http.GetAsync(sim.Url("/api/v3/ping"));
                    return sim;
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(250);
                }
            }
            await sim.DisposeAsync();
            throw new InvalidOperationException($"uncoded-sim --scenario {scenario} did not start: {await sim._stderr}");
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
            await _process.WaitForExitAsync();
            Assert.DoesNotContain("Unhandled exception", await _stderr, StringComparison.Ordinal);
            _process.Dispose();
        }
    }

    [Fact]
    public async Task Binary_LiquidScenarioOnPort_ServesTimeOnLoopbackOnly()
    {
        await using var sim = await SimulatorProcess.StartAsync("liquid");

        var body = await sim.Http.GetStringAsync(sim.Url("/api/v3/time"));
        var serverTime = JsonDocument.Parse(body).RootElement.GetProperty("serverTime").GetInt64();
        var depth = JsonDocument.Parse(await sim.Http.GetStringAsync(sim.Url("/api/v3/depth?symbol=BTCUSDT&limit=200"))).RootElement;
        using var other = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var refused = await Assert.ThrowsAsync<SocketException>(async () => await other.ConnectAsync(IPAddress.Parse("127.0.0.2"), sim.Port));

        Assert.InRange(serverTime - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), -10_000, 10_000);
        Assert.Equal(200, depth.GetProperty("asks").GetArrayLength());
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    /// <summary>The block docs/simulator.md gives a user to place a signed order by hand, run as written.</summary>
    [Fact]
    public async Task DocumentedSignedOrder_AgainstBinary_FilledAndItsVariantsRefused()
    {
        var doc = await File.ReadAllTextAsync(Path.Combine(Repo.Root, "docs", "simulator.md"));
        var start = doc.IndexOf("```sh\n", doc.IndexOf("<!-- signed-order example", StringComparison.Ordinal), StringComparison.Ordinal) + 6;
        var block = doc[start..doc.IndexOf("```", start, StringComparison.Ordinal)];
        await using var sim = await SimulatorProcess.StartAsync("liquid");
        var env = new Dictionary<string, string?> { ["PORT"] = sim.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) };

        async Task<JsonElement> RunAsync(string script)
        {
            var result = await Run.ProcessAsync("bash", ["-euo", "pipefail", "-c", script], env: env);
            Assert.True(result.ExitCode == 0, result.ToString());
            return JsonDocument.Parse(result.Stdout).RootElement;
        }

        var filled = await RunAsync(block);
        var otherMachine = await RunAsync(block.Replace("curl -s -X POST", "curl -s --interface 127.0.0.2 -X POST", StringComparison.Ordinal));
        var changed = await RunAsync(block.Replace("\ncurl", "\nQ=${Q/0.01/0.02}\ncurl", StringComparison.Ordinal));

        Assert.Equal(("BTCUSDT", "FILLED", "0.01000000"), (filled.GetProperty("symbol").GetString(), filled.GetProperty("status").GetString(), filled.GetProperty("executedQty").GetString()));
        Assert.Equal(-2015, otherMachine.GetProperty("code").GetInt32());
        Assert.Equal(-1022, changed.GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Binary_YamlScenarioFile_Loaded()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "mine.yaml");
        await File.WriteAllTextAsync(path, """
            name: mine
            accounts: [{ id: a, balances: { USDT: 10 } }]
            symbols:
              - symbol: XYZUSDT
                baseAsset: XYZ
                quoteAsset: USDT
                lastPrice: 2.5
            """);
        await using var sim = await SimulatorProcess.StartAsync(path);

        var info = JsonDocument.Parse(await sim.Http.GetStringAsync(sim.Url("/api/v3/exchangeInfo"))).RootElement;

        Assert.Equal("XYZUSDT", info.GetProperty("symbols").EnumerateArray().Single().GetProperty("symbol").GetString());
    }

    [Fact]
    public async Task Binary_UnknownScenario_ExitsWithUsageError()
    {
        var result = await Run.ProcessAsync("dotnet", [Repo.SimulatorDll, "--scenario", "no-such-scenario", "--port", "0"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("liquid", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("pump-and-dump", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Binary_InvalidYamlScenario_ExitsWithClearError()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "bad.yml");
        await File.WriteAllTextAsync(path, "name: a\nname: b\n");

        var result = await Run.ProcessAsync("dotnet", [Repo.SimulatorDll, "--scenario", path, "--port", "0"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("invalid scenario YAML: key 'name' appears twice", result.Stderr, StringComparison.Ordinal);
    }
}
