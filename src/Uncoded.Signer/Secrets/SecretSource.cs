using System.Security.Cryptography;
using System.Text;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Secrets;

/// <summary>
/// Where a passphrase or PIN comes from: a file (compose/systemd secrets), the *name* of an
/// environment variable, a systemd credential (<c>$CREDENTIALS_DIRECTORY/name</c>), or an
/// interactive prompt without echo. Exactly one source; the secret is never an argument.
/// </summary>
internal sealed record SecretSource(string? File = null, string? Env = null, string? Credential = null, bool Prompt = false)
{
    public const int MaxLength = 4096;

    public string? Problem(string what)
    {
        var count = (File is null ? 0 : 1) + (Env is null ? 0 : 1) + (Credential is null ? 0 : 1) + (Prompt ? 1 : 0);
        return count == 1 ? null : $"give exactly one {what} source (file, environment variable name, systemd credential or prompt)";
    }

    /// <summary>Returns the secret bytes (UTF-8, one trailing newline removed). The caller zeroes them.</summary>
    public byte[] Read(string what)
    {
        if (Problem(what) is { } problem)
        {
            throw new SignerException(ErrorKind.Configuration, "NO_SECRET_SOURCE", problem);
        }
        if (File is not null)
        {
            return FromFile(File, what);
        }
        if (Credential is not null)
        {
            var dir = Environment.GetEnvironmentVariable("CREDENTIALS_DIRECTORY");
            if (string.IsNullOrEmpty(dir))
            {
                throw new SignerException(ErrorKind.Configuration, "NO_CREDENTIALS_DIRECTORY",
                    $"{what} credential '{Credential}' requested but $CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the systemd unit)");
            }
            if (Credential.Contains('/') || Credential is "." or "..")
            {
                throw new SignerException(ErrorKind.Configuration, "BAD_CREDENTIAL_NAME", $"bad credential name '{Credential}'");
            }
            return FromFile(Path.Combine(dir, Credential), what);
        }
        if (Env is not null)
        {
            var value = Environment.GetEnvironmentVariable(Env);
            if (string.IsNullOrEmpty(value))
            {
                throw new SignerException(ErrorKind.Configuration, "SECRET_ENV_MISSING",
                    $"environment variable '{Env}' (named as the {what} source) is not set or empty");
            }
            return Encoding.UTF8.GetBytes(value);
        }
        return FromPrompt(what, $"Enter {what}: ");
    }

    /// <summary>
    /// A new secret (keygen, seal): like <see cref="Read"/>, but a prompt asks twice and refuses two
    /// different answers, so a typo cannot lock a new key away. The caller zeroes the result.
    /// </summary>
    public byte[] ReadNew(string what)
    {
        if (!Prompt || Problem(what) is not null)
        {
            return Read(what);
        }
        var first = FromPrompt(what, $"Enter new {what}: ");
        var again = FromPrompt(what, $"Repeat the {what}: ");
        try
        {
            if (!CryptographicOperations.FixedTimeEquals(first, again))
            {
                throw new SignerException(ErrorKind.Configuration, "SECRET_MISMATCH", $"the two {what}s differ; nothing was written");
            }
            return first;
        }
        catch
        {
            CryptographicOperations.ZeroMemory(first);
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(again);
        }
    }

    private static byte[] FromFile(string path, string what)
    {
        var raw = SecureFiles.ReadPrivate(path, MaxLength, $"{what} file");
        try
        {
            var trimmed = KeyFactory.TrimNewline(raw);
            if (trimmed.IsEmpty)
            {
                throw new SignerException(ErrorKind.Configuration, "EMPTY_SECRET", $"{what} file '{path}' is empty");
            }
            return trimmed.ToArray();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
        }
    }

    private static byte[] FromPrompt(string what, string prompt)
    {
        if (Console.IsInputRedirected)
        {
            throw new SignerException(ErrorKind.Configuration, "NO_SECRET_SOURCE",
                $"no {what} source given and standard input is not a terminal; pass --{what.ToLowerInvariant()}-file (or the -env/-credential form)");
        }
        Console.Error.Write(prompt);
        var chars = new char[MaxLength];
        var count = 0;
        try
        {
            while (true)
            {
                var key = Console.ReadKey(intercept: true);
                if (key.Key == ConsoleKey.Enter)
                {
                    break;
                }
                if (key.Key == ConsoleKey.Backspace)
                {
                    count = Math.Max(0, count - 1);
                    continue;
                }
                if (count < chars.Length)
                {
                    chars[count++] = key.KeyChar;
                }
            }
            Console.Error.WriteLine();
            if (count == 0)
            {
                throw new SignerException(ErrorKind.Configuration, "EMPTY_SECRET", $"the {what} is empty");
            }
            return Encoding.UTF8.GetBytes(chars, 0, count);
        }
        finally
        {
            Array.Clear(chars);
        }
    }

    public override string ToString() =>
        File is not null ? $"file {File}" : Credential is not null ? $"credential {Credential}" : Env is not null ? $"env {Env}" : "prompt";
}
