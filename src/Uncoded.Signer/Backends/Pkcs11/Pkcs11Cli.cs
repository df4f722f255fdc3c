using System.CommandLine;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using Uncoded.Signer.Secrets;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Backends.Pkcs11;

/// <summary>
/// The PKCS#11 options shared by <c>keygen</c>, <c>pubkey</c> and <c>seal-into-token</c>. They live
/// next to the backend so that the CLI file only wires them in.
/// </summary>
internal sealed class Pkcs11CliOptions
{
    public readonly Option<string?> Module = new("--pkcs11-module") { Description = "PKCS#11 module (.so) holding the key: generate/read the key in that token instead of a sealed file" };
    public readonly Option<string?> TokenLabel = new("--token-label") { Description = "token label (or --token-serial)" };
    public readonly Option<string?> TokenSerial = new("--token-serial") { Description = "token serial number" };
    public readonly Option<string?> KeyLabel = new("--key-label") { Description = "CKA_LABEL of the key" };
    public readonly Option<string?> KeyId = new("--key-id") { Description = "CKA_ID of the key, hex (default for new keys: 16 random bytes)" };
    public readonly Option<string?> PinFile = new("--pin-file") { Description = "file holding the token's user PIN (mode 0600)" };
    public readonly Option<string?> PinEnv = new("--pin-env") { Description = "NAME of an environment variable holding the PIN" };
    public readonly Option<string?> PinCredential = new("--pin-credential") { Description = "systemd credential name holding the PIN" };

    public void AddTo(Command command)
    {
        foreach (var option in new[] { Module, TokenLabel, TokenSerial, KeyLabel, KeyId, PinFile, PinEnv, PinCredential })
        {
            command.Options.Add(option);
        }
    }

    public bool IsGiven(ParseResult parse) => parse.GetValue(Module) is not null;

    /// <summary>The key's settings; no PIN option means an interactive prompt. Messages name the CLI options.</summary>
    public Pkcs11KeySettings Settings(ParseResult parse)
    {
        var options = new Pkcs11Options
        {
            Module = Path.GetFullPath(parse.GetValue(Module)!),
            TokenLabel = parse.GetValue(TokenLabel),
            TokenSerial = parse.GetValue(TokenSerial),
            KeyLabel = parse.GetValue(KeyLabel),
            KeyId = parse.GetValue(KeyId),
            PinFile = parse.GetValue(PinFile),
            PinEnv = parse.GetValue(PinEnv),
            PinCredential = parse.GetValue(PinCredential),
            Sessions = 1,
        };
        var problems = new List<string>();
        var settings = Pkcs11KeySettings.From(options, "the key", problems, allowPrompt: true);
        if (settings is null)
        {
            // The problems name the config keys; the options map one to one (TokenLabel = --token-label, ...).
            throw new SignerException(ErrorKind.InvalidRequest, "BAD_PKCS11_OPTIONS",
                $"PKCS#11 options: {string.Join("; ", problems)} (options: --token-label|--token-serial, --key-label and/or --key-id, --pin-file|--pin-env|--pin-credential)");
        }
        return settings;
    }

    public static string GenerateAndDescribe(Pkcs11KeySettings settings, string type) =>
        Pkcs11Admin.Generate(settings, type, NullLogger.Instance);

    public static string PublicKey(Pkcs11KeySettings settings) => Pkcs11Admin.PublicKey(settings, NullLogger.Instance);

    /// <summary><c>seal-into-token</c>: imports a Binance HMAC secret into a token (HSMs, SoftHSM; PIV tokens have no HMAC).</summary>
    public static Command SealIntoTokenCommand(Func<Func<Task<int>>, Task<int>> guarded)
    {
        var hmac = new Option<string>("--hmac-secret-file") { Description = "file holding a Binance HMAC secret key (mode 0600)", Required = true };
        var pkcs11 = new Pkcs11CliOptions();
        pkcs11.Module.Required = true;
        var command = new Command("seal-into-token",
            "Import an HMAC secret into a PKCS#11 token as a sensitive, non-extractable generic secret. PIV tokens (YubiKey) cannot hold HMAC keys.") { hmac };
        pkcs11.AddTo(command);
        command.SetAction((parse, _) => guarded(() =>
        {
            var settings = pkcs11.Settings(parse);
            var bytes = SecureFiles.ReadPrivate(parse.GetValue(hmac)!, 64 * 1024, "HMAC secret file");
            try
            {
                // Same validation (printable ASCII, one trailing newline ignored) as the sealed-file import.
                using var material = KeyFactory.ImportHmacSecret(bytes, settings.KeyLabel ?? "", DateTimeOffset.UtcNow);
                Pkcs11Admin.ImportHmacSecret(settings, material.Secret.Span, NullLogger.Instance);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(bytes);
            }
            return Task.FromResult(0);
        }));
        return command;
    }
}
