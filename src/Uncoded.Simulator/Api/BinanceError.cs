namespace Uncoded.Simulator.Api;

/// <summary>
/// A Binance error answer: <c>{"code":-1022,"msg":"..."}</c> with its HTTP status. The one
/// error taxonomy of the simulator; the pipeline turns it into a response in one place.
/// </summary>
internal sealed class BinanceError(int code, string message, int httpStatus = 400) : Exception(message)
{
    public int Code { get; } = code;

    public int HttpStatus { get; } = httpStatus;

    public static BinanceError Mandatory(string name) =>
        new(-1102, $"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.");

    public static BinanceError NotRequired(string name) => new(-1106, $"Parameter '{name}' sent when not required.");

    public static BinanceError Illegal(string name, string range) =>
        new(-1100, $"Illegal characters found in parameter '{name}'; legal range is '{range}'.");

    public static BinanceError InvalidSymbol() => new(-1121, "Invalid symbol.");

    public static BinanceError Rejected(string message) => new(-2010, message);

    public static BinanceError Filter(string message) => new(-1013, message);

    public static BinanceError InsufficientBalance() => Rejected("Account has insufficient balance for requested action.");

    public static BinanceError ApiKeyFormat() => new(-2014, "API-key format invalid.", 401);

    public static BinanceError RejectedKey() => new(-2015, "Invalid API-key, IP, or permissions for action.", 401);

    public static BinanceError Signature() => new(-1022, "Signature for this request is not valid.");

    public static BinanceError TimestampAhead() => new(-1021, "Timestamp for this request was 1000ms ahead of the server's time.");

    public static BinanceError TimestampOutside() => new(-1021, "Timestamp for this request is outside of the recvWindow.");
}
