using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Uncoded.Simulator.Api;
using Uncoded.Simulator.Control;
using Uncoded.Simulator.Faults;
using Uncoded.Simulator.Market;
using Uncoded.Simulator.Scenarios;

namespace Uncoded.Simulator.Hosting;

public sealed record SimulatorOptions
{
    public required Scenario Scenario { get; init; }

    /// <summary>API port on 127.0.0.1; 0 picks a free one (read it from <see cref="SimulatorHost.BaseAddress"/>).</summary>
    public int Port { get; init; }

    /// <summary>Control API port on 127.0.0.1; null (the default) leaves the control API off.</summary>
    public int? ControlPort { get; init; }

    /// <summary>Loopback only: the simulator is never reachable from another machine.</summary>
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    public LogLevel LogLevel { get; init; } = LogLevel.Warning;

    /// <summary>Replaces the console logger (tests capture the log with their own provider).</summary>
    public ILoggerProvider? LoggerProvider { get; init; }
}

/// <summary>
/// The simulator as an object: starts Kestrel on loopback (and, when asked, the control API on a
/// second loopback port), holds the scenario state, the clock and the fault queue. Tests of any
/// project start one with <c>await SimulatorHost.StartAsync(new() { Scenario = ... })</c>.
/// </summary>
public sealed class SimulatorHost : IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private WebApplication? _api;
    private WebApplication? _control;
    private SimulatorState _state;
    private ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    private SimulatorHost(Scenario scenario)
    {
        _state = Apply(scenario);
    }

    public SimClock Clock { get; } = new();

    public FaultInjector Faults { get; } = new();

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The control API's base address, or null when it is off.</summary>
    public Uri? ControlAddress { get; private set; }

    public Exchange Exchange => State.Exchange;

    public Scenario Scenario => State.Scenario;

    internal SimulatorState State => Volatile.Read(ref _state);

    internal CancellationToken Stopping => _stopping.Token;

    public static async Task<SimulatorHost> StartAsync(SimulatorOptions options, CancellationToken cancellationToken = default)
    {
        if (!IPAddress.IsLoopback(options.Address))
        {
            throw new ArgumentException($"the simulator binds loopback only, not {options.Address}", nameof(options));
        }
        var host = new SimulatorHost(options.Scenario);
        try
        {
            host._api = Build(options, options.Port, RequestParameters.MaxBodyBytes);
            host._logger = host._api.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Uncoded.Simulator");
            host.Loaded(host.Scenario);
            host._api.Run(new ApiPipeline(host, host._logger).HandleAsync);
            await host._api.StartAsync(cancellationToken).ConfigureAwait(false);
            host.BaseAddress = BoundAddress(host._api);
            if (options.ControlPort is { } controlPort)
            {
                host._control = Build(options, controlPort, maxRequestBodyBytes: null);
                ControlApi.Map(host._control, host);
                await host._control.StartAsync(cancellationToken).ConfigureAwait(false);
                host.ControlAddress = BoundAddress(host._control);
            }
            return host;
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Replaces accounts, keys, books, limits and faults with <paramref name="scenario"/>'s, and sets its clock.</summary>
    public void LoadScenario(Scenario scenario)
    {
        var state = Apply(scenario);
        Volatile.Write(ref _state, state);
        Loaded(scenario);
    }

    private void Loaded(Scenario scenario) =>
        Log.ScenarioLoaded(_logger, scenario.Name, scenario.Accounts.Count, scenario.ApiKeys.Count, scenario.Symbols.Count, scenario.Faults.Count);

    private SimulatorState Apply(Scenario scenario)
    {
        if (scenario.Clock?.FixedUnixMs is { } fixedMs)
        {
            Clock.Freeze(DateTimeOffset.FromUnixTimeMilliseconds(fixedMs));
        }
        else
        {
            Clock.SetOffset(TimeSpan.FromMilliseconds(scenario.Clock?.OffsetMs ?? 0));
        }
        var state = new SimulatorState(scenario, Clock);
        Faults.Clear();
        foreach (var fault in scenario.Faults)
        {
            Faults.Inject(fault);
        }
        return state;
    }

    /// <summary>Completes when the API server stops (Ctrl+C or SIGTERM for the standalone binary).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) =>
        _api?.WaitForShutdownAsync(cancellationToken) ?? Task.CompletedTask;

    /// <summary>A slim web app on loopback; <paramref name="maxRequestBodyBytes"/> (null: Kestrel's default) bounds what Kestrel reads or drains.</summary>
    private static WebApplication Build(SimulatorOptions options, int port, long? maxRequestBodyBytes)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = typeof(SimulatorHost).Assembly.GetName().Name,
        });
        builder.Logging.ClearProviders();
        if (options.LoggerProvider is { } provider)
        {
            builder.Logging.AddProvider(provider);
        }
        else
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        }
        builder.Logging.SetMinimumLevel(options.LogLevel);
        // ASP.NET's request logs carry the full URL, signature included: a replayable credential
        // for the recvWindow. Only the simulator's own events (which never hold one) go below Warning.
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(options.Address, port);
            if (maxRequestBodyBytes is { } max)
            {
                k.Limits.MaxRequestBodySize = max;
            }
        });
        return builder.Build();
    }

    private static Uri BoundAddress(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        return new Uri(addresses.First());
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var app in new[] { _control, _api })
        {
            if (app is not null)
            {
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }
        State.Dispose();
        _stopping.Dispose();
    }
}
