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

    /// <summary>A "Signer" config section with one sealed key per entry.</summary>
    public static object Config(string socketPath, IDictionary<string, (string SealedPath, string PassphrasePath)> keys, object? allowedPeers = null) => new
    {
        SocketPath = socketPath,
        AllowedPeers = allowedPeers ?? new { Uids = new[] { Hardening.Libc.getuid() } },
        Keys = keys.ToDictionary(k => k.Key, k => new
        {
            ApiKey = "api-key-" + k.Key,
            SealedFile = new { Path = k.Value.SealedPath, PassphraseFile = k.Value.PassphrasePath },
        }),
    };
}
