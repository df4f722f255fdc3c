using System.Text.Json.Serialization;

namespace Uncoded.Simulator.Faults;

[JsonConverter(typeof(JsonStringEnumConverter<FaultKind>))]
public enum FaultKind
{
    /// <summary>Executes the request, then answers HTTP 500: the client cannot know it succeeded.</summary>
    Http500AfterExecute,

    /// <summary>Executes the request, then never answers (until the client gives up and disconnects).</summary>
    TimeoutAfterExecute,

    /// <summary>Executes, then answers -1006 (unexpected response from the message bus, status unknown), HTTP 500.</summary>
    Error1006AfterExecute,

    /// <summary>Executes, then answers -1007 (backend timeout, status unknown), HTTP 408.</summary>
    Error1007AfterExecute,

    /// <summary>Answers HTTP 503 without executing anything.</summary>
    Unavailable503BeforeExecute,

    /// <summary>Waits DelayMs after authentication, before execution; orders re-check recvWindow after the wait.</summary>
    SlowResponse,
}

/// <summary>A fault for the next <see cref="Count"/> requests matching <see cref="Method"/> and <see cref="Path"/> (null = any).</summary>
public sealed record FaultSpec
{
    public FaultKind Kind { get; init; }

    public int Count { get; init; } = 1;

    public string? Method { get; init; }

    public string? Path { get; init; }

    public int DelayMs { get; init; } = 2000;
}

/// <summary>Faults waiting to hit requests, in the order they were injected.</summary>
public sealed class FaultInjector
{
    private readonly Lock _gate = new();
    private readonly List<(FaultSpec Spec, int Left)> _pending = [];

    public void Inject(FaultSpec fault)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fault.Count);
        lock (_gate)
        {
            _pending.Add((fault, fault.Count));
        }
    }

    public void Clear()
    {
        lock (_gate)
        {
            _pending.Clear();
        }
    }

    public int Pending
    {
        get
        {
            lock (_gate)
            {
                return _pending.Sum(p => p.Left);
            }
        }
    }

    /// <summary>Takes one use of the first fault matching this request, if any.</summary>
    public FaultSpec? Take(string method, string path)
    {
        lock (_gate)
        {
            for (var i = 0; i < _pending.Count; i++)
            {
                var (spec, left) = _pending[i];
                if ((spec.Method is null || string.Equals(spec.Method, method, StringComparison.OrdinalIgnoreCase))
                    && (spec.Path is null || string.Equals(spec.Path, path, StringComparison.Ordinal)))
                {
                    if (left == 1)
                    {
                        _pending.RemoveAt(i);
                    }
                    else
                    {
                        _pending[i] = (spec, left - 1);
                    }
                    return spec;
                }
            }
            return null;
        }
    }
}
