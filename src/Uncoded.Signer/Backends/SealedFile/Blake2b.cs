using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace Uncoded.Signer.Backends.SealedFile;

/// <summary>
/// BLAKE2b without a key (RFC 7693), for Argon2id: its state and message words live on the
/// caller's stack and are cleared before returning, because Argon2's first hash input holds the
/// passphrase.
/// </summary>
internal static class Blake2b
{
    public const int BlockBytes = 128;

    private static readonly ulong[] IV =
    [
        0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
        0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
    ];

    private static readonly byte[][] Sigma =
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    ];

    /// <summary>BLAKE2b of <paramref name="data"/> with <paramref name="output"/>.Length (1-64) bytes of output.</summary>
    public static void Hash(ReadOnlySpan<byte> data, Span<byte> output)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(output.Length, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(output.Length, 64);
        Span<ulong> h = stackalloc ulong[8];
        Span<ulong> m = stackalloc ulong[16];
        Span<ulong> v = stackalloc ulong[16];
        Span<byte> last = stackalloc byte[BlockBytes];
        try
        {
            IV.CopyTo(h);
            h[0] ^= 0x01010000UL ^ (ulong)output.Length;
            var offset = 0;
            // Every full block but the last is compressed as it is; the last (full or not) is padded.
            while (data.Length - offset > BlockBytes)
            {
                Load(data.Slice(offset, BlockBytes), m);
                offset += BlockBytes;
                Compress(h, m, v, (ulong)offset, final: false);
            }
            data[offset..].CopyTo(last);
            Load(last, m);
            Compress(h, m, v, (ulong)data.Length, final: true);
            Span<byte> full = stackalloc byte[64];
            for (var i = 0; i < 8; i++)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(full[(i * 8)..], h[i]);
            }
            full[..output.Length].CopyTo(output);
            CryptographicOperations.ZeroMemory(full);
        }
        finally
        {
            h.Clear();
            m.Clear();
            v.Clear();
            CryptographicOperations.ZeroMemory(last);
        }
    }

    private static void Load(ReadOnlySpan<byte> block, Span<ulong> m)
    {
        for (var i = 0; i < 16; i++)
        {
            m[i] = BinaryPrimitives.ReadUInt64LittleEndian(block[(i * 8)..]);
        }
    }

    private static void Compress(Span<ulong> h, ReadOnlySpan<ulong> m, Span<ulong> v, ulong counter, bool final)
    {
        h.CopyTo(v);
        IV.CopyTo(v[8..]);
        v[12] ^= counter;
        if (final)
        {
            v[14] = ~v[14];
        }
        for (var round = 0; round < 12; round++)
        {
            var s = Sigma[round % 10];
            G(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
            G(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
            G(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
            G(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
            G(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
            G(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
            G(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
            G(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
        }
        for (var i = 0; i < 8; i++)
        {
            h[i] ^= v[i] ^ v[i + 8];
        }
    }

    /// <summary>The mixing function; additions are modulo 2^64 (the build checks overflow elsewhere).</summary>
    private static void G(Span<ulong> v, int a, int b, int c, int d, ulong x, ulong y)
    {
        unchecked
        {
            v[a] += v[b] + x;
            v[d] = BitOperations.RotateRight(v[d] ^ v[a], 32);
            v[c] += v[d];
            v[b] = BitOperations.RotateRight(v[b] ^ v[c], 24);
            v[a] += v[b] + y;
            v[d] = BitOperations.RotateRight(v[d] ^ v[a], 16);
            v[c] += v[d];
            v[b] = BitOperations.RotateRight(v[b] ^ v[c], 63);
        }
    }
}
