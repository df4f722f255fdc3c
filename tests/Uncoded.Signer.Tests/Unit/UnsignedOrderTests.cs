using System.Text;
using Uncoded.Signer.Audit;
using Uncoded.Signer.Guards;

namespace Uncoded.Signer.Tests.Unit;

/// <summary>An allowed order that was never signed leaves the rolling window again, and only what it put there.</summary>
public sealed class UnsignedOrderTests
{
    private const long Minute = 60_000;
    private const long T0 = 1_700_000_000_000 / Minute * Minute;

    [Fact]
    public void Release_TakesBackFromTheMinuteItWasAddedIn()
    {
        var window = new RollingWindow();
        window.Add(T0, 60m);
        window.Add(T0 + 5 * Minute, 30m);
        window.Release(T0 + 5 * Minute + 10, 30m);
        Assert.Equal(60m, window.Total(T0 + 6 * Minute));
        // The 60 still leaves 24 h after its own minute, not later.
        Assert.Equal(0m, window.Total(T0 + RollingWindow.WindowMinutes * Minute));
    }

    [Fact]
    public void Release_NeverMoreThanTheBucketHolds_NothingOnceItLeftTheWindow()
    {
        var window = new RollingWindow();
        window.Add(T0, 10m);
        window.Release(T0, 25m);
        Assert.Equal(0m, window.Total(T0));
        window.Add(T0 + Minute, 10m);
        window.Release(T0 + 2 * Minute, 10m);
        Assert.Equal(10m, window.Total(T0 + 2 * Minute));

        window.Add(T0 + 3 * Minute, 5m);
        Assert.Equal(5m, window.Total(T0 + (RollingWindow.WindowMinutes + 2) * Minute));
        window.Release(T0 + Minute, 10m);
        Assert.Equal(5m, window.Total(T0 + (RollingWindow.WindowMinutes + 2) * Minute));
    }

    [Theory]
    [InlineData("\"decision\":\"unsigned\",\"notional\":\"30\",\"allowedSeq\":4,\"allowedTime\":\"2026-11-30T05:00:00.000000Z\"", true)]
    [InlineData("\"decision\":\"unsigned\",\"notional\":\"30\",\"allowedSeq\":5,\"allowedTime\":\"2026-11-30T05:00:00.000000Z\"", false)]
    [InlineData("\"decision\":\"unsigned\",\"notional\":\"30\",\"allowedSeq\":4,\"allowedTime\":\"2026-11-30T05:00:02.000000Z\"", false)]
    [InlineData("\"decision\":\"unsigned\",\"allowedSeq\":4,\"allowedTime\":\"2026-11-30T05:00:00.000000Z\"", false)]
    [InlineData("\"decision\":\"unsigned\",\"notional\":\"30\"", false)]
    [InlineData("\"decision\":\"deny\",\"notional\":\"30\"", false)]
    public void ParseLine_UnsignedRecord_MustGiveBackAnEarlierOrder(string fields, bool valid)
    {
        var line = "{\"seq\":5,\"time\":\"2026-11-30T05:00:01.000000Z\",\"peer\":{\"pid\":1,\"uid\":2,\"gid\":3},\"key\":\"k\",\"method\":\"POST\"," +
            "\"path\":\"/api/v3/order\",\"payload\":\"\"," + fields + ",\"reason\":\"TOKEN_NOT_PRESENT\",\"prev\":\"" + new string('a', 64) + "\"}";
        var parsed = AuditVerifier.ParseLine(Encoding.ASCII.GetBytes(line), out var problem);
        Assert.True(valid == parsed is not null, problem);
        if (valid)
        {
            Assert.False(parsed!.Allowed);
            Assert.Equal(30m, parsed.Notional);
            Assert.Equal(new DateTimeOffset(2026, 11, 30, 5, 0, 0, TimeSpan.Zero), parsed.AllowedTime);
        }
    }
}
