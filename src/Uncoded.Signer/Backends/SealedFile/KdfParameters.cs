namespace Uncoded.Signer.Backends.SealedFile;

/// <summary>Argon2id cost parameters. Defaults: RFC 9106's second recommended setting.</summary>
internal sealed record KdfParameters(uint MemoryKiB, uint Iterations, uint Parallelism)
{
    public static readonly KdfParameters Default = new(64 * 1024, 3, 4);

    // Bounds applied before deriving, so a tampered header cannot make the signer allocate
    // gigabytes or spin for hours.
    public const uint MaxMemoryKiB = 2u * 1024 * 1024;
    public const uint MaxIterations = 64;
    public const uint MaxParallelism = 64;

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
        return null;
    }
}
