using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Uncoded.Signer.Hardening;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Backends.SealedFile;

/// <summary>
/// The sealed-file byte format (docs/sealed-file-format.md is the normative description):
/// a header authenticated as AES-GCM associated data, then AES-256-GCM ciphertext and tag.
/// Argon2id(passphrase, salt) gives 64 bytes: the AES key, then a key whose HMAC of a fixed
/// string tells a wrong passphrase apart from a damaged file.
/// </summary>
internal static class SealedFileFormat
{
    public static ReadOnlySpan<byte> Magic => "UNCSEAL1"u8;

    public const byte Version = 1;
    public const byte KdfArgon2id = 1;
    public const int SaltLength = 16;
    public const int NonceLength = 12;
    public const int CheckLength = 16;
    public const int DigestLength = 32;
    public const int TagLength = 16;
    // magic 8, version 1, kdf 1, m 4, t 4, p 4, salt 16, nonce 12, check 16
    public const int DigestedLength = 8 + 1 + 1 + 4 + 4 + 4 + SaltLength + NonceLength + CheckLength;
    public const int HeaderLength = DigestedLength + DigestLength + 4;
    public const int MaxFileLength = 64 * 1024;
    public const int MaxLabelBytes = 256;

    private static ReadOnlySpan<byte> CheckLabel => "uncoded-sealed-v1 passphrase check"u8;

    public static byte[] Seal(KeyMaterial material, ReadOnlySpan<byte> passphrase, KdfParameters kdf)
    {
        if (kdf.Problem() is { } problem)
        {
            throw new SignerException(ErrorKind.InvalidRequest, "BAD_KDF_PARAMETERS", $"Argon2id parameters: {problem}");
        }
        if (passphrase.IsEmpty)
        {
            throw new SignerException(ErrorKind.InvalidRequest, "EMPTY_PASSPHRASE", "the passphrase is empty");
        }
        var label = Encoding.UTF8.GetBytes(material.Label);
        if (label.Length > MaxLabelBytes)
        {
            throw new SignerException(ErrorKind.InvalidRequest, "BAD_LABEL", $"the label is longer than {MaxLabelBytes} bytes");
        }
        var plainLength = 1 + 8 + 2 + label.Length + 4 + material.Secret.Length;
        var file = new byte[HeaderLength + plainLength + TagLength];
        var header = file.AsSpan(0, HeaderLength);
        Magic.CopyTo(header);
        header[8] = Version;
        header[9] = KdfArgon2id;
        BinaryPrimitives.WriteUInt32BigEndian(header[10..], kdf.MemoryKiB);
        BinaryPrimitives.WriteUInt32BigEndian(header[14..], kdf.Iterations);
        BinaryPrimitives.WriteUInt32BigEndian(header[18..], kdf.Parallelism);
        var salt = header.Slice(22, SaltLength);
        var nonce = header.Slice(22 + SaltLength, NonceLength);
        RandomNumberGenerator.Fill(salt);
        RandomNumberGenerator.Fill(nonce);

        var derived = Derive(passphrase, salt, kdf);
        var plain = new byte[plainLength];
        try
        {
            CheckValue(derived.AsSpan(32), header.Slice(22 + SaltLength + NonceLength, CheckLength));
            SHA256.HashData(header[..DigestedLength], header.Slice(DigestedLength, DigestLength));
            BinaryPrimitives.WriteUInt32BigEndian(header[(DigestedLength + DigestLength)..], (uint)plainLength);

            plain[0] = (byte)material.Algorithm;
            BinaryPrimitives.WriteInt64BigEndian(plain.AsSpan(1), material.CreatedAt.ToUnixTimeMilliseconds());
            BinaryPrimitives.WriteUInt16BigEndian(plain.AsSpan(9), (ushort)label.Length);
            label.CopyTo(plain, 11);
            BinaryPrimitives.WriteUInt32BigEndian(plain.AsSpan(11 + label.Length), (uint)material.Secret.Length);
            material.Secret.Span.CopyTo(plain.AsSpan(15 + label.Length));

            using var aes = new AesGcm(derived.AsSpan(0, 32), TagLength);
            aes.Encrypt(nonce, plain, file.AsSpan(HeaderLength, plainLength), file.AsSpan(HeaderLength + plainLength), header);
            return file;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(derived);
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    public static KeyMaterial Open(ReadOnlySpan<byte> file, ReadOnlySpan<byte> passphrase)
    {
        if (file.Length < HeaderLength + TagLength || !file.StartsWith(Magic))
        {
            throw Tampered("it is not an Uncoded sealed file (bad magic or too short)");
        }
        var header = file[..HeaderLength];
        if (header[8] != Version || header[9] != KdfArgon2id)
        {
            throw Tampered($"unsupported format version {header[8]} / KDF {header[9]}");
        }
        Span<byte> digest = stackalloc byte[DigestLength];
        SHA256.HashData(header[..DigestedLength], digest);
        if (!CryptographicOperations.FixedTimeEquals(digest, header.Slice(DigestedLength, DigestLength)))
        {
            throw Tampered("the header digest does not match");
        }
        var plainLength = BinaryPrimitives.ReadUInt32BigEndian(header[(DigestedLength + DigestLength)..]);
        if ((long)file.Length != HeaderLength + (long)plainLength + TagLength)
        {
            throw Tampered("the file length does not match its header (truncated or extended)");
        }
        var kdf = new KdfParameters(
            BinaryPrimitives.ReadUInt32BigEndian(header[10..]),
            BinaryPrimitives.ReadUInt32BigEndian(header[14..]),
            BinaryPrimitives.ReadUInt32BigEndian(header[18..]));
        if (kdf.Problem() is { } problem)
        {
            throw Tampered($"Argon2id parameters out of bounds ({problem})");
        }
        if (passphrase.IsEmpty)
        {
            throw new SignerException(ErrorKind.Configuration, "EMPTY_PASSPHRASE", "the passphrase is empty");
        }
        var salt = header.Slice(22, SaltLength);
        var nonce = header.Slice(22 + SaltLength, NonceLength);
        var derived = Derive(passphrase, salt, kdf);
        var plain = new byte[plainLength];
        try
        {
            Span<byte> check = stackalloc byte[CheckLength];
            CheckValue(derived.AsSpan(32), check);
            if (!CryptographicOperations.FixedTimeEquals(check, header.Slice(22 + SaltLength + NonceLength, CheckLength)))
            {
                // The header digest is not keyed: a header whose salt, KDF or check fields were
                // changed (and its digest recomputed) looks exactly like a wrong passphrase.
                throw new SignerException(ErrorKind.Configuration, "WRONG_PASSPHRASE",
                    "wrong passphrase for the sealed file (or its header's salt, KDF or check fields were altered)");
            }
            using var aes = new AesGcm(derived.AsSpan(0, 32), TagLength);
            try
            {
                aes.Decrypt(nonce, file.Slice(HeaderLength, (int)plainLength), file[^TagLength..], plain, header);
            }
            catch (AuthenticationTagMismatchException)
            {
                throw Tampered("authentication failed (the passphrase is right, the content was altered)");
            }
            return ParsePlaintext(plain);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(derived);
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    private static KeyMaterial ParsePlaintext(ReadOnlySpan<byte> plain)
    {
        if (plain.Length < 15)
        {
            throw Tampered("the plaintext is too short");
        }
        var algorithm = (KeyAlgorithm)plain[0];
        if (!Enum.IsDefined(algorithm))
        {
            throw Tampered($"unknown key type {plain[0]}");
        }
        var createdMs = BinaryPrimitives.ReadInt64BigEndian(plain[1..]);
        if (createdMs < DateTimeOffset.MinValue.ToUnixTimeMilliseconds() || createdMs > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            throw new SignerException(ErrorKind.Configuration, "BAD_KEY_MATERIAL", "the sealed key's creation time is out of range");
        }
        var created = DateTimeOffset.FromUnixTimeMilliseconds(createdMs);
        int labelLength = BinaryPrimitives.ReadUInt16BigEndian(plain[9..]);
        if (plain.Length < 15 + labelLength)
        {
            throw Tampered("the label length is inconsistent");
        }
        var label = Encoding.UTF8.GetString(plain.Slice(11, labelLength));
        var secretLength = BinaryPrimitives.ReadUInt32BigEndian(plain[(11 + labelLength)..]);
        if (plain.Length != 15 + labelLength + (long)secretLength || secretLength == 0)
        {
            throw Tampered("the secret length is inconsistent");
        }
        return new KeyMaterial(algorithm, created, label, LockedBuffer.CopyOf(plain[(15 + labelLength)..]));
    }

    private static byte[] Derive(ReadOnlySpan<byte> passphrase, ReadOnlySpan<byte> salt, KdfParameters kdf)
    {
        // Argon2idKdf keeps its working memory (from which the output could be recomputed) in
        // native memory it clears, and wipes its hash inputs; the caller zeroes the result.
        // Refuse before allocating what this process cannot have (a container's memory limit
        // included): an out-of-memory halfway through Argon2 would take the process down.
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if ((long)kdf.MemoryKiB * 1024 > available / 4 * 3)
        {
            throw new SignerException(ErrorKind.Configuration, "KDF_MEMORY_UNAVAILABLE",
                $"the sealed file asks Argon2id for {kdf.MemoryKiB / 1024} MiB, more than this process can use ({available / 4 * 3 / 1024 / 1024} MiB)");
        }
        var derived = new byte[64];
        try
        {
            Argon2idKdf.Hash(passphrase, salt, checked((int)kdf.MemoryKiB), checked((int)kdf.Iterations), checked((int)kdf.Parallelism), derived);
            return derived;
        }
        catch (Exception e) when (e is OutOfMemoryException || e is AggregateException { InnerException: OutOfMemoryException })
        {
            throw new SignerException(ErrorKind.Configuration, "KDF_MEMORY_UNAVAILABLE",
                $"Argon2id ran out of memory deriving with m={kdf.MemoryKiB / 1024} MiB");
        }
    }

    private static void CheckValue(ReadOnlySpan<byte> checkKey, Span<byte> destination)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(checkKey, CheckLabel, mac);
        mac[..CheckLength].CopyTo(destination);
        CryptographicOperations.ZeroMemory(mac);
    }

    private static SignerException Tampered(string detail) =>
        new(ErrorKind.Configuration, "SEALED_FILE_TAMPERED", $"the sealed file is damaged or was tampered with: {detail}");
}
