using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Uncoded.Signer.Hardening;

/// <summary>
/// Key material in native, page-aligned memory: locked in RAM (mlock: never swapped), excluded
/// from core dumps (MADV_DONTDUMP) where the OS allows, and zeroed on dispose. The GC never
/// moves or copies it. Whether locking took effect is reported, never silently assumed.
/// </summary>
internal sealed unsafe class LockedBuffer : IDisposable
{
    private static int s_locked;
    private static int s_unlocked;
    private static int s_excluded;
    private static int s_notExcluded;
    private readonly nint _address;
    private readonly nuint _capacity;
    private int _disposed;

    public LockedBuffer(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        var page = (nuint)Math.Max(4096, Libc.getpagesize());
        _capacity = Math.Max(page, ((nuint)length + page - 1) / page * page);
        _address = (nint)NativeMemory.AlignedAlloc(_capacity, page);
        NativeMemory.Clear((void*)_address, _capacity);
        IsLocked = Libc.mlock(_address, _capacity) == 0;
        IsExcludedFromDumps = Libc.madvise(_address, _capacity, Libc.MADV_DONTDUMP) == 0;
        Interlocked.Increment(ref IsLocked ? ref s_locked : ref s_unlocked);
        Interlocked.Increment(ref IsExcludedFromDumps ? ref s_excluded : ref s_notExcluded);
    }

    public static LockedBuffer CopyOf(ReadOnlySpan<byte> source)
    {
        var buffer = new LockedBuffer(source.Length);
        source.CopyTo(buffer.Span);
        return buffer;
    }

    /// <summary>How many buffers were locked / not locked and excluded / not excluded from dumps (for the start-up report).</summary>
    public static (int Locked, int Unlocked, int Excluded, int NotExcluded) Stats =>
        (Volatile.Read(ref s_locked), Volatile.Read(ref s_unlocked), Volatile.Read(ref s_excluded), Volatile.Read(ref s_notExcluded));

    public int Length { get; }

    public bool IsLocked { get; }

    public bool IsExcludedFromDumps { get; }

    public Span<byte> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            return new Span<byte>((void*)_address, Length);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        CryptographicOperations.ZeroMemory(new Span<byte>((void*)_address, (int)_capacity));
        if (IsLocked)
        {
            _ = Libc.munlock(_address, _capacity);
        }
        NativeMemory.AlignedFree((void*)_address);
    }

    public override string ToString() => $"LockedBuffer({Length} bytes, redacted)";
}
