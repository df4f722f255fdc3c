using System.Security.Cryptography;
using Uncoded.Signer.Hardening;

namespace Uncoded.Signer.Tests.Hardened;

public sealed class LockedBufferTests
{
    [Fact]
    public unsafe void Dispose_SecretNoLongerInTheProcessMemory()
    {
        var secret = RandomNumberGenerator.GetBytes(4096);
        nint address;
        using (var buffer = LockedBuffer.CopyOf(secret))
        {
            Assert.True(buffer.IsLocked && buffer.IsExcludedFromDumps, "as root both must take effect");
            fixed (byte* start = buffer.Span)
            {
                address = (nint)start;
            }
        }
        // Read the freed memory through /proc/self/mem (pread), not a pointer: memory the
        // allocator gave back to the kernel is an I/O error there, not a crash.
        var after = new byte[secret.Length];
        int read;
        using (var mem = File.OpenHandle("/proc/self/mem"))
        {
            try
            {
                read = RandomAccess.Read(mem, after, address);
            }
            catch (IOException)
            {
                read = 0; // unmapped: nothing of the secret left to read
            }
        }
        // No 8-byte word of the secret left where it was (the allocator may reuse the first few
        // words for its own bookkeeping; a random 8-byte word equal by chance is ~2^-64).
        var equalWords = Enumerable.Range(0, read / 8).Count(i => after.AsSpan(i * 8, 8).SequenceEqual(secret.AsSpan(i * 8, 8)));
        Assert.Equal(0, equalWords);
    }

    [Fact]
    public void Dispose_ThenSpan_Throws_AndToStringRedacts()
    {
        var buffer = LockedBuffer.CopyOf([1, 2, 3]);
        Assert.Equal("LockedBuffer(3 bytes, redacted)", buffer.ToString());
        buffer.Dispose();
        buffer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => buffer.Span.Length);
    }
}
