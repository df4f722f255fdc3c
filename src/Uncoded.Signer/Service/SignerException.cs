namespace Uncoded.Signer.Service;

/// <summary>
/// The signer's one error taxonomy. Each kind maps to exactly one gRPC status in
/// <see cref="ErrorMapping"/>; user errors and internal errors never share a status.
/// </summary>
internal enum ErrorKind
{
    /// <summary>The request is malformed (empty, oversized, not ASCII, bad parameter).</summary>
    InvalidRequest,
    /// <summary>No such key is configured.</summary>
    UnknownKey,
    /// <summary>A guard refuses what the request asks for.</summary>
    Denied,
    /// <summary>A cap or rate limit is spent.</summary>
    Exhausted,
    /// <summary>The request is well-formed but its state is wrong (stale timestamp, ...).</summary>
    Precondition,
    /// <summary>The key's device is absent or failing: try again later.</summary>
    Unavailable,
    /// <summary>Local configuration or key material is wrong (bad passphrase, bad file, bad PIN).</summary>
    Configuration,
    /// <summary>A bug or an unexpected failure.</summary>
    Internal,
}

/// <summary>
/// An error whose message is safe to show and log: it never contains secret material.
/// <see cref="Reason"/> is a stable machine-readable code (UPPER_SNAKE_CASE).
/// </summary>
internal sealed class SignerException : Exception
{
    public SignerException(ErrorKind kind, string reason, string message,
        IReadOnlyDictionary<string, string>? metadata = null, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        Reason = reason;
        Metadata = metadata ?? new Dictionary<string, string>();
    }

    public ErrorKind Kind { get; }

    public string Reason { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }
}
