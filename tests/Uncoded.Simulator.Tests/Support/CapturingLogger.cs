using System.Text;
using Microsoft.Extensions.Logging;

namespace Uncoded.Simulator.Tests.Support;

/// <summary>Collects every formatted log line (with exception text) so tests can assert what was and was not logged.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly StringBuilder _log = new();

    public string Text
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._log)
            {
                owner._log.AppendLine($"{logLevel} {eventId.Id} {formatter(state, exception)} {exception}");
            }
        }
    }
}
