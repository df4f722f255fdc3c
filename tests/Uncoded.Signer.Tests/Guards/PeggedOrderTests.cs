using Grpc.Core;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Guards;

/// <summary>
/// Pegged orders allowed by configuration: a pegged sell is bounded by MaxQuantity like any
/// sell, but a pegged buy is priced by the book (the attacker's ask), so it is always refused.
/// </summary>
public sealed class PeggedOrderTests
{
    private const string Order = "/api/v3/order";

    private static readonly object Guard = new
    {
        Symbols = new Dictionary<string, object> { ["LTCBTC"] = new { MaxOrderNotional = 100m, MaxQuantity = 50m } },
        AllowPeggedOrders = true,
        MaxDailyNotional = 1_000m,
        SignaturesPerMinute = 100_000,
        SignaturesPerMinutePerPeer = 100_000,
    };

    [Fact]
    public async Task PeggedSell_Signed_PeggedBuy_RefusedEvenWhenPeggedOrdersAreAllowed()
    {
        await using var signer = await GuardedSigner.StartAsync(Guard);
        var sell = await signer.SignAsync("POST", Order,
            "symbol=LTCBTC&side=SELL&type=LIMIT&timeInForce=GTC&quantity=5&price=1&pegPriceType=PRIMARY_PEG&recvWindow=5000&timestamp={now}");
        Assert.NotEmpty(sell.Signature);

        // 50 at 2 counts as 100, within the cap; MARKET_PEG would fill it at the best ask, whatever that is.
        foreach (var peg in new[] { "pegPriceType=MARKET_PEG", "pegPriceType=PRIMARY_PEG&pegOffsetType=PRICE_LEVEL&pegOffsetValue=0", "pegOffsetValue=1" })
        {
            var refused = await signer.RefusedAsync("POST", Order,
                $"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=IOC&quantity=50&price=2&{peg}&recvWindow=5000&timestamp={{now}}");
            Assert.Equal(StatusCode.PermissionDenied, refused.Code);
            Assert.Equal("PEGGED_BUY_NOT_ALLOWED", refused.Reason);
            Assert.Equal("deny", signer.LastAuditRecord().GetProperty("decision").GetString());
        }
        Assert.NotEmpty((await signer.SignAsync("POST", Order,
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=IOC&quantity=50&price=2&recvWindow=5000&timestamp={now}")).Signature);
    }
}
