using System.Security.Cryptography;
using System.Text;
using Uncoded.Simulator.Scenarios;

namespace Uncoded.Simulator.Tests.Support;

/// <summary>Signs a payload and returns the signature ready for the wire (hex, or percent-encoded base64).</summary>
internal delegate Task<string> Signer(string payload);

/// <summary>An API key registered in a test scenario and the independent tool that signs for it.</summary>
internal sealed record TestKey(ApiKeySpec Spec, Signer Sign)
{
    public string ApiKey => Spec.ApiKey;
}

internal static class TestKeys
{
    private const string Alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>A fresh key id in Binance's format (64 letters and digits).</summary>
    public static string NewApiKey() => RandomNumberGenerator.GetString(Alphanumeric, 64);

    /// <summary>HMAC-SHA256 with .NET's HMACSHA256, lowercase (or upper-case) hex.</summary>
    public static TestKey Hmac(string account = "trader", string[]? permissions = null, string[]? ipAllowlist = null,
        string? secret = null, string? apiKey = null, bool upperCaseHex = false)
    {
        secret ??= RandomNumberGenerator.GetString(Alphanumeric, 64);
        var spec = Spec(apiKey ?? NewApiKey(), account, KeyType.Hmac, permissions, ipAllowlist) with { Secret = secret };
        return new TestKey(spec, payload =>
        {
            var mac = HMACSHA256.HashData(Encoding.ASCII.GetBytes(secret), Encoding.UTF8.GetBytes(payload));
            return Task.FromResult(upperCaseHex ? Convert.ToHexString(mac) : Convert.ToHexStringLower(mac));
        });
    }

    /// <summary>Signs for an HMAC key a scenario already registers (e.g. a shipped scenario's).</summary>
    public static TestKey ForScenarioKey(ApiKeySpec spec) =>
        Hmac(spec.Account, [.. spec.Permissions], [.. spec.IpAllowlist], spec.Secret, spec.ApiKey) with { Spec = spec };

    /// <summary>An Ed25519 key made by <c>openssl genpkey</c>; signatures by <c>openssl pkeyutl -sign -rawin</c>.</summary>
    public static async Task<TestKey> Ed25519Async(TempDir dir, string account = "trader", string[]? permissions = null, string[]? ipAllowlist = null)
    {
        var (privatePath, publicPem) = await GenerateAsync(dir, "ed25519", ["-algorithm", "ed25519"]);
        var spec = Spec(NewApiKey(), account, KeyType.Ed25519, permissions, ipAllowlist) with { PublicKeyPem = publicPem };
        return new TestKey(spec, payload => OpensslSignAsync(dir, payload, (input, output) => ["pkeyutl", "-sign", "-rawin", "-inkey", privatePath, "-in", input, "-out", output]));
    }

    /// <summary>An RSA-2048 key made by <c>openssl genpkey</c>; signatures by <c>openssl dgst -sha256 -sign</c> (PKCS#1 v1.5).</summary>
    public static async Task<TestKey> RsaAsync(TempDir dir, string account = "trader", string[]? permissions = null, string[]? ipAllowlist = null)
    {
        var (privatePath, publicPem) = await GenerateAsync(dir, "rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]);
        var spec = Spec(NewApiKey(), account, KeyType.Rsa, permissions, ipAllowlist) with { PublicKeyPem = publicPem };
        return new TestKey(spec, payload => OpensslSignAsync(dir, payload, (input, output) => ["dgst", "-sha256", "-sign", privatePath, "-out", output, input]));
    }

    private static ApiKeySpec Spec(string apiKey, string account, KeyType type, string[]? permissions, string[]? ipAllowlist) => new()
    {
        ApiKey = apiKey,
        Account = account,
        Type = type,
        Permissions = permissions ?? ["reading", "spotTrading"],
        IpAllowlist = ipAllowlist ?? [],
    };

    private static async Task<(string PrivatePath, string PublicPem)> GenerateAsync(TempDir dir, string name, string[] algorithm)
    {
        var privatePath = dir.File(name + ".key");
        var publicPath = dir.File(name + ".pub");
        await Run.OpensslOkAsync(["genpkey", .. algorithm, "-out", privatePath]);
        await Run.OpensslOkAsync("pkey", "-in", privatePath, "-pubout", "-out", publicPath);
        return (privatePath, await File.ReadAllTextAsync(publicPath));
    }

    private static async Task<string> OpensslSignAsync(TempDir dir, string payload, Func<string, string, string[]> command)
    {
        var id = Guid.NewGuid().ToString("N");
        var input = dir.Write(id + ".in", payload);
        var output = dir.File(id + ".sig");
        await Run.OpensslOkAsync(command(input, output));
        return Uri.EscapeDataString(Convert.ToBase64String(await File.ReadAllBytesAsync(output)));
    }
}
