using System.Collections.Frozen;
using Microsoft.Extensions.Configuration;
using Uncoded.Signer.Backends.Pkcs11;
using Uncoded.Signer.Guards;
using Uncoded.Signer.Hardening;
using Uncoded.Signer.Secrets;

namespace Uncoded.Signer.Service;

/// <summary>The validated, immutable configuration the signer runs with.</summary>
internal sealed record SignerSettings(
    string SocketPath,
    FrozenSet<uint> AllowedUids,
    FrozenSet<uint> AllowedGids,
    FrozenDictionary<string, KeySettings> Keys,
    string AuditPath,
    string StateDirectory,
    int MaxRefusalsPerMinutePerPeer = 600,
    long AuditRotateAtBytes = SignerSettings.DefaultRotateAtBytes)
{
    public const long DefaultRotateAtBytes = 256L * 1024 * 1024;
    public const long MinRotateAtBytes = 64 * 1024;
    public static readonly string[] KnownRootSections = ["Signer", "Logging"];

    public static SignerSettings From(IConfiguration configuration)
    {
        var problems = new List<string>();
        foreach (var section in configuration.GetChildren())
        {
            if (!KnownRootSections.Contains(section.Key, StringComparer.OrdinalIgnoreCase))
            {
                problems.Add($"unknown top-level setting '{section.Key}' (expected: {string.Join(", ", KnownRootSections)})");
            }
        }
        UnknownSettings.Find(configuration.GetSection("Signer"), typeof(SignerOptions), problems);
        UnknownSettings.FindInLogging(configuration.GetSection("Logging"), problems);
        if (problems.Count > 0)
        {
            // Binding would stop at the first unknown setting with the binder's own text.
            throw new SignerException(ErrorKind.Configuration, "BAD_CONFIG", "configuration: " + string.Join("; ", problems));
        }
        SignerOptions options;
        try
        {
            options = configuration.GetSection("Signer").Get<SignerOptions>(o => o.ErrorOnUnknownConfiguration = true) ?? new SignerOptions();
        }
        catch (InvalidOperationException e)
        {
            // The binder nests the useful part (which key, which value) in inner exceptions.
            var messages = new List<string>();
            for (Exception? inner = e; inner is not null; inner = inner.InnerException)
            {
                messages.Add(inner.Message);
            }
            throw new SignerException(ErrorKind.Configuration, "BAD_CONFIG", $"configuration: {string.Join(": ", messages.Distinct())}");
        }
        if (string.IsNullOrWhiteSpace(options.SocketPath) || !Path.IsPathRooted(options.SocketPath))
        {
            problems.Add("Signer:SocketPath must be an absolute path");
        }
        else if (System.Text.Encoding.UTF8.GetByteCount(options.SocketPath) > 107)
        {
            problems.Add("Signer:SocketPath is longer than a Unix socket path may be (107 bytes)");
        }
        if (options.Keys.Count == 0)
        {
            problems.Add("Signer:Keys is empty: configure at least one key");
        }
        var keys = new Dictionary<string, KeySettings>(StringComparer.Ordinal);
        foreach (var (id, key) in options.Keys)
        {
            var where = $"Signer:Keys:{id}";
            if (string.IsNullOrWhiteSpace(key.ApiKey))
            {
                problems.Add($"{where}:ApiKey is required");
            }
            var guard = GuardSettings.From(key.Guard, $"{where}:Guard", problems);
            if ((key.SealedFile is null) == (key.Pkcs11 is null))
            {
                problems.Add($"{where} needs exactly one backend: SealedFile or Pkcs11");
                continue;
            }
            if (key.Pkcs11 is not null)
            {
                if (Pkcs11KeySettings.From(key.Pkcs11, $"{where}:Pkcs11", problems) is { } pkcs11)
                {
                    keys[id] = new KeySettings(id, key.ApiKey, "", new SecretSource(), guard, pkcs11);
                }
                continue;
            }
            var sealedFile = key.SealedFile!;
            if (string.IsNullOrWhiteSpace(sealedFile.Path))
            {
                problems.Add($"{where}:SealedFile:Path is required");
            }
            var source = new SecretSource(sealedFile.PassphraseFile, sealedFile.PassphraseEnv, sealedFile.PassphraseCredential);
            if (source.Problem("passphrase") is not null)
            {
                problems.Add($"{where}:SealedFile needs exactly one of PassphraseFile, PassphraseEnv, PassphraseCredential");
            }
            keys[id] = new KeySettings(id, key.ApiKey, sealedFile.Path, source, guard);
        }
        foreach (var (name, value) in new[] { ("Signer:Audit:Path", options.Audit.Path), ("Signer:StateDirectory", options.StateDirectory) })
        {
            if (string.IsNullOrWhiteSpace(value) || !Path.IsPathRooted(value))
            {
                problems.Add($"{name} must be an absolute path");
            }
        }
        if (options.Audit.MaxRefusalsPerMinutePerPeer is < 1 or > 1_000_000)
        {
            problems.Add($"Signer:Audit:MaxRefusalsPerMinutePerPeer must be between 1 and 1000000 (is {options.Audit.MaxRefusalsPerMinutePerPeer})");
        }
        if (options.Audit.RotateAtBytes != 0 && options.Audit.RotateAtBytes < MinRotateAtBytes)
        {
            problems.Add($"Signer:Audit:RotateAtBytes must be 0 (never rotate) or at least {MinRotateAtBytes} (is {options.Audit.RotateAtBytes})");
        }
        if (problems.Count > 0)
        {
            throw new SignerException(ErrorKind.Configuration, "BAD_CONFIG", "configuration: " + string.Join("; ", problems));
        }
        var uids = options.AllowedPeers.Uids.ToFrozenSet();
        var gids = options.AllowedPeers.Gids.ToFrozenSet();
        if (uids.Count == 0 && gids.Count == 0)
        {
            uids = new[] { Libc.getuid() }.ToFrozenSet();
        }
        return new SignerSettings(options.SocketPath, uids, gids, keys.ToFrozenDictionary(StringComparer.Ordinal),
            options.Audit.Path, options.StateDirectory, options.Audit.MaxRefusalsPerMinutePerPeer, options.Audit.RotateAtBytes);
    }
}

/// <summary>One key. A PKCS#11 key has <see cref="Pkcs11"/> set (and no sealed file path or passphrase).</summary>
internal sealed record KeySettings(string Id, string ApiKey, string SealedFilePath, SecretSource Passphrase, GuardSettings Guard,
    Pkcs11KeySettings? Pkcs11 = null)
{
    public string BackendName => Pkcs11 is null ? "sealed file" : $"PKCS#11 {Pkcs11.TokenDescription}, {Pkcs11.Sessions} session{(Pkcs11.Sessions == 1 ? "" : "s")}";
}
