using Uncoded.Simulator.Hosting;
using Uncoded.Simulator.Market;
using Uncoded.Simulator.Scenarios;

namespace Uncoded.Simulator.Tests.Support;

/// <summary>Small scenarios built in code, so each test states exactly the market it runs against.</summary>
internal static class TestScenarios
{
    public static readonly IReadOnlyList<SymbolFilter> BtcFilters =
    [
        new PriceFilter(0.01m, 1_000_000m, 0.01m),
        new LotSizeFilter(0.00001m, 9000m, 0.00001m),
        new MarketLotSizeFilter(0m, 100m, 0m),
        new NotionalFilter(5m, true, 9_000_000m, false, 5),
        new PercentPriceBySideFilter(5m, 0.2m, 5m, 0.2m, 5),
        new MaxNumOrdersFilter(200),
    ];

    /// <summary>
    /// BTCUSDT (last 60000; asks 60001×0.5, 60002×0.5, 60003×1; bids 59999×0.5, 59998×0.5, 59997×1)
    /// and LTCBTC (for Binance's signed example). Account "trader" holds 100000 USDT, 10 BTC.
    /// </summary>
    public static Scenario Market(params TestKey[] keys) => new()
    {
        Name = "test-market",
        Accounts = [new AccountSpec { Id = "trader", Balances = new Dictionary<string, decimal> { ["USDT"] = 100_000m, ["BTC"] = 10m } }],
        ApiKeys = keys.Select(k => k.Spec).ToList(),
        Symbols =
        [
            new SymbolSpec
            {
                Symbol = "BTCUSDT",
                BaseAsset = "BTC",
                QuoteAsset = "USDT",
                LastPrice = 60_000m,
                Filters = BtcFilters,
                Book = new BookSpec
                {
                    Asks = [[60_001m, 0.5m], [60_002m, 0.5m], [60_003m, 1m]],
                    Bids = [[59_999m, 0.5m], [59_998m, 0.5m], [59_997m, 1m]],
                },
            },
            new SymbolSpec
            {
                Symbol = "LTCBTC",
                BaseAsset = "LTC",
                QuoteAsset = "BTC",
                LastPrice = 0.1m,
                Filters = [new PriceFilter(0.000001m, 100_000m, 0.000001m), new LotSizeFilter(0.001m, 90_000m, 0.001m), new NotionalFilter(0.0001m, true, 9_000_000m, false, 5)],
            },
        ],
    };

    public static Task<SimulatorHost> StartAsync(Scenario scenario, int? controlPort = null) =>
        SimulatorHost.StartAsync(new SimulatorOptions { Scenario = scenario, ControlPort = controlPort, LogLevel = Microsoft.Extensions.Logging.LogLevel.Error });
}
