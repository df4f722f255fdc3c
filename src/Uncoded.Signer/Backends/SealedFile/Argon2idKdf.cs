using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Uncoded.Signer.Backends.SealedFile;

/// <summary>
/// Argon2id, version 0x13 (RFC 9106), written here so that every buffer that holds the passphrase
/// or anything derived from it is ours to wipe: the memory blocks (from which the output can be
/// recomputed) are native memory cleared before it is freed, and the BLAKE2b inputs and states are
/// cleared after each use. Lanes of a slice are filled in parallel, as the RFC allows.
/// </summary>
internal static unsafe class Argon2idKdf
{
    private const int BlockWords = 128;
    private const int BlockBytes = BlockWords * 8;
    private const int SyncPoints = 4;
    private const uint Version = 0x13;
    private const uint TypeId = 2;

    /// <summary>
    /// Writes Argon2id(<paramref name="password"/>, <paramref name="salt"/>) to <paramref name="output"/>
    /// (4 bytes or more). <paramref name="secret"/> (K) and <paramref name="associatedData"/> (X)
    /// are the RFC's optional inputs; the sealed-file format uses neither.
    /// </summary>
    public static void Hash(ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, int memoryKiB, int iterations, int parallelism,
        Span<byte> output, ReadOnlySpan<byte> secret = default, ReadOnlySpan<byte> associatedData = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(parallelism, 0xFFFFFF);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(memoryKiB, 8 * parallelism);
        ArgumentOutOfRangeException.ThrowIfLessThan(output.Length, 4);
        ArgumentOutOfRangeException.ThrowIfLessThan(salt.Length, 8);

        var segmentLength = memoryKiB / (SyncPoints * parallelism);
        var laneLength = segmentLength * SyncPoints;
        var blockCount = (long)laneLength * parallelism;
        var h0 = new byte[72];
        var memory = (ulong*)NativeMemory.AlignedAlloc((nuint)(blockCount * BlockBytes), 64);
        // Kept out of swap where RLIMIT_MEMLOCK allows (the blocks give the output too); wiped either way.
        var locked = Hardening.Libc.mlock((nint)memory, (nuint)(blockCount * BlockBytes)) == 0;
        try
        {
            InitialHash(h0, password, salt, secret, associatedData, memoryKiB, iterations, parallelism, output.Length);
            var instance = new Instance(memory, parallelism, laneLength, segmentLength, blockCount, iterations);
            for (var lane = 0; lane < parallelism; lane++)
            {
                // B[lane][0] and B[lane][1] = H'^1024(H0 || LE32(0 or 1) || LE32(lane)).
                BinaryPrimitives.WriteUInt32LittleEndian(h0.AsSpan(68), (uint)lane);
                for (var column = 0; column < 2; column++)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(h0.AsSpan(64), (uint)column);
                    var block = new byte[BlockBytes];
                    try
                    {
                        VariableHash(h0, block);
                        var words = instance.Block(lane * laneLength + column);
                        for (var i = 0; i < BlockWords; i++)
                        {
                            words[i] = BinaryPrimitives.ReadUInt64LittleEndian(block.AsSpan(i * 8));
                        }
                    }
                    finally
                    {
                        CryptographicOperations.ZeroMemory(block);
                    }
                }
            }
            CryptographicOperations.ZeroMemory(h0); // H0 alone gives the output: gone before the long fill
            instance.Fill();
            Finish(instance, output);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(h0);
            NativeMemory.Clear(memory, (nuint)(blockCount * BlockBytes));
            if (locked)
            {
                Hardening.Libc.munlock((nint)memory, (nuint)(blockCount * BlockBytes));
            }
            NativeMemory.AlignedFree(memory);
        }
    }

    /// <summary>H0 = H^64(p, T, m, t, v, y, |P|, P, |S|, S, |K|, K, |X|, X), into the first 64 bytes of <paramref name="h0"/>.</summary>
    private static void InitialHash(byte[] h0, ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> secret,
        ReadOnlySpan<byte> associatedData, int memoryKiB, int iterations, int parallelism, int tagLength)
    {
        var input = new byte[(10 * 4) + password.Length + salt.Length + secret.Length + associatedData.Length];
        try
        {
            var at = 0;
            void Word(uint value)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(input.AsSpan(at), value);
                at += 4;
            }
            void Bytes(ReadOnlySpan<byte> value)
            {
                Word((uint)value.Length);
                value.CopyTo(input.AsSpan(at));
                at += value.Length;
            }
            Word((uint)parallelism);
            Word((uint)tagLength);
            Word((uint)memoryKiB);
            Word((uint)iterations);
            Word(Version);
            Word(TypeId);
            Bytes(password);
            Bytes(salt);
            Bytes(secret);
            Bytes(associatedData);
            Blake2b.Hash(input, h0.AsSpan(0, 64));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input);
        }
    }

    /// <summary>H'^T(X) (RFC 9106 §3.3), T = <paramref name="output"/>.Length.</summary>
    private static void VariableHash(ReadOnlySpan<byte> input, Span<byte> output)
    {
        var prefixed = new byte[4 + input.Length];
        Span<byte> v = stackalloc byte[64];
        Span<byte> next = stackalloc byte[64];
        try
        {
            BinaryPrimitives.WriteUInt32LittleEndian(prefixed, (uint)output.Length);
            input.CopyTo(prefixed.AsSpan(4));
            if (output.Length <= 64)
            {
                Blake2b.Hash(prefixed, output);
                return;
            }
            var r = ((output.Length + 31) / 32) - 2;
            Blake2b.Hash(prefixed, v);
            v[..32].CopyTo(output);
            for (var i = 1; i < r; i++)
            {
                Blake2b.Hash(v, next);
                next.CopyTo(v);
                v[..32].CopyTo(output[(i * 32)..]);
            }
            Blake2b.Hash(v, output[(r * 32)..]);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(prefixed);
            CryptographicOperations.ZeroMemory(v);
            CryptographicOperations.ZeroMemory(next);
        }
    }

    /// <summary>The tag: H'^T of the XOR of every lane's last block.</summary>
    private static void Finish(Instance instance, Span<byte> output)
    {
        var final = new ulong[BlockWords];
        var bytes = new byte[BlockBytes];
        try
        {
            for (var lane = 0; lane < instance.Lanes; lane++)
            {
                var last = instance.Block((lane * instance.LaneLength) + instance.LaneLength - 1);
                for (var i = 0; i < BlockWords; i++)
                {
                    final[i] ^= last[i];
                }
            }
            for (var i = 0; i < BlockWords; i++)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 8), final[i]);
            }
            VariableHash(bytes, output);
        }
        finally
        {
            Array.Clear(final);
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    private sealed class Instance(ulong* memory, int lanes, int laneLength, int segmentLength, long blockCount, int passes)
    {
        public int Lanes => lanes;

        public int LaneLength => laneLength;

        public Span<ulong> Block(long index) => new(memory + (index * BlockWords), BlockWords);

        public void Fill()
        {
            for (var pass = 0; pass < passes; pass++)
            {
                for (var slice = 0; slice < SyncPoints; slice++)
                {
                    if (lanes == 1)
                    {
                        FillSegment(pass, 0, slice);
                        continue;
                    }
                    var (p, s) = (pass, slice);
                    Parallel.For(0, lanes, new ParallelOptions { MaxDegreeOfParallelism = Math.Min(lanes, Environment.ProcessorCount) },
                        lane => FillSegment(p, lane, s));
                }
            }
        }

        private void FillSegment(int pass, int lane, int slice)
        {
            var independent = pass == 0 && slice < SyncPoints / 2;
            var scratch = new ulong[BlockWords * 4];
            var r = scratch.AsSpan(0, BlockWords);
            var z = scratch.AsSpan(BlockWords, BlockWords);
            var address = scratch.AsSpan(BlockWords * 2, BlockWords);
            var input = scratch.AsSpan(BlockWords * 3, BlockWords);
            try
            {
                if (independent)
                {
                    input[0] = (ulong)pass;
                    input[1] = (ulong)lane;
                    input[2] = (ulong)slice;
                    input[3] = (ulong)blockCount;
                    input[4] = (ulong)passes;
                    input[5] = TypeId;
                }
                var start = 0;
                if (pass == 0 && slice == 0)
                {
                    start = 2; // the first two blocks of each lane are already made
                    if (independent)
                    {
                        NextAddresses(input, address, r, z);
                    }
                }
                var current = ((long)lane * laneLength) + ((long)slice * segmentLength) + start;
                for (var index = start; index < segmentLength; index++, current++)
                {
                    var previous = current % laneLength == 0 ? current + laneLength - 1 : current - 1;
                    ulong pseudoRandom;
                    if (independent)
                    {
                        if (index % BlockWords == 0)
                        {
                            NextAddresses(input, address, r, z);
                        }
                        pseudoRandom = address[index % BlockWords];
                    }
                    else
                    {
                        pseudoRandom = Block(previous)[0];
                    }
                    var referenceLane = pass == 0 && slice == 0 ? lane : (int)((pseudoRandom >> 32) % (ulong)lanes);
                    var referenceIndex = ReferenceIndex(pass, slice, index, unchecked((uint)pseudoRandom), referenceLane == lane);
                    Compress(Block(previous), Block(((long)referenceLane * laneLength) + referenceIndex), Block(current), xor: pass > 0, r, z);
                }
            }
            finally
            {
                Array.Clear(scratch);
            }
        }

        /// <summary>RFC 9106 §3.4.1.2: the column in the reference lane, from J1.</summary>
        private long ReferenceIndex(int pass, int slice, int index, uint j1, bool sameLane)
        {
            long areaSize;
            if (pass == 0)
            {
                areaSize = slice == 0 || sameLane
                    ? ((long)slice * segmentLength) + index - 1
                    : ((long)slice * segmentLength) + (index == 0 ? -1 : 0);
            }
            else
            {
                areaSize = sameLane
                    ? laneLength - segmentLength + index - 1
                    : laneLength - segmentLength + (index == 0 ? -1 : 0);
            }
            ulong x = j1;
            x = (x * x) >> 32;
            var relative = areaSize - 1 - (long)(((ulong)areaSize * x) >> 32);
            var start = pass == 0 || slice == SyncPoints - 1 ? 0 : (slice + 1) * segmentLength;
            return (start + relative) % laneLength;
        }

        /// <summary>The next 128 data-independent pseudo-random values: G(0, G(0, input)) with the counter stepped.</summary>
        private static void NextAddresses(Span<ulong> input, Span<ulong> address, Span<ulong> r, Span<ulong> z)
        {
            input[6]++;
            Span<ulong> zero = stackalloc ulong[BlockWords];
            zero.Clear();
            Compress(zero, input, address, xor: false, r, z);
            Compress(zero, address, address, xor: false, r, z);
        }

        /// <summary>
        /// destination (^)= G(x, y): R = x ⊕ y, P on each row of R then on each column (Z), result Z ⊕ R.
        /// <paramref name="destination"/> may be <paramref name="y"/>.
        /// </summary>
        private static void Compress(ReadOnlySpan<ulong> x, ReadOnlySpan<ulong> y, Span<ulong> destination, bool xor, Span<ulong> r, Span<ulong> z)
        {
            var rv = MemoryMarshal.Cast<ulong, Vector<ulong>>(r);
            var xv = MemoryMarshal.Cast<ulong, Vector<ulong>>(x);
            var yv = MemoryMarshal.Cast<ulong, Vector<ulong>>(y);
            for (var i = 0; i < rv.Length; i++)
            {
                rv[i] = xv[i] ^ yv[i];
            }
            r.CopyTo(z);
            for (var row = 0; row < 8; row++)
            {
                var o = row * 16;
                Permute(ref z[o], ref z[o + 1], ref z[o + 2], ref z[o + 3], ref z[o + 4], ref z[o + 5], ref z[o + 6], ref z[o + 7],
                    ref z[o + 8], ref z[o + 9], ref z[o + 10], ref z[o + 11], ref z[o + 12], ref z[o + 13], ref z[o + 14], ref z[o + 15]);
            }
            for (var column = 0; column < 8; column++)
            {
                var o = column * 2;
                Permute(ref z[o], ref z[o + 1], ref z[o + 16], ref z[o + 17], ref z[o + 32], ref z[o + 33], ref z[o + 48], ref z[o + 49],
                    ref z[o + 64], ref z[o + 65], ref z[o + 80], ref z[o + 81], ref z[o + 96], ref z[o + 97], ref z[o + 112], ref z[o + 113]);
            }
            var zv = MemoryMarshal.Cast<ulong, Vector<ulong>>(z);
            var dv = MemoryMarshal.Cast<ulong, Vector<ulong>>(destination);
            for (var i = 0; i < zv.Length; i++)
            {
                dv[i] = xor ? dv[i] ^ zv[i] ^ rv[i] : zv[i] ^ rv[i];
            }
        }

        private static void Permute(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3, ref ulong v4, ref ulong v5, ref ulong v6, ref ulong v7,
            ref ulong v8, ref ulong v9, ref ulong v10, ref ulong v11, ref ulong v12, ref ulong v13, ref ulong v14, ref ulong v15)
        {
            Mix(ref v0, ref v4, ref v8, ref v12);
            Mix(ref v1, ref v5, ref v9, ref v13);
            Mix(ref v2, ref v6, ref v10, ref v14);
            Mix(ref v3, ref v7, ref v11, ref v15);
            Mix(ref v0, ref v5, ref v10, ref v15);
            Mix(ref v1, ref v6, ref v11, ref v12);
            Mix(ref v2, ref v7, ref v8, ref v13);
            Mix(ref v3, ref v4, ref v9, ref v14);
        }

        /// <summary>BLAKE2b's G with Argon2's multiplications (BlaMka), modulo 2^64.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Mix(ref ulong a, ref ulong b, ref ulong c, ref ulong d)
        {
            unchecked
            {
                a = a + b + (2UL * ((ulong)(uint)a * (uint)b));
                d = BitOperations.RotateRight(d ^ a, 32);
                c = c + d + (2UL * ((ulong)(uint)c * (uint)d));
                b = BitOperations.RotateRight(b ^ c, 24);
                a = a + b + (2UL * ((ulong)(uint)a * (uint)b));
                d = BitOperations.RotateRight(d ^ a, 16);
                c = c + d + (2UL * ((ulong)(uint)c * (uint)d));
                b = BitOperations.RotateRight(b ^ c, 63);
            }
        }
    }
}
