using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Uncoded.Signer.Audit;
using Uncoded.Signer.Guards;
using Uncoded.Signer.Service;
using Uncoded.Testing;

namespace Uncoded.Signer.Tests.Unit;

/// <summary>An allowed order that was never signed leaves the rolling window again, and only what it put there.</summary>
public sealed class UnsignedOrderTests : IDisposable
{
    private readonly TempDir _dir = new();

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
        // The 60 leaves 24 h after the end of its own minute (never before 24 h), not later.
        Assert.Equal(60m, window.Total(T0 + RollingWindow.WindowMinutes * Minute));
        Assert.Equal(0m, window.Total(T0 + (RollingWindow.WindowMinutes + 1) * Minute));
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
    [InlineData("\"decision\":\"unsigned\",\"notional\":\"30\",\"allowedSeq\":4", false)]
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

    [Fact]
    public async Task VerifyAudit_GiveBackOfTheAllowedOrder_Passes_ThenReplayReleasesIt()
    {
        var path = _dir.File("audit.log");
        using (var audit = AuditLog.Open(path, TimeProvider.System, NullLogger.Instance))
        {
            var allowed = Order(30m);
            var seq = await audit.AppendAsync(allowed);
            await audit.AppendAsync(Order(50m));
            await audit.AppendAsync(AuditEntry.ForUnsigned(allowed, seq, DateTimeOffset.UtcNow, "TOKEN_NOT_PRESENT"));
        }
        Assert.True(Verify(path).Ok, Verify(path).Message);
        using (var audit = AuditLog.Open(path, TimeProvider.System, NullLogger.Instance))
        using (var ledger = CapLedger.Open(State(), audit, TimeProvider.System, NullLogger.Instance))
        {
            Assert.Equal(50m, ledger.Snapshot("k").Total(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        }
    }

    public static TheoryData<string> Mismatches => ["twice", "other notional", "other key", "other time", "a refusal"];

    [Theory]
    [MemberData(nameof(Mismatches))]
    public async Task GiveBackThatMatchesNoAllowedOrder_VerifyAuditAndReplayRefuseIt(string mismatch)
    {
        var path = _dir.File("audit.log");
        using (var audit = AuditLog.Open(path, TimeProvider.System, NullLogger.Instance))
        {
            var allowed = Order(30m);
            var seq = await audit.AppendAsync(allowed);
            var refusal = allowed with { Allowed = false, Reason = "ROLLING_CAP", Notional = null };
            var refusalSeq = await audit.AppendAsync(refusal);
            var giveBack = AuditEntry.ForUnsigned(allowed, seq, DateTimeOffset.UtcNow, "TOKEN_NOT_PRESENT");
            if (mismatch == "twice")
            {
                await audit.AppendAsync(giveBack);
            }
            await audit.AppendAsync(mismatch switch
            {
                "other notional" => giveBack with { Notional = 31m },
                "other key" => giveBack with { KeyId = "other" },
                "other time" => giveBack with { AllowedTime = allowed.Time.AddSeconds(-1) },
                "a refusal" => giveBack with { AllowedSeq = refusalSeq },
                _ => giveBack,
            });
        }
        var verdict = Verify(path);
        Assert.False(verdict.Ok);
        Assert.Contains("not an allowed order of that key, time and notional, or was given back already", verdict.Message, StringComparison.Ordinal);
        using var reopened = AuditLog.Open(path, TimeProvider.System, NullLogger.Instance);
        var e = Assert.Throws<SignerException>(() => CapLedger.Open(State(), reopened, TimeProvider.System, NullLogger.Instance));
        Assert.Equal("AUDIT_LOG_CORRUPT", e.Reason);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, false)]
    public async Task VerifyAudit_GiveBackOfAnOrderInTheArchive_FirstLineOfTheNewFile_MatchedAcrossFiles(int givenBack, bool matches)
    {
        var path = _dir.File("audit.log");
        using (var audit = AuditLog.Open(path, TimeProvider.System, NullLogger.Instance, rotateAtBytes: 65_536))
        {
            AuditEntry last;
            ulong seq;
            do
            {
                last = Order(1m);
                seq = await audit.AppendAsync(last);
            }
            while (audit.Continues is null);
            await audit.AppendAsync(AuditEntry.ForUnsigned(last, seq, DateTimeOffset.UtcNow, "TOKEN_NOT_PRESENT") with { Notional = givenBack });
        }
        // The new file alone cannot see the order it gives back: not matched, not refused.
        var verdict = Verify(path);
        Assert.True(verdict.Ok, verdict.Message);
        Assert.Contains("continuing audit.log.", verdict.Message, StringComparison.Ordinal);
        // With the archive, the give-back must match the order (same notional) like any other.
        var history = AuditVerifier.VerifyHistory(path, withArchives: true);
        Assert.Equal(2, history.Files.Length);
        Assert.True(history.Verdict.Ok == matches, history.Verdict.Message);
        if (!matches)
        {
            Assert.Equal(path, history.File);
            Assert.Contains("not an allowed order of that key, time and notional", history.Verdict.Message, StringComparison.Ordinal);
        }
    }

    private static AuditEntry Order(decimal notional) =>
        new(DateTimeOffset.UtcNow, null, "k", "POST", "/api/v3/order", Encoding.ASCII.GetBytes("symbol=LTCBTC"), true, null, null, notional);

    private string State() => Directory.CreateDirectory(_dir.File("state"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute).FullName;

    private static AuditVerdict Verify(string path)
    {
        using var stream = File.OpenRead(path);
        return AuditVerifier.Verify(stream);
    }

    public void Dispose() => _dir.Dispose();
}
