using System.Security.Cryptography;
using Uncoded.Signer.Secrets;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Backends.SealedFile;

/// <summary>Reads and writes sealed files with the permissions a key file deserves.</summary>
internal static class SealedFileStore
{
    /// <summary>Writes a new sealed file (mode 0600) and never overwrites an existing one.</summary>
    public static void WriteNew(string path, ReadOnlySpan<byte> content) => SecureFiles.WriteNewPrivate(path, content);

    public static KeyMaterial Load(string path, ReadOnlySpan<byte> passphrase)
    {
        var bytes = SecureFiles.ReadPrivate(path, SealedFileFormat.MaxFileLength, "sealed file");
        try
        {
            return SealedFileFormat.Open(bytes, passphrase);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    public static ISigningKey LoadKey(string path, SecretSource passphraseSource)
    {
        var passphrase = passphraseSource.Read("passphrase");
        try
        {
            return SoftwareKeys.Create(Load(path, passphrase));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(passphrase);
        }
    }
}
