using System.Text;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Backends.SealedFile;

namespace Uncoded.Signer.Tests.Support;

/// <summary>Sealed test keys, made with cheap Argon2id costs so tests stay fast (the default costs get their own test).</summary>
internal static class TestKeys
{
    public static readonly KdfParameters FastKdf = new(8 * 1024, 1, 1);

    /// <summary>Binance's published HMAC example secret (BINANCE.md).</summary>
    public const string BinanceExampleSecret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

    public const string BinanceExamplePayload =
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";

    public const string BinanceExampleSignature = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";

    public const string Passphrase = "correct horse battery staple";

    /// <summary>Seals <paramref name="material"/> into dir/name with a passphrase file next to it; returns (sealed path, passphrase path).</summary>
    public static (string SealedPath, string PassphrasePath) Seal(TempDir dir, string name, KeyMaterial material, string passphrase = Passphrase)
    {
        using (material)
        {
            var sealedPath = dir.File(name);
            SealedFileStore.WriteNew(sealedPath, SealedFileFormat.Seal(material, Encoding.UTF8.GetBytes(passphrase), FastKdf));
            var passphrasePath = dir.Write(name + ".pass", passphrase + "\n");
            return (sealedPath, passphrasePath);
        }
    }

    public static (string SealedPath, string PassphrasePath) SealHmac(TempDir dir, string name, string secret = BinanceExampleSecret) =>
        Seal(dir, name, KeyFactory.ImportHmacSecret(Encoding.ASCII.GetBytes(secret), "test", DateTimeOffset.UnixEpoch));

    public static (string SealedPath, string PassphrasePath) SealGenerated(TempDir dir, string name, string type) =>
        Seal(dir, name, KeyFactory.Generate(type, "test", DateTimeOffset.UnixEpoch));

    /// <summary>
    /// A "Signer" config section with one sealed key per entry, the audit log and guard state next
    /// to the socket, and <see cref="TestGuard"/> on every key (Binance's example order is allowed
    /// when its timestamp is fresh: use <see cref="FreshExamplePayload"/>).
    /// </summary>
    public static object Config(string socketPath, IDictionary<string, (string SealedPath, string PassphrasePath)> keys, object? allowedPeers = null) =>
        ConfigWithGuard(socketPath, keys, TestGuard, allowedPeers);

    /// <summary>Like <see cref="Config"/> with an explicit "Guard" section for every key (null: the built-in defaults).</summary>
    public static object ConfigWithGuard(string socketPath, IDictionary<string, (string SealedPath, string PassphrasePath)> keys, object? guard,
        object? allowedPeers = null, string? auditPath = null) => new
    {
        SocketPath = socketPath,
        AllowedPeers = allowedPeers ?? new { Uids = new[] { Hardening.Libc.getuid() } },
        Audit = new { Path = auditPath ?? Path.Combine(Path.GetDirectoryName(socketPath)!, "audit.log") },
        StateDirectory = Path.Combine(Path.GetDirectoryName(socketPath)!, "state"),
        Keys = keys.ToDictionary(k => k.Key, k => new
        {
            ApiKey = "api-key-" + k.Key,
            SealedFile = new { Path = k.Value.SealedPath, PassphraseFile = k.Value.PassphrasePath },
            Guard = guard,
        }),
    };

    /// <summary>
    /// The guard the foundation tests run with: default endpoints and order types, the widest
    /// clock skew allowed (±10 s, so a loaded 2-core CI machine cannot make a fresh payload stale
    /// between building it and signing it; freshness itself is tested with explicit bounds in
    /// Guards/), recvWindow ≤ 5000, LTCBTC allowed with generous caps, a high rate limit.
    /// </summary>
    public static readonly object TestGuard = new
    {
        Symbols = new Dictionary<string, object> { ["LTCBTC"] = new { MaxOrderNotional = 1000m, MaxQuantity = 1000m } },
        MaxDailyNotional = 1_000_000m,
        MaxClockSkewMs = 10_000,
        MaxRecvWindowMs = 5000,
        SignaturesPerMinute = 100_000,
        SignaturesPerMinutePerPeer = 100_000,
    };

    /// <summary>Binance's example order (BINANCE.md) with a timestamp of now, so the freshness guard accepts it.</summary>
    public static string FreshExamplePayload() => WithTimestamp(BinanceExamplePayload, NowMs());

    /// <summary>Replaces the value of <c>timestamp=</c> in <paramref name="payload"/>.</summary>
    public static string WithTimestamp(string payload, long timestampMs) =>
        System.Text.RegularExpressions.Regex.Replace(payload, "timestamp=[0-9]+", $"timestamp={timestampMs}");

    /// <summary>HMAC-SHA256 of <paramref name="payload"/> with Binance's example secret, computed by .NET (the independent reference).</summary>
    public static string ExpectedHmac(string payload) => Convert.ToHexStringLower(
        System.Security.Cryptography.HMACSHA256.HashData(System.Text.Encoding.ASCII.GetBytes(BinanceExampleSecret), System.Text.Encoding.ASCII.GetBytes(payload)));

    public static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}
