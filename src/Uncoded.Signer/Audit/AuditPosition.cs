namespace Uncoded.Signer.Audit;

/// <summary>A point in the audit log: the last record's seq, the offset just after its line, and that line's SHA-256 (hex).</summary>
internal sealed record AuditPosition(ulong Seq, long Offset, string Hash);
