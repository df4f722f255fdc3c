using System.Text;
using Uncoded.Signer.Backends.SealedFile;

namespace Uncoded.Signer.Tests.Unit;

/// <summary>The signer's own BLAKE2b and Argon2id against published vectors and an independent implementation.</summary>
public sealed class Argon2Tests
{
    [Theory]
    // RFC 7693 Appendix A, and the empty message (BLAKE2 reference test vectors).
    [InlineData("abc", 64, "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")]
    [InlineData("", 64, "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce")]
    public void Blake2b_PublishedVectors(string message, int length, string expected)
    {
        var output = new byte[length];

        Blake2b.Hash(Encoding.ASCII.GetBytes(message), output);

        Assert.Equal(expected, Convert.ToHexStringLower(output));
    }

    [Fact]
    public void Blake2b_MessagesAroundTheBlockSize_MatchKonscious()
    {
        foreach (var length in new[] { 127, 128, 129, 255, 256, 257, 1024 })
        {
            var data = Enumerable.Range(0, length).Select(i => (byte)(i * 7 % 256)).ToArray();
            var ours = new byte[64];
            Blake2b.Hash(data, ours);
            using var theirs = new Konscious.Security.Cryptography.HMACBlake2B(512);
            theirs.Initialize();
            Assert.Equal(Convert.ToHexStringLower(theirs.ComputeHash(data)), Convert.ToHexStringLower(ours));
        }
    }

    /// <summary>RFC 9106 §5.3: Argon2id, v=0x13, with secret and associated data.</summary>
    [Fact]
    public void Argon2id_Rfc9106TestVector()
    {
        var tag = new byte[32];

        Argon2idKdf.Hash(Enumerable.Repeat((byte)0x01, 32).ToArray(), Enumerable.Repeat((byte)0x02, 16).ToArray(), 32, 3, 4, tag,
            secret: Enumerable.Repeat((byte)0x03, 8).ToArray(), associatedData: Enumerable.Repeat((byte)0x04, 12).ToArray());

        Assert.Equal("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659", Convert.ToHexStringLower(tag));
    }

    /// <summary>Konscious (an independent implementation) over costs the RFC vector does not reach: more blocks per segment, one lane, odd sizes.</summary>
    [Theory]
    [InlineData(8, 1, 1, 64)]
    [InlineData(1024, 2, 1, 64)]
    [InlineData(1000, 1, 3, 64)]
    [InlineData(4096, 3, 4, 64)]
    [InlineData(256, 1, 2, 100)]
    public void Argon2id_MatchesKonscious(int memoryKiB, int iterations, int parallelism, int length)
    {
        var password = Encoding.UTF8.GetBytes("correct horse battery staple");
        var salt = Enumerable.Range(0, 16).Select(i => (byte)(200 - i)).ToArray();
        var ours = new byte[length];

        Argon2idKdf.Hash(password, salt, memoryKiB, iterations, parallelism, ours);
        using var theirs = new Konscious.Security.Cryptography.Argon2id(password)
        {
            Salt = salt,
            MemorySize = memoryKiB,
            Iterations = iterations,
            DegreeOfParallelism = parallelism,
        };

        Assert.Equal(Convert.ToHexStringLower(theirs.GetBytes(length)), Convert.ToHexStringLower(ours));
    }
}
