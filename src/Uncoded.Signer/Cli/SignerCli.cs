using System.CommandLine;
using System.Security.Cryptography;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Backends.Pkcs11;
using Uncoded.Signer.Backends.SealedFile;
using Uncoded.Signer.Secrets;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Cli;

/// <summary>
/// The <c>uncoded-signer</c> binary. Exit codes: 0 success, 1 usage error, 2 bad input,
/// 3 configuration or key problem (wrong passphrase, tampered file, bad permissions),
/// 4 device unavailable, 5 audit chain broken, 6 audit history incomplete (verify-audit), 70 internal error.
/// </summary>
internal static class SignerCli
{
    public static Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("Uncoded signer: holds an exchange key and signs Binance requests over a Unix socket.");
        root.Subcommands.Add(ServeCommand());
        root.Subcommands.Add(KeygenCommand());
        root.Subcommands.Add(SealCommand());
        root.Subcommands.Add(PubkeyCommand());
        root.Subcommands.Add(Pkcs11CliOptions.SealIntoTokenCommand(Guarded));
        root.Subcommands.Add(VerifyAuditCommand());
        return root.Parse(args).InvokeAsync();
    }

    private static Command ServeCommand()
    {
        var config = new Option<FileInfo>("--config") { Description = "JSON config file (section \"Signer\")", Required = true };
        var command = new Command("serve", "Run the signing sidecar on its Unix socket.") { config };
        command.SetAction((parse, ct) => Guarded(() => Serve.RunAsync(parse.GetValue(config)!, ct)));
        return command;
    }

    private sealed class PassphraseOptions
    {
        public readonly Option<string?> File = new("--passphrase-file") { Description = "file holding the passphrase (mode 0600)" };
        public readonly Option<string?> Env = new("--passphrase-env") { Description = "NAME of an environment variable holding the passphrase" };
        public readonly Option<string?> Credential = new("--passphrase-credential") { Description = "systemd credential name ($CREDENTIALS_DIRECTORY/NAME)" };

        public void AddTo(Command command)
        {
            command.Options.Add(File);
            command.Options.Add(Env);
            command.Options.Add(Credential);
        }

        public SecretSource Source(ParseResult parse)
        {
            var file = parse.GetValue(File);
            var env = parse.GetValue(Env);
            var credential = parse.GetValue(Credential);
            return new SecretSource(file, env, credential, Prompt: file is null && env is null && credential is null);
        }
    }

    private sealed class KdfOptions
    {
        public readonly Option<uint> Memory = new("--kdf-memory-kib") { Description = "Argon2id memory in KiB", DefaultValueFactory = _ => KdfParameters.Default.MemoryKiB };
        public readonly Option<uint> Iterations = new("--kdf-iterations") { Description = "Argon2id passes", DefaultValueFactory = _ => KdfParameters.Default.Iterations };
        public readonly Option<uint> Parallelism = new("--kdf-parallelism") { Description = "Argon2id lanes", DefaultValueFactory = _ => KdfParameters.Default.Parallelism };

        public void AddTo(Command command)
        {
            command.Options.Add(Memory);
            command.Options.Add(Iterations);
            command.Options.Add(Parallelism);
        }

        public KdfParameters Value(ParseResult parse) => new(parse.GetValue(Memory), parse.GetValue(Iterations), parse.GetValue(Parallelism));
    }

    private static Command KeygenCommand()
    {
        var type = new Option<string>("--type") { Description = "ed25519 (recommended by Binance), rsa2048 or rsa4096", Required = true };
        type.AcceptOnlyFromAmong(KeyFactory.GeneratedTypes);
        var output = new Option<string>("--out") { Description = "sealed file to create (never overwritten)" };
        var label = new Option<string>("--label") { Description = "a label stored in the sealed metadata", DefaultValueFactory = _ => "uncoded" };
        var passphrase = new PassphraseOptions();
        var kdf = new KdfOptions();
        var pkcs11 = new Pkcs11CliOptions();
        var command = new Command("keygen", "Generate a new key straight into a sealed file (--out) or inside a PKCS#11 token (--pkcs11-module) and print its public key PEM for Binance.") { type, output, label };
        passphrase.AddTo(command);
        kdf.AddTo(command);
        pkcs11.AddTo(command);
        command.Validators.Add(result =>
        {
            if ((result.GetValue(output) is null) == (result.GetValue(pkcs11.Module) is null))
            {
                result.AddError("give exactly one of --out (sealed file) or --pkcs11-module (key inside a token)");
            }
        });
        command.SetAction((parse, _) => Guarded(() =>
        {
            if (pkcs11.IsGiven(parse))
            {
                Console.Out.Write(Pkcs11CliOptions.GenerateAndDescribe(pkcs11.Settings(parse), parse.GetValue(type)!));
                return Task.FromResult(0);
            }
            using var material = KeyFactory.Generate(parse.GetValue(type)!, parse.GetValue(label)!, DateTimeOffset.UtcNow);
            var pem = SealAndDescribe(material, parse.GetValue(output)!, passphrase.Source(parse), kdf.Value(parse));
            Console.Out.Write(pem);
            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command SealCommand()
    {
        var output = new Option<string>("--out") { Description = "sealed file to create (never overwritten)", Required = true };
        var hmac = new Option<string?>("--hmac-secret-file") { Description = "file holding a Binance HMAC secret key" };
        var pem = new Option<string?>("--private-key-file") { Description = "PEM private key: PKCS#8 (RSA, Ed25519) or PKCS#1 (RSA)" };
        var label = new Option<string>("--label") { Description = "a label stored in the sealed metadata", DefaultValueFactory = _ => "uncoded" };
        var passphrase = new PassphraseOptions();
        var kdf = new KdfOptions();
        var command = new Command("seal", "Import an existing key into a new sealed file. Secrets are read from files, never from arguments.") { output, hmac, pem, label };
        passphrase.AddTo(command);
        kdf.AddTo(command);
        command.Validators.Add(result =>
        {
            if ((result.GetValue(hmac) is null) == (result.GetValue(pem) is null))
            {
                result.AddError("give exactly one of --hmac-secret-file or --private-key-file");
            }
        });
        command.SetAction((parse, _) => Guarded(() =>
        {
            var hmacFile = parse.GetValue(hmac);
            var source = hmacFile ?? parse.GetValue(pem)!;
            var bytes = SecureFiles.ReadPrivate(source, 64 * 1024, hmacFile is null ? "private key file" : "HMAC secret file");
            try
            {
                using var material = hmacFile is null
                    ? KeyFactory.ImportPrivateKeyPem(bytes, parse.GetValue(label)!, DateTimeOffset.UtcNow)
                    : KeyFactory.ImportHmacSecret(bytes, parse.GetValue(label)!, DateTimeOffset.UtcNow);
                var text = SealAndDescribe(material, parse.GetValue(output)!, passphrase.Source(parse), kdf.Value(parse));
                Console.Out.Write(text);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(bytes);
            }
            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command PubkeyCommand()
    {
        var sealedFile = new Option<string>("--sealed-file") { Description = "sealed key file" };
        var passphrase = new PassphraseOptions();
        var pkcs11 = new Pkcs11CliOptions();
        var command = new Command("pubkey", "Print the public key PEM (SubjectPublicKeyInfo) of an RSA or Ed25519 key in a sealed file or a PKCS#11 token.") { sealedFile };
        passphrase.AddTo(command);
        pkcs11.AddTo(command);
        command.Validators.Add(result =>
        {
            if ((result.GetValue(sealedFile) is null) == (result.GetValue(pkcs11.Module) is null))
            {
                result.AddError("give exactly one of --sealed-file or --pkcs11-module");
            }
        });
        command.SetAction((parse, _) => Guarded(() =>
        {
            if (pkcs11.IsGiven(parse))
            {
                Console.Out.Write(Pkcs11CliOptions.PublicKey(pkcs11.Settings(parse)));
                return Task.FromResult(0);
            }
            using var key = SealedFileStore.LoadKey(parse.GetValue(sealedFile)!, passphrase.Source(parse));
            if (key.PublicKeyPem is null)
            {
                throw new SignerException(ErrorKind.InvalidRequest, "NO_PUBLIC_KEY", "this is an HMAC key: it has no public key");
            }
            Console.Out.Write(key.PublicKeyPem);
            return Task.FromResult(0);
        }));
        return command;
    }

    /// <summary>Exit code of verify-audit when the chain is broken.</summary>
    public const int AuditChainBroken = 5;

    private static Command VerifyAuditCommand()
    {
        var log = new Option<FileInfo>("--log") { Description = "the signer's audit log (Signer:Audit:Path)", Required = true };
        var minSeq = new Option<ulong>("--min-seq")
        {
            Description = "also fail if the log ends before this seq (e.g. the highest audit_seq a client journaled): detects records cut off the end",
        };
        var noArchives = new Option<bool>("--no-archives")
        {
            Description = "check this file only, not the archives it continues (the link to the newest archive is then not checked)",
        };
        var allowMissing = new Option<bool>("--allow-missing-archives")
        {
            Description = $"exit 0 when the oldest archives were moved away (retention): check what is here (default: exit {AuditHistoryIncomplete})",
        };
        var command = new Command("verify-audit",
            $"Check the audit log's whole hash chain, through the archives it continues; exit 0 if intact, {AuditChainBroken} at the first bad record, {AuditHistoryIncomplete} if an archive is missing.")
        { log, minSeq, noArchives, allowMissing };
        command.SetAction((parse, _) => Guarded(() => Task.FromResult(
            VerifyAudit(parse.GetValue(log)!, parse.GetValue(minSeq), !parse.GetValue(noArchives), parse.GetValue(allowMissing)))));
        return command;
    }

    /// <summary>Exit code of verify-audit when an archive the chain continues is not next to the log.</summary>
    public const int AuditHistoryIncomplete = 6;

    private static int VerifyAudit(FileInfo log, ulong minSeq, bool withArchives, bool allowMissing)
    {
        Audit.AuditHistory history;
        try
        {
            history = Audit.AuditVerifier.VerifyHistory(log.FullName, withArchives);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SignerException(ErrorKind.InvalidRequest, "AUDIT_UNREADABLE", $"cannot read the audit log or an archive next to '{log.FullName}': {e.Message}");
        }
        var verdict = history.Verdict;
        if (!verdict.Ok)
        {
            Console.Error.WriteLine($"{history.File}: FAILED at {verdict.Message}");
            return AuditChainBroken;
        }
        if ((ulong)verdict.Records < minSeq)
        {
            Console.Error.WriteLine($"{log.FullName}: FAILED: the chain is intact but ends at seq {verdict.Records}, before seq {minSeq}: records were cut off the end");
            return AuditChainBroken;
        }
        if (history.Missing is not null && !allowMissing)
        {
            Console.Error.WriteLine($"{log.FullName}: INCOMPLETE: {Path.GetFileName(history.Files[0])} continues {Path.GetFileName(history.Missing)}, which is not next to it " +
                $"(moved away or deleted): the history up to seq {verdict.Header?.Seq} cannot be checked. Put the archive back, or accept the gap with --allow-missing-archives. " +
                $"What is here is intact: {verdict.Message}");
            return AuditHistoryIncomplete;
        }
        Console.Out.WriteLine($"{log.FullName}: {verdict.Message}");
        if (history.Files.Length > 1)
        {
            Console.Out.WriteLine($"{log.FullName}: files checked, oldest first: {string.Join(", ", history.Files.Select(Path.GetFileName))}");
        }
        if (history.Missing is not null)
        {
            Console.Out.WriteLine($"{log.FullName}: {Path.GetFileName(history.Files[0])} continues {Path.GetFileName(history.Missing)}, which is not next to it (--allow-missing-archives): the history before it is not checked");
        }
        else if (!withArchives && history.Files.Length == 1 && history.Verdict.Header?.ContinuesFile is { } previous)
        {
            Console.Out.WriteLine($"{log.FullName}: continues {previous} (not checked: --no-archives)");
        }
        return 0;
    }

    /// <summary>Seals <paramref name="material"/> to a new file; returns the text to show (public key PEM or a note).</summary>
    private static string SealAndDescribe(KeyMaterial material, string path, SecretSource passphraseSource, KdfParameters kdf)
    {
        var passphrase = passphraseSource.ReadNew("passphrase");
        try
        {
            var sealedBytes = SealedFileFormat.Seal(material, passphrase, kdf);
            SealedFileStore.WriteNew(path, sealedBytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(passphrase);
        }
        Console.Error.WriteLine($"sealed {SignatureEncoding.Name(material.Algorithm)} key to {path} (mode 0600, Argon2id m={kdf.MemoryKiB} KiB t={kdf.Iterations} p={kdf.Parallelism})");
        if (material.Algorithm == KeyAlgorithm.HmacSha256)
        {
            return "";
        }
        var copy = LockedBufferCopy(material);
        using var key = SoftwareKeys.Create(copy);
        return key.PublicKeyPem!;
    }

    private static KeyMaterial LockedBufferCopy(KeyMaterial material) =>
        new(material.Algorithm, material.CreatedAt, material.Label, Hardening.LockedBuffer.CopyOf(material.Secret.Span));

    /// <summary>Turns errors into a message a person can act on and a stable exit code.</summary>
    private static async Task<int> Guarded(Func<Task<int>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (SignerException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message} [{e.Reason}]").ConfigureAwait(false);
            return ExitCode(e.Kind);
        }
        catch (OperationCanceledException)
        {
            return 0;
        }
        catch (Exception e)
        {
            // A bug, not an input problem: one line and exit 70 rather than an unhandled crash (no stack trace, nothing secret in our messages).
            await Console.Error.WriteLineAsync($"error: internal error ({e.GetType().Name}: {e.Message}); please report it [INTERNAL]").ConfigureAwait(false);
            return 70;
        }
    }

    public static int ExitCode(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidRequest or ErrorKind.UnknownKey => 2,
        ErrorKind.Configuration => 3,
        ErrorKind.Unavailable => 4,
        _ => 70,
    };
}
