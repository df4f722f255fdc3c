using Microsoft.Extensions.Logging;

namespace Uncoded.Simulator;

/// <summary>All of the simulator's log events, with fixed ids. Secrets and signatures are never logged.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Scenario {Name} loaded: {Accounts} accounts, {Keys} API keys, {Symbols} symbols, {Faults} faults")]
    public static partial void ScenarioLoaded(ILogger logger, string name, int accounts, int keys, int symbols, int faults);

    [LoggerMessage(2, LogLevel.Information, "Refused {Method} {Path} from {Remote}: HTTP {Status} {Code} {Message}")]
    public static partial void Refused(ILogger logger, string method, string path, string remote, int status, int code, string message);

    [LoggerMessage(3, LogLevel.Warning, "Injected fault {Kind} on {Method} {Path}")]
    public static partial void FaultInjected(ILogger logger, string kind, string method, string path);

    [LoggerMessage(4, LogLevel.Debug, "{Method} {Path} from {Remote}: HTTP {Status}")]
    public static partial void Answered(ILogger logger, string method, string path, string remote, int status);
}
