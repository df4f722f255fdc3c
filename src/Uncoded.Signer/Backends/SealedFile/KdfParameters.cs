namespace Uncoded.Signer.Backends.SealedFile;

/// <summary>Argon2id cost parameters. Defaults: RFC 9106's second recommended setting.</summary>
internal sealed record KdfParameters(uint MemoryKiB, uint Iterations, uint Parallelism)
{
    public static readonly KdfParameters Default = new(64 * 1024, 3, 4);

    // Bounds applied before deriving. The header digest is not keyed, so whoever can write the
    // file can set these: the bounds (with the memory check in SealedFileFormat) keep one load
    // to seconds and to memory the process has. m·t at most 4 GiB-passes: RFC 9106's settings
    // (2 GiB, t=1; 64 MiB, t=3) fit, 2 GiB with t=2 takes ~9 s here.
    public const uint MaxMemoryKiB = 2u * 1024 * 1024;
    public const uint MaxIterations = 64;
    public const uint MaxParallelism = 64;
    public const ulong MaxMemoryTimesIterationsKiB = 4UL * 1024 * 1024;

    public string? Problem()
    {
        if (Parallelism is < 1 or > MaxParallelism)
        {
            return $"parallelism must be 1..{MaxParallelism}";
        }
        if (Iterations is < 1 or > MaxIterations)
        {
            return $"iterations must be 1..{MaxIterations}";
        }
        if (MemoryKiB < 8 * Parallelism || MemoryKiB > MaxMemoryKiB)
        {
            return $"memory must be {8 * Parallelism}..{MaxMemoryKiB} KiB";
        }
        if ((ulong)MemoryKiB * Iterations > MaxMemoryTimesIterationsKiB)
        {
            return $"memory × iterations must be at most {MaxMemoryTimesIterationsKiB} KiB (4 GiB-passes)";
        }
        return null;
    }
}
