using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Uncoded.Signer.Backends.SealedFile;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Hardened;

/// <summary>
/// What a running signer's memory still holds after it loaded a sealed key: read through
/// /proc/PID/mem (root may, even though the signer is not dumpable), every readable mapping.
/// </summary>
public sealed class MemoryScanTests
{
    [Fact]
    public async Task SealedKeyLoaded_PassphraseAndDerivedKeyGoneFromMemory_SecretStillThere()
    {
        using var dir = new TempDir();
        var passphrase = "memscan-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var (sealedPath, passPath) = TestKeys.Seal(dir, "k.sealed",
            Backends.KeyFactory.ImportHmacSecret(Encoding.ASCII.GetBytes(TestKeys.BinanceExampleSecret), "test", DateTimeOffset.UnixEpoch), passphrase);
        var salt = File.ReadAllBytes(sealedPath)[22..38];
        var derived = new byte[64];
        Argon2idKdf.Hash(Encoding.UTF8.GetBytes(passphrase), salt, (int)TestKeys.FastKdf.MemoryKiB, (int)TestKeys.FastKdf.Iterations, (int)TestKeys.FastKdf.Parallelism, derived);
        await using var signer = await SignerProcess.StartAsync(dir, TestKeys.Config(dir.File("signer.sock"),
            new Dictionary<string, (string, string)> { ["k"] = (sealedPath, passPath) }));
        using (var client = signer.Client())
        {
            await client.SignAsync("k", "POST", "/api/v3/order", Encoding.ASCII.GetBytes(TestKeys.FreshExamplePayload()));
        }

        var found = Scan(signer.Pid, new Dictionary<string, byte[]>
        {
            ["secret"] = Encoding.ASCII.GetBytes(TestKeys.BinanceExampleSecret),
            ["passphrase"] = Encoding.UTF8.GetBytes(passphrase),
            ["passphrase (UTF-16)"] = Encoding.Unicode.GetBytes(passphrase),
            ["AES key"] = derived[..32],
            ["check key"] = derived[32..],
        });

        // The key itself must be in memory (locked) to sign: finding it shows the scan reads the heap.
        Assert.Contains("secret", found);
        Assert.DoesNotContain(passphrase, signer.Log, StringComparison.Ordinal);
        Assert.DoesNotContain(TestKeys.BinanceExampleSecret, signer.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("passphrase", found);
        Assert.DoesNotContain("passphrase (UTF-16)", found);
        Assert.DoesNotContain("AES key", found);
        Assert.DoesNotContain("check key", found);
    }

    /// <summary>The names of the <paramref name="needles"/> found in any readable mapping of process <paramref name="pid"/>.</summary>
    private static HashSet<string> Scan(int pid, IReadOnlyDictionary<string, byte[]> needles)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        var overlap = needles.Values.Max(n => n.Length);
        using var mem = new FileStream($"/proc/{pid}/mem", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
        var buffer = new byte[(1 << 20) + overlap];
        foreach (var line in File.ReadAllLines($"/proc/{pid}/maps"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields[1][0] != 'r' || line.EndsWith("[vvar]", StringComparison.Ordinal) || line.EndsWith("[vsyscall]", StringComparison.Ordinal))
            {
                continue;
            }
            var range = fields[0].Split('-');
            var start = long.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var end = long.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
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
                    if (buffer.AsSpan(0, read).IndexOf(needle) >= 0)
                    {
                        found.Add(name);
                    }
                }
            }
        }
        return found;
    }
}
