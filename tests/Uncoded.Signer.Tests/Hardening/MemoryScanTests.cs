using System.Formats.Asn1;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Backends.SealedFile;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Hardened;

/// <summary>
/// What a running signer's memory holds, read through /proc/PID/mem (root may, even though the
/// signer is not dumpable): every readable mapping, with the kernel's flags for it (smaps).
/// </summary>
public sealed class MemoryScanTests
{
    [Fact]
    public async Task SealedKeyLoaded_PassphraseAndDerivedKeyGoneFromMemory_SecretOnlyInLockedMemory()
    {
        using var dir = new TempDir();
        var passphrase = "memscan-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var (sealedPath, passPath) = TestKeys.Seal(dir, "k.sealed",
            KeyFactory.ImportHmacSecret(Encoding.ASCII.GetBytes(TestKeys.BinanceExampleSecret), "test", DateTimeOffset.UnixEpoch), passphrase);
        var salt = File.ReadAllBytes(sealedPath)[22..38];
        var derived = new byte[64];
        Argon2idKdf.Hash(Encoding.UTF8.GetBytes(passphrase), salt, (int)TestKeys.FastKdf.MemoryKiB, (int)TestKeys.FastKdf.Iterations, (int)TestKeys.FastKdf.Parallelism, derived);
        await using var signer = await StartAndSignAsync(dir, sealedPath, passPath, signatures: 1);

        var found = Scan(signer.Pid, new Dictionary<string, byte[]>
        {
            ["secret"] = Encoding.ASCII.GetBytes(TestKeys.BinanceExampleSecret),
            ["passphrase"] = Encoding.UTF8.GetBytes(passphrase),
            ["passphrase (UTF-16)"] = Encoding.Unicode.GetBytes(passphrase),
            ["AES key"] = derived[..32],
            ["check key"] = derived[32..],
        });

        // The key itself must be in memory to sign: finding it shows the scan reads the heap.
        Assert.NotEmpty(found["secret"]);
        Assert.All(found["secret"], flags => Assert.Contains(" lo ", flags, StringComparison.Ordinal));
        Assert.Empty(found["passphrase"]);
        Assert.Empty(found["passphrase (UTF-16)"]);
        Assert.Empty(found["AES key"]);
        Assert.Empty(found["check key"]);
        Assert.DoesNotContain(passphrase, signer.Log, StringComparison.Ordinal);
        Assert.DoesNotContain(TestKeys.BinanceExampleSecret, signer.Log, StringComparison.Ordinal);
    }

    /// <summary>
    /// An RSA key's private numbers as OpenSSL holds them (little-endian words) are in the process
    /// while it signs, and gone once its working copies went idle: then the key is only in the
    /// locked buffer (as DER, big-endian).
    /// </summary>
    [Fact]
    public async Task SealedRsaKey_OpenSslWorkingCopyReleasedWhenIdle_KeyOnlyInLockedMemory()
    {
        using var dir = new TempDir();
        var pem = dir.File("k.pem");
        await Run.OpensslOkAsync("genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pem);
        var (d, p) = PrivateExponentAndPrime(await File.ReadAllTextAsync(pem));
        var (sealedPath, passPath) = TestKeys.Seal(dir, "k.sealed", KeyFactory.ImportPrivateKeyPem(await File.ReadAllBytesAsync(pem), "t", DateTimeOffset.UnixEpoch));
        File.Delete(pem);
        var needles = new Dictionary<string, byte[]>
        {
            ["d"] = d,
            ["d (OpenSSL)"] = d.Reverse().ToArray(),
            ["p (OpenSSL)"] = p.Reverse().ToArray(),
        };
        await using var signer = await StartAndSignAsync(dir, sealedPath, passPath, signatures: 5);

        // Signatures keep coming while the first scan runs, so OpenSSL's copy is certainly in use.
        using var stop = new CancellationTokenSource();
        var keepSigning = Task.Run(async () =>
        {
            using var client = signer.Client();
            while (!stop.IsCancellationRequested)
            {
                await client.SignAsync("k", "POST", "/api/v3/order", Encoding.ASCII.GetBytes(TestKeys.FreshExamplePayload()));
                await Task.Delay(100);
            }
        });
        var signing = Scan(signer.Pid, needles);
        await stop.CancelAsync();
        await keepSigning;
        await Task.Delay(TimeSpan.FromSeconds(3.5)); // released once idle for 1 s, checked every second
        var idle = Scan(signer.Pid, needles);

        Assert.NotEmpty(signing["d (OpenSSL)"]);
        Assert.Empty(idle["d (OpenSSL)"]);
        Assert.Empty(idle["p (OpenSSL)"]);
        Assert.NotEmpty(idle["d"]);
        Assert.All(idle["d"], flags => Assert.Contains(" lo ", flags, StringComparison.Ordinal));
    }

    private static async Task<SignerProcess> StartAndSignAsync(TempDir dir, string sealedPath, string passPath, int signatures)
    {
        var signer = await SignerProcess.StartAsync(dir, TestKeys.Config(dir.File("signer.sock"),
            new Dictionary<string, (string, string)> { ["k"] = (sealedPath, passPath) }));
        using var client = signer.Client();
        for (var i = 0; i < signatures; i++)
        {
            await client.SignAsync("k", "POST", "/api/v3/order", Encoding.ASCII.GetBytes(TestKeys.FreshExamplePayload()));
        }
        return signer;
    }

    /// <summary>d and p of a PKCS#8 RSA PEM, big-endian without leading zeros.</summary>
    private static (byte[] D, byte[] P) PrivateExponentAndPrime(string pem)
    {
        var der = Convert.FromBase64String(string.Concat(pem.Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal))));
        var info = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
        info.ReadInteger();
        info.ReadSequence();
        var key = new AsnReader(info.ReadOctetString(), AsnEncodingRules.DER).ReadSequence();
        key.ReadInteger();
        key.ReadInteger();
        key.ReadInteger();
        byte[] Next() => key.ReadIntegerBytes().ToArray().SkipWhile(b => b == 0).ToArray();
        return (Next(), Next());
    }

    /// <summary>For each needle, the VmFlags (padded with spaces) of every readable mapping of process <paramref name="pid"/> that holds it.</summary>
    private static Dictionary<string, List<string>> Scan(int pid, IReadOnlyDictionary<string, byte[]> needles)
    {
        var found = needles.Keys.ToDictionary(k => k, _ => new List<string>(), StringComparer.Ordinal);
        var overlap = needles.Values.Max(n => n.Length);
        using var mem = new FileStream($"/proc/{pid}/mem", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
        var buffer = new byte[(1 << 20) + overlap];
        foreach (var (start, end, flags) in ReadableMappings(pid))
        {
            for (var at = start; at < end; at += 1 << 20)
            {
                var length = (int)Math.Min(buffer.Length, end - at);
                int read;
                try
                {
                    mem.Seek(at, SeekOrigin.Begin);
                    read = mem.ReadAtLeast(buffer.AsSpan(0, length), length, throwOnEndOfStream: false);
                }
                catch (IOException)
                {
                    break; // a mapping the kernel will not read (device memory, guard pages)
                }
                foreach (var (name, needle) in needles)
                {
                    if (buffer.AsSpan(0, read).IndexOf(needle) >= 0 && !found[name].Contains(flags))
                    {
                        found[name].Add(flags);
                    }
                }
            }
        }
        return found;
    }

    private static IEnumerable<(long Start, long End, string Flags)> ReadableMappings(int pid)
    {
        (long, long, bool)? current = null;
        foreach (var line in File.ReadAllLines($"/proc/{pid}/smaps"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 5 && fields[0].Contains('-', StringComparison.Ordinal) && !fields[0].EndsWith(':'))
            {
                var range = fields[0].Split('-');
                current = (long.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    long.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    fields[1][0] == 'r' && !line.EndsWith("[vvar]", StringComparison.Ordinal) && !line.EndsWith("[vsyscall]", StringComparison.Ordinal));
            }
            else if (line.StartsWith("VmFlags:", StringComparison.Ordinal) && current is var (start, end, readable) && readable)
            {
                yield return (start, end, " " + line[8..].Trim() + " ");
            }
        }
    }
}
