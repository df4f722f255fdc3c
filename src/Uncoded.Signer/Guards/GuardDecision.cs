using Uncoded.Signer.Service;

namespace Uncoded.Signer.Guards;

/// <summary>
/// A guard's verdict as a value: <see cref="Allow"/>, or a denial that says which rule refused,
/// what it observed and what the limit is. Converted to a <see cref="SignerException"/> in
/// exactly one place (<see cref="ToException"/>), so every refusal carries the same metadata.
/// </summary>
internal readonly record struct GuardDecision(ErrorKind Kind, string? Reason, string Rule, string Observed, string Limit, string Message)
{
    public static readonly GuardDecision Allow = new(ErrorKind.Internal, null, "", "", "", "");

    public bool IsAllowed => Reason is null;

    public static GuardDecision Deny(ErrorKind kind, string reason, string rule, string observed, string limit, string message) =>
        new(kind, reason, rule, Clip(observed), Clip(limit), message);

    public SignerException ToException() => IsAllowed
        ? throw new InvalidOperationException("an allowed decision is not an error")
        : new SignerException(Kind, Reason!, Message, new Dictionary<string, string>
        {
            ["rule"] = Rule,
            ["observed"] = Observed,
            ["limit"] = Limit,
        });

    /// <summary>Caller-supplied text echoed back only printable and bounded.</summary>
    public static string Clip(string value) => SignPipeline.Printable(value);
}
