using System.Collections.Frozen;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Uncoded.Signer.Audit;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Guards;
using Uncoded.Signer.Secrets;
using Uncoded.Signer.Service;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Guards;

/// <summary>The pipeline in-process with a fake clock: freshness and the rolling window follow the injected TimeProvider.</summary>
public sealed class PipelineClockTests : IDisposable
{
    private const long ExampleTimestamp = 1499827319559;
    private readonly TempDir _dir = new();
    private readonly ManualClock _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(ExampleTimestamp));

    [Fact]
    public async Task Sign_BinanceExampleAtItsOwnTime_ReproducesThePublishedSignature()
    {
        using var pipeline = Pipeline(maxDaily: 10m);
        var result = await SignOrderAsync(pipeline.Value, TestKeys.BinanceExamplePayload);
        Assert.Equal(TestKeys.BinanceExampleSignature, result.Signature);
        Assert.Equal(1UL, result.AuditSeq);
    }

    [Theory]
    [InlineData(2001, "STALE_TIMESTAMP")]
    [InlineData(-2001, "FUTURE_TIMESTAMP")]
    public async Task Sign_ClockMovedPastTheSkew_Refused(long clockOffsetMs, string reason)
    {
        using var pipeline = Pipeline(maxDaily: 10m);
        _clock.Advance(TimeSpan.FromMilliseconds(clockOffsetMs));
        var e = await Assert.ThrowsAsync<SignerException>(async () =>
            await SignOrderAsync(pipeline.Value, TestKeys.BinanceExamplePayload));
        Assert.Equal(reason, e.Reason);
    }

    [Fact]
    public async Task RollingCap_Refills24HoursLater()
    {
        using var pipeline = Pipeline(maxDaily: 0.25m);
        await SignExampleNowAsync(pipeline.Value);
        await SignExampleNowAsync(pipeline.Value);
        var e = await Assert.ThrowsAsync<SignerException>(() => SignExampleNowAsync(pipeline.Value));
        Assert.Equal("ROLLING_CAP", e.Reason);
        _clock.Advance(TimeSpan.FromHours(23));
        e = await Assert.ThrowsAsync<SignerException>(() => SignExampleNowAsync(pipeline.Value));
        Assert.Equal("ROLLING_CAP", e.Reason);
        _clock.Advance(TimeSpan.FromMinutes(62));
        await SignExampleNowAsync(pipeline.Value);
    }

    [Fact]
    public async Task RollingCap_AnOrderAtTheEndOfItsMinute_CountsForAFull24Hours()
    {
        // Signed at hh:mm:59.999: still counted 23 h 59 min 0.001 s later (the minute after, it may leave).
        _clock.Advance(TimeSpan.FromMilliseconds(60_000 - ExampleTimestamp % 60_000 - 1));
        using var pipeline = Pipeline(maxDaily: 0.1m);
        await SignExampleNowAsync(pipeline.Value);
        _clock.Advance(TimeSpan.FromHours(24) - TimeSpan.FromMilliseconds(59_999));
        Assert.Equal("ROLLING_CAP", (await Assert.ThrowsAsync<SignerException>(() => SignExampleNowAsync(pipeline.Value))).Reason);
        _clock.Advance(TimeSpan.FromMinutes(1));
        await SignExampleNowAsync(pipeline.Value);
    }

    [Fact]
    public async Task RollingCap_WallClockSteppedForwardThenBack_OrdersAreNotForgotten()
    {
        using var pipeline = Pipeline(maxDaily: 0.1m);
        await SignExampleNowAsync(pipeline.Value);
        // A day's step forward (a bad time source): no real time passed, the order still counts.
        _clock.Step(TimeSpan.FromHours(25));
        Assert.Equal("ROLLING_CAP", (await Assert.ThrowsAsync<SignerException>(() => SignExampleNowAsync(pipeline.Value))).Reason);
        // Corrected two minutes later.
        _clock.Step(TimeSpan.FromHours(-25));
        _clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal("ROLLING_CAP", (await Assert.ThrowsAsync<SignerException>(() => SignExampleNowAsync(pipeline.Value))).Reason);
    }

    [Fact]
    public async Task RollingCap_SignedWhileTheClockWasBehind_CountsFor24HoursOfRealTime()
    {
        using var pipeline = Pipeline(maxDaily: 0.1m);
        _clock.Step(TimeSpan.FromHours(-1));
        await SignExampleNowAsync(pipeline.Value);
        _clock.Step(TimeSpan.FromHours(1));
        _clock.Advance(TimeSpan.FromHours(23) + TimeSpan.FromMinutes(1));
        Assert.Equal("ROLLING_CAP", (await Assert.ThrowsAsync<SignerException>(() => SignExampleNowAsync(pipeline.Value))).Reason);
        _clock.Advance(TimeSpan.FromMinutes(61));
        await SignExampleNowAsync(pipeline.Value);
    }

    [Fact]
    public async Task RollingCap_ClockTwoDaysAheadAndAZeroNotionalSell_ForgetsNothing_AlsoAfterARestart()
    {
        var pipeline = Pipeline(maxDaily: 0.1m);
        try
        {
            await SignExampleNowAsync(pipeline.Value);
            _clock.Step(TimeSpan.FromHours(49));
            // A market sell counts 0 but is still added: it must not make the window drop the real order.
            var sell = TestKeys.WithTimestamp("symbol=LTCBTC&side=SELL&type=MARKET&quantity=1&recvWindow=5000&timestamp=0", _clock.GetUtcNow().ToUnixTimeMilliseconds());
            await SignOrderAsync(pipeline.Value, sell);
            _clock.Step(TimeSpan.FromHours(-49));
            _clock.Advance(TimeSpan.FromMinutes(2));
            Assert.Equal("ROLLING_CAP", (await Assert.ThrowsAsync<SignerException>(() => SignExampleNowAsync(pipeline.Value))).Reason);
        }
        finally
        {
            pipeline.Dispose();
        }
        using var restarted = Pipeline(maxDaily: 0.1m);
        Assert.Equal("ROLLING_CAP", (await Assert.ThrowsAsync<SignerException>(() => SignExampleNowAsync(restarted.Value))).Reason);
    }

    [Fact]
    public async Task RollingCap_ManySmallForwardSteps_DoNotAddUp()
    {
        using var pipeline = Pipeline(maxDaily: 0.1m);
        await SignExampleNowAsync(pipeline.Value);
        _clock.Advance(TimeSpan.FromHours(23));
        // 2,000 steps of 1.9 s (each under the 2 s tolerance): the wall clock ends 63 min ahead, no real time passed.
        for (var i = 0; i < 2_000; i++)
        {
            _clock.Step(TimeSpan.FromSeconds(1.9));
            Assert.Equal("ROLLING_CAP", (await Assert.ThrowsAsync<SignerException>(() => SignExampleNowAsync(pipeline.Value))).Reason);
        }
    }

    [Fact]
    public async Task RollingCap_GiveBackWhileAForwardStepIsHeldBack_ReturnsTheAmount()
    {
        // The amount is counted at the steady clock's minute, an hour behind the stepped wall
        // clock: the give-back of the failed signature must find it there.
        var key = new FlakyKey();
        using var pipeline = Pipeline(maxDaily: 0.1m, key);
        await SignExampleNowAsync(pipeline.Value);
        _clock.Advance(TimeSpan.FromHours(24) + TimeSpan.FromMinutes(2));
        _clock.Step(TimeSpan.FromHours(1));
        key.Failing = true;
        Assert.Equal("TOKEN_NOT_PRESENT", (await Assert.ThrowsAsync<SignerException>(() => SignExampleNowAsync(pipeline.Value))).Reason);
        key.Failing = false;
        await SignExampleNowAsync(pipeline.Value);
    }

    /// <summary>HMAC with Binance's example secret, or a token-gone failure while <see cref="Failing"/>.</summary>
    private sealed class FlakyKey : ISigningKey
    {
        public bool Failing { get; set; }

        public KeyAlgorithm Algorithm => KeyAlgorithm.HmacSha256;

        public string? PublicKeyPem => null;

        public ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) => Failing
            ? ValueTask.FromException<byte[]>(new SignerException(ErrorKind.Unavailable, "TOKEN_NOT_PRESENT", "the token is gone"))
            : ValueTask.FromResult(System.Security.Cryptography.HMACSHA256.HashData(Encoding.ASCII.GetBytes(TestKeys.BinanceExampleSecret), payload.Span));

        public void Dispose()
        {
        }
    }

    private async Task SignExampleNowAsync(SignPipeline pipeline)
    {
        var payload = TestKeys.WithTimestamp(TestKeys.BinanceExamplePayload, _clock.GetUtcNow().ToUnixTimeMilliseconds());
        await SignOrderAsync(pipeline, payload);
    }

    /// <summary>POST /api/v3/order with key "k", as the gRPC layer hands it over.</summary>
    private static ValueTask<SignResult> SignOrderAsync(SignPipeline pipeline, string payload)
    {
        var bytes = Encoding.ASCII.GetBytes(payload);
        // About the message's size (fields, tags and lengths); far under the limit either way.
        return pipeline.SignAsync("k", "POST", "/api/v3/order", bytes, bytes.Length + 32, null, default);
    }

    private Owned<SignPipeline> Pipeline(decimal maxDaily, ISigningKey? key = null)
    {
        var problems = new List<string>();
        var guard = GuardSettings.From(new GuardOptions
        {
            Symbols = { ["LTCBTC"] = new SymbolOptions { MaxOrderNotional = 1m, MaxQuantity = 10m } },
            MaxDailyNotional = maxDaily,
        }, "Guard", problems);
        Assert.Empty(problems);
        var settings = new SignerSettings(_dir.File("s.sock"), FrozenSet<uint>.Empty, FrozenSet<uint>.Empty,
            new Dictionary<string, KeySettings> { ["k"] = new("k", "api", "unused", new SecretSource("unused", null, null), guard) }.ToFrozenDictionary(),
            _dir.File("audit.log"), _dir.File("state"));
        var keys = new KeyRing([new LoadedKey("k", "api", key ?? SoftwareKeys.Create(
            KeyFactory.ImportHmacSecret(Encoding.ASCII.GetBytes(TestKeys.BinanceExampleSecret), "t", DateTimeOffset.UnixEpoch)))]);
        var audit = AuditLog.Open(settings.AuditPath, _clock, NullLogger.Instance);
        var guards = GuardEngine.Open(settings, _clock, NullLogger.Instance, audit);
        var refusals = new RefusalBudget(settings.MaxRefusalsPerMinutePerPeer, audit, _clock, NullLogger.Instance);
        return new Owned<SignPipeline>(new SignPipeline(keys, guards, audit, refusals, _clock, NullLogger<SignPipeline>.Instance), refusals, guards, audit, keys);
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>Time that passes (<see cref="Advance"/>: wall and monotonic clocks) or a wall clock that is stepped (<see cref="Step"/>).</summary>
    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        private DateTimeOffset _now = now;
        private long _ticks;

        public override DateTimeOffset GetUtcNow() => _now;

        public override long GetTimestamp() => _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public void Advance(TimeSpan by)
        {
            _now += by;
            _ticks += by.Ticks;
        }

        public void Step(TimeSpan by) => _now += by;
    }

    private sealed class Owned<T>(T value, params IDisposable[] owned) : IDisposable
    {
        public T Value => value;

        public void Dispose()
        {
            foreach (var item in owned)
            {
                item.Dispose();
            }
        }
    }
}
