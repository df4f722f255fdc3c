using Uncoded.Signer.Secrets;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Backends.Pkcs11;

/// <summary>Where a key lives in a PKCS#11 token and how to log in to it (validated, immutable).</summary>
internal sealed record Pkcs11KeySettings(
    string Module,
    string? TokenLabel,
    string? TokenSerial,
    string? KeyLabel,
    string? KeyIdHex,
    SecretSource Pin,
    int Sessions)
{
    public const int MaxSessions = 64;

    public static int DefaultSessions => Math.Clamp(Environment.ProcessorCount, 1, MaxSessions);

    public byte[]? KeyId => KeyIdHex is null ? null : Convert.FromHexString(KeyIdHex);

    /// <summary>"token 'T'" or "token serial S", for messages.</summary>
    public string TokenDescription => TokenLabel is not null ? $"token '{TokenLabel}'" : $"token serial {TokenSerial}";

    public string KeyDescription => (KeyLabel, KeyIdHex) switch
    {
        ({ } l, { } i) => $"key '{l}' (id {i})",
        ({ } l, null) => $"key '{l}'",
        _ => $"key id {KeyIdHex}",
    };

    /// <summary>
    /// Validates the "Pkcs11" block of one key; appends problems, returns null when there are any.
    /// <paramref name="allowPrompt"/>: no PIN source means an interactive prompt (CLI only; serve never prompts).
    /// </summary>
    public static Pkcs11KeySettings? From(Pkcs11Options options, string where, List<string> problems, bool allowPrompt = false)
    {
        var before = problems.Count;
        if (string.IsNullOrWhiteSpace(options.Module) || !Path.IsPathRooted(options.Module))
        {
            problems.Add($"{where}:Module must be the absolute path of the PKCS#11 module (.so)");
        }
        if ((options.TokenLabel is null) == (options.TokenSerial is null))
        {
            problems.Add($"{where} needs exactly one of TokenLabel, TokenSerial");
        }
        if (options.KeyLabel is null && options.KeyId is null)
        {
            problems.Add($"{where} needs KeyLabel, KeyId or both");
        }
        var keyId = NormaliseKeyId(options.KeyId);
        if (options.KeyId is not null && keyId is null)
        {
            problems.Add($"{where}:KeyId must be hex (CKA_ID), e.g. \"01\" or \"a1:b2\"");
        }
        var prompt = allowPrompt && options.PinFile is null && options.PinEnv is null && options.PinCredential is null;
        var pin = new SecretSource(options.PinFile, options.PinEnv, options.PinCredential, prompt);
        if (pin.Problem("PIN") is not null)
        {
            problems.Add($"{where} needs exactly one of PinFile, PinEnv, PinCredential");
        }
        var sessions = options.Sessions ?? DefaultSessions;
        if (sessions is < 1 or > MaxSessions)
        {
            problems.Add($"{where}:Sessions must be between 1 and {MaxSessions} (default: the number of cores)");
        }
        return problems.Count > before
            ? null
            : new Pkcs11KeySettings(options.Module, options.TokenLabel, options.TokenSerial, options.KeyLabel, keyId, pin, sessions);
    }

    /// <summary>Accepts "a1b2", "A1:B2", "0xa1b2"; returns lowercase hex, or null when it is not hex.</summary>
    public static string? NormaliseKeyId(string? value)
    {
        if (value is null)
        {
            return null;
        }
        var hex = value.Replace(":", "", StringComparison.Ordinal);
        if (hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            hex = hex[2..];
        }
        return hex.Length > 0 && hex.Length % 2 == 0 && hex.All(Uri.IsHexDigit) ? hex.ToLowerInvariant() : null;
    }
}
