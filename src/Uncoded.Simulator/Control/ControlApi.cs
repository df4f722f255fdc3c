using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Uncoded.Simulator.Api;
using Uncoded.Simulator.Faults;
using Uncoded.Simulator.Hosting;
using Uncoded.Simulator.Scenarios;

namespace Uncoded.Simulator.Control;

/// <summary>Moves the clock in <c>POST /control/clock</c>: exactly one field.</summary>
internal sealed record ClockCommand(long? AdvanceMs, long? OffsetMs, long? FreezeAtUnixMs);

/// <summary>
/// The test/demo control surface, on its own loopback port and off unless --control-port is given:
/// load a scenario, queue faults, move the clock, read balances. Never part of the Binance surface.
/// </summary>
internal static class ControlApi
{
    public static void Map(WebApplication app, SimulatorHost host)
    {
        app.MapGet("/control/state", () => Results.Json(new
        {
            scenario = host.Scenario.Name,
            serverTime = host.Clock.UnixMs,
            pendingFaults = host.Faults.Pending,
            accounts = host.Exchange.Accounts.Order(StringComparer.Ordinal).ToList(),
        }));

        app.MapPost("/control/scenario", async (HttpContext http) =>
        {
            try
            {
                var scenario = http.Request.Query["name"] is { Count: 1 } name
                    ? Scenario.Load(name[0]!)
                    : http.Request.ContentType?.Contains("yaml", StringComparison.OrdinalIgnoreCase) == true
                        ? Scenario.ParseYaml(await ReadBodyAsync(http).ConfigureAwait(false))
                        : Scenario.Parse(await ReadBodyAsync(http).ConfigureAwait(false));
                host.LoadScenario(scenario);
                return Results.Json(new { loaded = scenario.Name });
            }
            catch (ScenarioException e)
            {
                return Results.BadRequest(new { error = e.Message });
            }
        });

        app.MapPost("/control/faults", async (HttpContext http) =>
        {
            var fault = await DeserializeAsync<FaultSpec>(http).ConfigureAwait(false);
            if (fault is null || fault.Count <= 0)
            {
                return Results.BadRequest(new { error = "a fault needs kind and a positive count" });
            }
            host.Faults.Inject(fault);
            return Results.Json(new { pending = host.Faults.Pending });
        });

        app.MapDelete("/control/faults", () =>
        {
            host.Faults.Clear();
            return Results.Json(new { pending = 0 });
        });

        app.MapPost("/control/clock", async (HttpContext http) =>
        {
            var command = await DeserializeAsync<ClockCommand>(http).ConfigureAwait(false);
            switch (command)
            {
                case { AdvanceMs: { } advance, OffsetMs: null, FreezeAtUnixMs: null }:
                    host.Clock.Advance(TimeSpan.FromMilliseconds(advance));
                    break;
                case { OffsetMs: { } offset, AdvanceMs: null, FreezeAtUnixMs: null }:
                    host.Clock.SetOffset(TimeSpan.FromMilliseconds(offset));
                    break;
                case { FreezeAtUnixMs: { } at, AdvanceMs: null, OffsetMs: null }:
                    host.Clock.Freeze(DateTimeOffset.FromUnixTimeMilliseconds(at));
                    break;
                default:
                    return Results.BadRequest(new { error = "send exactly one of advanceMs, offsetMs, freezeAtUnixMs" });
            }
            return Results.Json(new { serverTime = host.Clock.UnixMs });
        });

        app.MapGet("/control/balances", (string? account) =>
        {
            if (account is not null && !host.Exchange.Accounts.Contains(account))
            {
                return Results.NotFound(new { error = $"no account '{account}' in scenario '{host.Scenario.Name}'" });
            }
            var accounts = account is null ? host.Exchange.Accounts : [account];
            return Results.Json(accounts.Order(StringComparer.Ordinal).ToDictionary(a => a, a => host.Exchange.Balances(a)
                .OrderBy(b => b.Key, StringComparer.Ordinal)
                .ToDictionary(b => b.Key, b => new { free = Wire.Dec(b.Value.Free), locked = Wire.Dec(b.Value.Locked) })));
        });
    }

    private static async Task<string> ReadBodyAsync(HttpContext http)
    {
        using var reader = new StreamReader(http.Request.Body);
        return await reader.ReadToEndAsync(http.RequestAborted).ConfigureAwait(false);
    }

    private static async Task<T?> DeserializeAsync<T>(HttpContext http)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(await ReadBodyAsync(http).ConfigureAwait(false), Scenario.Json);
        }
        catch (JsonException)
        {
            return default;
        }
    }
}
