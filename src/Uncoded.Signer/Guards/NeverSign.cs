using Uncoded.Signer.Service;

namespace Uncoded.Signer.Guards;

/// <summary>
/// What the signer refuses whatever its configuration says: paths that move money out of spot
/// trading (withdrawal, transfer, sub-account, loan/borrow, margin, futures, options) and
/// parameters that only such endpoints take. Binance does not sign the path, so a trading
/// payload must not be able to carry them either. Checked before the endpoint allowlist, so the
/// refusal names the real danger.
/// </summary>
internal static class NeverSign
{
    public const string Rule = "never-sign";

    /// <summary>Case-insensitive fragments of paths that are never signed.</summary>
    public static readonly string[] PathFragments =
    [
        "withdraw", "transfer", "sub-account", "subaccount", "loan", "borrow", "repay", "lending", "capital",
        "margin", "futures", "option", "/fapi", "/dapi", "/eapi", "/papi", "/sapi/v1/asset", "/sapi/v1/convert",
    ];

    /// <summary>Parameter names (any letter case) that never appear in a payload the signer accepts.</summary>
    public static readonly string[] Parameters =
    [
        "address", "addressTag", "network", "coin", "amount", "asset", "toEmail", "fromEmail", "email",
        "withdrawOrderId", "walletType", "transactionFeeFlag", "fromAccountType", "toAccountType", "fromSymbol",
        "toSymbol", "clientTranId", "tranId", "isIsolated", "sideEffectType", "subAccountId",
    ];

    /// <summary>Words in a <c>type</c> value that mark a universal-transfer type (MAIN_UMFUTURE, FUNDING_MAIN, ...).</summary>
    public static readonly string[] TransferTypeWords = ["MAIN", "FUNDING", "FUTURE", "MARGIN", "OPTION", "PORTFOLIO"];

    public static GuardDecision CheckPath(string path)
    {
        foreach (var fragment in PathFragments)
        {
            if (path.Contains(fragment, StringComparison.OrdinalIgnoreCase))
            {
                return GuardDecision.Deny(ErrorKind.Denied, "NEVER_SIGN_PATH", Rule, path, $"no path containing '{fragment}'",
                    $"the signer never signs for '{GuardDecision.Clip(path)}' (withdrawal, transfer, loan, margin, futures and options endpoints are never signed)");
            }
        }
        return GuardDecision.Allow;
    }

    public static GuardDecision CheckParameters(ParsedPayload payload)
    {
        foreach (var (name, value) in payload.Parameters)
        {
            if (Parameters.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                return GuardDecision.Deny(ErrorKind.Denied, "NEVER_SIGN_PARAMETER", Rule, name, "no withdrawal or transfer parameters",
                    $"the payload carries '{GuardDecision.Clip(name)}', a withdrawal/transfer parameter the signer never signs");
            }
            if (name.Equals("type", StringComparison.OrdinalIgnoreCase) &&
                TransferTypeWords.Any(w => value.Contains(w, StringComparison.OrdinalIgnoreCase)))
            {
                return GuardDecision.Deny(ErrorKind.Denied, "NEVER_SIGN_PARAMETER", Rule, $"type={value}", "no transfer types",
                    $"type={GuardDecision.Clip(value)} is a transfer type the signer never signs");
            }
        }
        return GuardDecision.Allow;
    }
}
