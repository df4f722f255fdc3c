using System.Text;
using Konscious.Security.Cryptography;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Backends.SealedFile;
using Uncoded.Signer.Service;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Unit;

public sealed class SealedFileTests
{
    private static readonly byte[] Passphrase = Encoding.UTF8.GetBytes(TestKeys.Passphrase);

    private static byte[] SealHmac(KdfParameters? kdf = null)
    {
        using var material = KeyFactory.ImportHmacSecret(Encoding.ASCII.GetBytes(TestKeys.BinanceExampleSecret), "label-é", DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123));
        return SealedFileFormat.Seal(material, Passphrase, kdf ?? TestKeys.FastKdf);
    }

    [Fact]
    public void Open_RightPassphrase_RoundTripsSecretAndMetadata()
    {
        using var material = SealedFileFormat.Open(SealHmac(), Passphrase);
        Assert.Equal(KeyAlgorithm.HmacSha256, material.Algorithm);
        Assert.Equal("label-é", material.Label);
        Assert.Equal(1_700_000_000_123, material.CreatedAt.ToUnixTimeMilliseconds());
        Assert.Equal(TestKeys.BinanceExampleSecret, Encoding.ASCII.GetString(material.Secret.Span));
    }

    [Fact]
    public void Open_DefaultRfc9106Costs_RoundTrips()
    {
        var file = SealHmac(KdfParameters.Default);
        Assert.Equal(64u * 1024, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(10)));
        Assert.Equal(3u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(14)));
        Assert.Equal(4u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(18)));
        using var material = SealedFileFormat.Open(file, Passphrase);
        Assert.Equal(TestKeys.BinanceExampleSecret, Encoding.ASCII.GetString(material.Secret.Span));
    }

    [Fact]
    public void Open_WrongPassphrase_SaysWrongPassphrase()
    {
        var e = Assert.Throws<SignerException>(() => SealedFileFormat.Open(SealHmac(), "Correct horse battery staple"u8));
        Assert.Equal("WRONG_PASSPHRASE", e.Reason);
        Assert.Equal(ErrorKind.Configuration, e.Kind);
    }

    [Fact]
    public void Open_OneFlippedByteAnywhere_IsDetectedAndNeverYieldsKey()
    {
        var file = SealHmac();
        var reasons = new HashSet<string>();
        for (var i = 0; i < file.Length; i++)
        {
            var copy = (byte[])file.Clone();
            copy[i] ^= 0x01;
            var e = Assert.Throws<SignerException>(() => SealedFileFormat.Open(copy, Passphrase));
            reasons.Add(e.Reason);
            // Damage to the ciphertext or tag (after the header) is always reported as tampering,
            // never as a wrong passphrase.
            if (i >= SealedFileFormat.HeaderLength)
            {
                Assert.Equal("SEALED_FILE_TAMPERED", e.Reason);
            }
        }
        Assert.Equal(["SEALED_FILE_TAMPERED"], reasons);
    }

    [Fact]
    public void Open_TruncatedOrExtended_IsTampered()
    {
        var file = SealHmac();
        Assert.Equal("SEALED_FILE_TAMPERED", Assert.Throws<SignerException>(() => SealedFileFormat.Open(file[..^1], Passphrase)).Reason);
        Assert.Equal("SEALED_FILE_TAMPERED", Assert.Throws<SignerException>(() => SealedFileFormat.Open([.. file, 0], Passphrase)).Reason);
        Assert.Equal("SEALED_FILE_TAMPERED", Assert.Throws<SignerException>(() => SealedFileFormat.Open([], Passphrase)).Reason);
    }

    [Fact]
    public void Open_HugeKdfCostInCraftedHeader_RefusedBeforeDeriving()
    {
        var file = SealHmac();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(10), uint.MaxValue);
        // Recompute the header digest, as an attacker would, so only the bounds check can stop it.
        System.Security.Cryptography.SHA256.HashData(file.AsSpan(0, SealedFileFormat.DigestedLength), file.AsSpan(SealedFileFormat.DigestedLength, 32));
        var e = Assert.Throws<SignerException>(() => SealedFileFormat.Open(file, Passphrase));
        Assert.Contains("out of bounds", e.Message);
    }

    [Fact]
    public void Open_KdfCostWithinEachBoundButOverTheBudget_RefusedBeforeDeriving()
    {
        // 2 GiB × 64 passes: each within its own bound, together minutes of work per load.
        var file = WithKdf(SealHmac(), memoryKiB: 2u * 1024 * 1024, iterations: 64);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<SignerException>(() => SealedFileFormat.Open(file, Passphrase));
        Assert.Equal("SEALED_FILE_TAMPERED", e.Reason);
        Assert.Contains("memory × iterations must be at most", e.Message, StringComparison.Ordinal);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"took {started.Elapsed}");
    }

    [Fact]
    public async Task Load_KdfMemoryOverWhatTheProcessMayUse_ClearErrorNotACrash()
    {
        // A signer in a container with a 256 MiB heap limit, handed a header asking for 1 GiB.
        using var dir = new TempDir();
        var (path, passphrasePath) = TestKeys.SealHmac(dir, "k.sealed");
        await File.WriteAllBytesAsync(path, WithKdf(await File.ReadAllBytesAsync(path), memoryKiB: 1024 * 1024, iterations: 1));
        var result = await Run.DotnetAsync(Repo.SignerDll, ["pubkey", "--sealed-file", path, "--passphrase-file", passphrasePath],
            env: new Dictionary<string, string?> { ["DOTNET_GCHeapHardLimit"] = "0x10000000" });
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("KDF_MEMORY_UNAVAILABLE", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("asks Argon2id for 1024 MiB, more than this process can use", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Seal_LabelOver256Bytes_Refused()
    {
        using var material = KeyFactory.ImportHmacSecret(Encoding.ASCII.GetBytes(TestKeys.BinanceExampleSecret), new string('a', 257), DateTimeOffset.UnixEpoch);
        var e = Assert.Throws<SignerException>(() => SealedFileFormat.Seal(material, Passphrase, TestKeys.FastKdf));
        Assert.Equal("BAD_LABEL", e.Reason);
    }

    [Fact]
    public void Open_CreatedAtOutsideTheDateRange_BadKeyMaterial_NotACrash()
    {
        // Authentic (right passphrase, valid tag) but written by other software: created-at = 2^63 - 1.
        var secret = Encoding.ASCII.GetBytes(TestKeys.BinanceExampleSecret);
        var plain = new byte[1 + 8 + 2 + 4 + secret.Length];
        plain[0] = (byte)KeyAlgorithm.HmacSha256;
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(plain.AsSpan(1), long.MaxValue);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(plain.AsSpan(11), (uint)secret.Length);
        secret.CopyTo(plain, 15);
        var e = Assert.Throws<SignerException>(() => SealedFileFormat.Open(SealPlaintext(plain), Passphrase));
        Assert.Equal("BAD_KEY_MATERIAL", e.Reason);
        Assert.Contains("creation time is out of range", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A sealed file around any plaintext, written from docs/sealed-file-format.md alone.</summary>
    private static byte[] SealPlaintext(byte[] plain)
    {
        var kdf = TestKeys.FastKdf;
        var file = new byte[SealedFileFormat.HeaderLength + plain.Length + SealedFileFormat.TagLength];
        "UNCSEAL1"u8.CopyTo(file);
        file[8] = 1;
        file[9] = 1;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(10), kdf.MemoryKiB);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(14), kdf.Iterations);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(18), kdf.Parallelism);
        System.Security.Cryptography.RandomNumberGenerator.Fill(file.AsSpan(22, 16 + 12));
        using var argon = new Argon2id(Passphrase)
        {
            Salt = file[22..38],
            MemorySize = (int)kdf.MemoryKiB,
            Iterations = (int)kdf.Iterations,
            DegreeOfParallelism = (int)kdf.Parallelism,
        };
        var derived = argon.GetBytes(64);
        System.Security.Cryptography.HMACSHA256.HashData(derived[32..], "uncoded-sealed-v1 passphrase check"u8)[..16].CopyTo(file, 50);
        System.Security.Cryptography.SHA256.HashData(file.AsSpan(0, 66), file.AsSpan(66, 32));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(98), (uint)plain.Length);
        using var aes = new System.Security.Cryptography.AesGcm(derived[..32], 16);
        aes.Encrypt(file.AsSpan(38, 12), plain, file.AsSpan(102, plain.Length), file.AsSpan(102 + plain.Length), file.AsSpan(0, 102));
        return file;
    }

    /// <summary>Sets the header's Argon2id m and t and recomputes the (unkeyed) header digest, as an attacker can.</summary>
    private static byte[] WithKdf(byte[] file, uint memoryKiB, uint iterations)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(10), memoryKiB);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(14), iterations);
        System.Security.Cryptography.SHA256.HashData(file.AsSpan(0, SealedFileFormat.DigestedLength), file.AsSpan(SealedFileFormat.DigestedLength, 32));
        return file;
    }

    [Fact]
    public void Load_FileReadableByGroupOrOthers_IsRefused()
    {
        using var dir = new TempDir();
        var (path, _) = TestKeys.SealHmac(dir, "k.sealed");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var e = Assert.Throws<SignerException>(() => SealedFileStore.Load(path, Passphrase));
        Assert.Equal("FILE_PERMISSIONS", e.Reason);
        Assert.Contains("chmod 600", e.Message);
    }

    [Fact]
    public void WriteNew_CreatesMode0600_AndNeverOverwrites()
    {
        using var dir = new TempDir();
        var (path, _) = TestKeys.SealHmac(dir, "k.sealed");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var before = File.ReadAllBytes(path);
        var e = Assert.Throws<SignerException>(() => SealedFileStore.WriteNew(path, new byte[] { 1, 2, 3 }));
        Assert.Equal("FILE_EXISTS", e.Reason);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir.Path, "*k.sealed*"), f => !f.EndsWith(".pass", StringComparison.Ordinal));
    }

    [Fact]
    public void Errors_NeverContainPassphraseOrSecret()
    {
        var messages = new List<string>();
        var file = SealHmac();
        void Capture(Action action)
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                messages.Add(e.ToString());
            }
        }
        Capture(() => SealedFileFormat.Open(file, "Tr0ub4dor&3 supplied"u8));
        var tampered = (byte[])file.Clone();
        tampered[^3] ^= 0xFF;
        Capture(() => SealedFileFormat.Open(tampered, Passphrase));
        using var material = SealedFileFormat.Open(file, Passphrase);
        messages.Add(material.ToString());
        messages.Add(material.Secret.ToString());
        Assert.Equal(4, messages.Count);
        foreach (var message in messages)
        {
            Assert.DoesNotContain(TestKeys.Passphrase, message, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("Tr0ub4dor", message, StringComparison.Ordinal);
            Assert.DoesNotContain(TestKeys.BinanceExampleSecret[..12], message, StringComparison.Ordinal);
        }
    }

    private static Task<RunResult> ReferenceReaderAsync(string sealedPath, string passphrasePath) =>
        Run.ProcessAsync("/usr/bin/python3", [Path.Combine(Repo.Root, "tools", "unseal_reference.py"), sealedPath, passphrasePath]);

    [Fact]
    public async Task ReferenceReader_Python_DecryptsWhatTheSignerSealed()
    {
        using var dir = new TempDir();
        var (path, passphrasePath) = TestKeys.SealHmac(dir, "k.sealed");
        var result = await ReferenceReaderAsync(path, passphrasePath);
        Assert.True(result.ExitCode == 0, result.ToString());
        var json = System.Text.Json.JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal("HMAC_SHA256", json.GetProperty("type").GetString());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.ASCII.GetBytes(TestKeys.BinanceExampleSecret))),
            json.GetProperty("secret_sha256").GetString());

        var wrong = dir.Write("wrong.pass", "nope\n");
        var refused = await ReferenceReaderAsync(path, wrong);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("wrong passphrase", refused.Stderr);
    }

    /// <summary>The signer's Argon2id against Python's (libargon2) at costs the defaults do not reach: m not a multiple of 4p, many lanes, odd sizes.</summary>
    [Theory]
    [InlineData(37u, 1u, 3u)]
    [InlineData(100u, 2u, 7u)]
    [InlineData(513u, 1u, 64u)]
    [InlineData(4097u, 3u, 2u)]
    public async Task ReferenceReader_Python_DecryptsAtOddKdfCosts(uint memoryKiB, uint iterations, uint parallelism)
    {
        using var dir = new TempDir();
        var path = dir.File("k.sealed");
        using (var material = KeyFactory.ImportHmacSecret(Encoding.ASCII.GetBytes(TestKeys.BinanceExampleSecret), "odd", DateTimeOffset.UnixEpoch))
        {
            SealedFileStore.WriteNew(path, SealedFileFormat.Seal(material, Passphrase, new KdfParameters(memoryKiB, iterations, parallelism)));
        }
        var result = await ReferenceReaderAsync(path, dir.Write("p", TestKeys.Passphrase + "\n"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.ASCII.GetBytes(TestKeys.BinanceExampleSecret))),
            System.Text.Json.JsonDocument.Parse(result.Stdout).RootElement.GetProperty("secret_sha256").GetString());
    }

    [Theory]
    [InlineData("ed25519", "ED25519")]
    [InlineData("rsa2048", "RSA_PKCS1_SHA256")]
    public async Task ReferenceReader_Python_DecryptsKeygenFileAtDefaultKdfCosts(string type, string algorithm)
    {
        using var dir = new TempDir();
        var passphrasePath = dir.Write("p", TestKeys.Passphrase + "\n");
        var path = dir.File("k.sealed");
        // No --kdf-* options: the default costs (64 MiB, t=3, p=4) that real key files have.
        var keygen = await Run.SignerAsync("keygen", "--type", type, "--out", path, "--passphrase-file", passphrasePath, "--label", "reference");
        Assert.True(keygen.ExitCode == 0, keygen.ToString());

        var result = await ReferenceReaderAsync(path, passphrasePath);
        Assert.True(result.ExitCode == 0, result.ToString());
        var json = System.Text.Json.JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal(algorithm, json.GetProperty("type").GetString());
        Assert.Equal("reference", json.GetProperty("label").GetString());
        var kdf = json.GetProperty("kdf");
        Assert.Equal(new KdfParameters(65536, 3, 4), new KdfParameters(kdf.GetProperty("m").GetUInt32(), kdf.GetProperty("t").GetUInt32(), kdf.GetProperty("p").GetUInt32()));
        // The public key pyca/cryptography derives from the secret Python decrypted is the one keygen printed.
        Assert.Equal(keygen.Stdout.Trim(), json.GetProperty("public_key_pem").GetString()!.Trim());
        // And the secret is, byte for byte, what the signer itself reads from the file.
        using var material = SealedFileStore.Load(path, Passphrase);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(material.Secret.Span)), json.GetProperty("secret_sha256").GetString());
    }
}
