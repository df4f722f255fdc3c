using System.Globalization;
using Microsoft.Extensions.Logging;
using Uncoded.Simulator.Scenarios;

namespace Uncoded.Simulator.Hosting;

/// <summary><c>uncoded-sim --scenario NAME|PATH --port N [--control-port N] [--log-level LEVEL]</c>.</summary>
internal static class SimulatorCli
{
    private const string Usage =
        "usage: uncoded-sim [--scenario NAME|PATH] [--port N] [--control-port N] [--log-level Warning]\n" +
        "  --scenario      a shipped scenario name or a scenario file, JSON or .yaml/.yml (default: liquid)\n" +
        "  --port          API port on 127.0.0.1 (default 0: a free port, printed at start)\n" +
        "  --control-port  enables the control API on this 127.0.0.1 port (off by default)\n";

    public static async Task<int> RunAsync(string[] args)
    {
        string scenarioName = "liquid";
        int port = 0;
        int? controlPort = null;
        var logLevel = LogLevel.Warning;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--scenario":
                        scenarioName = Next();
                        break;
                    case "--port":
                        port = ParsePort(Next());
                        break;
                    case "--control-port":
                        controlPort = ParsePort(Next());
                        break;
                    case "--log-level":
                        logLevel = Enum.Parse<LogLevel>(Next(), ignoreCase: true);
                        break;
                    case "-h" or "--help":
                        await Console.Out.WriteAsync(Usage).ConfigureAwait(false);
                        await Console.Out.WriteLineAsync("shipped scenarios: " + string.Join(", ", Scenario.ShippedNames)).ConfigureAwait(false);
                        return 0;
                    default:
                        throw new ArgumentException($"unknown argument '{args[i]}'");
                }
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteAsync($"uncoded-sim: {e.Message}\n{Usage}").ConfigureAwait(false);
                return 2;
            }
        }

        Scenario scenario;
        try
        {
            scenario = Scenario.Load(scenarioName);
        }
        catch (ScenarioException e)
        {
            await Console.Error.WriteLineAsync($"uncoded-sim: {e.Message}").ConfigureAwait(false);
            return 2;
        }
        await using var host = await SimulatorHost.StartAsync(new SimulatorOptions
        {
            Scenario = scenario,
            Port = port,
            ControlPort = controlPort,
            LogLevel = logLevel,
        }).ConfigureAwait(false);
        await Console.Out.WriteLineAsync($"uncoded-sim listening on {host.BaseAddress} (scenario {scenario.Name})").ConfigureAwait(false);
        if (host.ControlAddress is { } control)
        {
            await Console.Out.WriteLineAsync($"uncoded-sim control API on {control}").ConfigureAwait(false);
        }
        await Console.Out.FlushAsync().ConfigureAwait(false);
        await host.WaitForShutdownAsync().ConfigureAwait(false);
        return 0;
    }

    private static int ParsePort(string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 0 and <= 65535
            ? port
            : throw new ArgumentException($"'{value}' is not a port number");
}
