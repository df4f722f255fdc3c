using Uncoded.Simulator.Hosting;

namespace Uncoded.Simulator.Tests.Support;

/// <summary>
/// A test class whose every test gets its own simulator on <see cref="TestScenarios.Market"/>, one
/// HMAC key (reading + spot trading) and a client that signs with it.
/// </summary>
public abstract class MarketTest : IAsyncLifetime
{
    private protected TestKey Key { get; } = TestKeys.Hmac();

    private protected SimulatorHost Sim { get; private set; } = null!;

    private protected BinanceClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Sim = await TestScenarios.StartAsync(TestScenarios.Market(Key));
        Client = new BinanceClient(Sim, Key);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Sim.DisposeAsync();
    }
}
