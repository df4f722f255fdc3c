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

    [Fact]
    public async Task Binary_LiquidScenarioOnPort_ServesTimeOnLoopbackOnly()
    {
        var port = FreePort();
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Repo.SimulatorDll, "--scenario", "liquid", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            string? body = null;
            for (var attempt = 0; attempt < 120 && body is null && !process.HasExited; attempt++)
            {
                try
                {
                    body = await http.GetStringAsync($"http://127.0.0.1:{port}/api/v3/time");
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(250);
                }
            }
            Assert.False(process.HasExited, "uncoded-sim exited early");
            Assert.NotNull(body);
            var serverTime = JsonDocument.Parse(body).RootElement.GetProperty("serverTime").GetInt64();
            Assert.InRange(serverTime - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), -10_000, 10_000);
            var depth = JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/api/v3/depth?symbol=BTCUSDT&limit=200")).RootElement;
            Assert.Equal(200, depth.GetProperty("asks").GetArrayLength());

            using var other = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            var refused = await Assert.ThrowsAsync<SocketException>(async () => await other.ConnectAsync(IPAddress.Parse("127.0.0.2"), port));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        Assert.DoesNotContain("Unhandled exception", await stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Binary_UnknownScenario_ExitsWithUsageError()
    {
        var result = await Run.ProcessAsync("dotnet", [Repo.SimulatorDll, "--scenario", "no-such-scenario", "--port", "0"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("liquid", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("pump-and-dump", result.Stderr, StringComparison.Ordinal);
    }
}
