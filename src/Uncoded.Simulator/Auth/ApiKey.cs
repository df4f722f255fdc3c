using System.Net;
using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;
using Uncoded.Simulator.Scenarios;

namespace Uncoded.Simulator.Auth;

internal static class ApiKeyFormat
{
    /// <summary>Binance API keys are 64 letters and digits.</summary>
    public static bool IsValid(string? key) => key is { Length: 64 } && key.All(char.IsAsciiLetterOrDigit);
}

/// <summary>What a key may do (the switches of Binance's API management page).</summary>
internal enum Permission
{
    Reading,
    SpotTrading,
    Withdrawals,
    Margin,
    Futures,
    UniversalTransfer,
    InternalTransfer,
    VanillaOptions,
}

/// <summary>A registered API key: its verifier, account, permissions and IP allowlist.</summary>
internal sealed class ApiKey : IDisposable
{
    private readonly byte[]? _hmacSecret;
    private readonly RSA? _rsa;
    private readonly PublicKey? _ed25519;

    private ApiKey(ApiKeySpec spec, long createTime)
    {
        Spec = spec;
        CreateTime = createTime;
        Permissions = spec.Permissions.Select(ParsePermission).ToHashSet();
        IpAllowlist = spec.IpAllowlist.Select(ip => IPAddress.TryParse(ip, out var a) ? a : throw new ScenarioException($"'{ip}' is not an IP address")).ToList();
        switch (spec.Type)
        {
            case KeyType.Hmac:
                _hmacSecret = Encoding.ASCII.GetBytes(spec.Secret!);
                break;
            case KeyType.Rsa:
                _rsa = RSA.Create();
                try
                {
                    _rsa.ImportFromPem(spec.PublicKeyPem);
                }
                catch (ArgumentException e)
                {
                    throw new ScenarioException($"API key {spec.ApiKey}: not an RSA public key PEM ({e.Message})");
                }
                break;
            default:
                if (!PublicKey.TryImport(SignatureAlgorithm.Ed25519, Encoding.ASCII.GetBytes(spec.PublicKeyPem!.Trim() + "\n"), KeyBlobFormat.PkixPublicKeyText, out _ed25519))
                {
                    throw new ScenarioException($"API key {spec.ApiKey}: not an Ed25519 public key PEM");
                }
                break;
        }
    }

    public ApiKeySpec Spec { get; }

    public string Account => Spec.Account;

    public long CreateTime { get; }

    public IReadOnlySet<Permission> Permissions { get; }

    public IReadOnlyList<IPAddress> IpAllowlist { get; }

    public static ApiKey From(ApiKeySpec spec, long createTime) => new(spec, createTime);

    public bool AllowsIp(IPAddress? remote)
    {
        if (IpAllowlist.Count == 0)
        {
            return true;
        }
        if (remote is null)
        {
            return false;
        }
        var ip = remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote;
        return IpAllowlist.Any(ip.Equals);
    }

    /// <summary>
    /// Verifies <paramref name="signature"/> (the decoded value of the signature parameter) over
    /// the exact bytes of <paramref name="payload"/>. HMAC: hex, either case. RSA (PKCS#1 v1.5,
    /// SHA-256) and Ed25519: base64.
    /// </summary>
    public bool Verify(byte[] payload, string signature)
    {
        if (_hmacSecret is not null)
        {
            if (signature.Length != 64 || !signature.All(char.IsAsciiHexDigit))
            {
                return false;
            }
            var expected = HMACSHA256.HashData(_hmacSecret, payload);
            return CryptographicOperations.FixedTimeEquals(expected, Convert.FromHexString(signature));
        }
        var raw = new byte[signature.Length];
        if (!Convert.TryFromBase64String(signature, raw, out var length))
        {
            return false;
        }
        var bytes = raw.AsSpan(0, length);
        try
        {
            return _rsa is not null
                ? _rsa.VerifyData(payload, bytes, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
                : SignatureAlgorithm.Ed25519.Verify(_ed25519!, payload, bytes);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static Permission ParsePermission(string name) => name switch
    {
        "reading" => Permission.Reading,
        "spotTrading" => Permission.SpotTrading,
        "withdrawals" => Permission.Withdrawals,
        "margin" => Permission.Margin,
        "futures" => Permission.Futures,
        "universalTransfer" => Permission.UniversalTransfer,
        "internalTransfer" => Permission.InternalTransfer,
        "vanillaOptions" => Permission.VanillaOptions,
        _ => throw new ScenarioException($"unknown permission '{name}' (reading, spotTrading, withdrawals, margin, futures, universalTransfer, internalTransfer, vanillaOptions)"),
    };

    public void Dispose()
    {
        _rsa?.Dispose();
    }
}
