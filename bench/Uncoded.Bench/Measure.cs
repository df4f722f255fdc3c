using System.Diagnostics;
using System.Globalization;
using System.Text;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Bench;

internal sealed class Row(string name, bool readOnly = false)
{
    public string Name { get; } = name;

    /// <summary>Signs GET /api/v3/account instead of new orders: no rolling-cap state to persist.</summary>
    public bool ReadOnly { get; } = readOnly;
    public double InProcessMicros { get; set; }
    public double? RawPkcs11Micros { get; set; }
    public double? RawThroughputPerSecond { get; set; }
    public int? Sessions { get; set; }
    public double P50Micros { get; set; }
    public double P99Micros { get; set; }
    public double ThroughputPerSecond { get; set; }
    public double? RssMiB { get; set; }

    private static string F(double value, string format = "0.0") => value.ToString(format, CultureInfo.InvariantCulture);

    public static string Table(IEnumerable<Row> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| key | in-process sign (µs, floor) | raw PKCS#11 C_Sign (µs) | raw PKCS#11, one thread per session (signs/s) | Sign RPC p50 (µs) | Sign RPC p99 (µs) | Sign RPC, 8 callers (signs/s) | RPC ÷ raw | signer RSS after 100k signs (MiB) |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            var name = r.Sessions is { } n ? $"{r.Name} ({n} sessions)" : r.Name;
            var ratio = r.RawThroughputPerSecond is { } rawRate ? F(100 * r.ThroughputPerSecond / rawRate, "0") + " %" : "–";
            sb.AppendLine($"| {name} | {F(r.InProcessMicros)} | {(r.RawPkcs11Micros is { } raw ? F(raw) : "–")} | {(r.RawThroughputPerSecond is { } rate ? F(rate, "0") : "–")} | {F(r.P50Micros, "0")} | {F(r.P99Micros, "0")} | {F(r.ThroughputPerSecond, "0")} | {ratio} | {(r.RssMiB is { } rss ? F(rss) : "–")} |");
        }
        return sb.ToString();
    }
}

internal static class Measure
{
    /// <summary>Guards as a real deployment would have them, with caps and rates high enough not to interfere.</summary>
    private static readonly object BenchGuard = new
    {
        Symbols = new Dictionary<string, object> { ["BTCUSDT"] = new { MaxOrderNotional = 100m, MaxQuantity = 1m } },
        MaxDailyNotional = 1_000_000_000m,
        SignaturesPerMinute = 1_000_000,
        SignaturesPerMinutePerPeer = 1_000_000,
    };

    public static async Task<double> InProcessAsync(ISigningKey key, int iterations)
    {
        var payload = Encoding.ASCII.GetBytes(Payloads.Next());
        for (var i = 0; i < Math.Min(200, iterations); i++)
        {
            await key.SignAsync(payload, default);
        }
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < iterations; i++)
        {
            await key.SignAsync(payload, default);
        }
        return sw.Elapsed.TotalMicroseconds / iterations;
    }

    public static Task RpcAsync(Row row, TempDir dir, (string SealedPath, string PassphrasePath) key, bool quick, bool measureMemory) =>
        RpcAsync(row, dir, new Dictionary<string, object>
        {
            ["bench"] = new { ApiKey = "bench", SealedFile = new { Path = key.SealedPath, PassphraseFile = key.PassphrasePath } },
        }, env: null, quick, measureMemory);

    public static async Task RpcAsync(Row row, TempDir dir, IDictionary<string, object> keys, IDictionary<string, string?>? env, bool quick,
        bool measureMemory = false)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        // BENCH_SIGNER_ENV="DOTNET_X=1 DOTNET_Y=0" sets runtime knobs in the signer only, for A/B runs.
        if (Environment.GetEnvironmentVariable("BENCH_SIGNER_ENV") is { Length: > 0 } extra)
        {
            env = new Dictionary<string, string?>(env ?? new Dictionary<string, string?>());
            foreach (var pair in extra.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                env[pair[..eq]] = pair[(eq + 1)..];
            }
        }
        var socket = dir.File($"s{run}.sock");
        // Every signature goes through the guards and a durable audit log (fdatasync before the answer).
        var guarded = new System.Text.Json.Nodes.JsonObject();
        foreach (var (id, key) in keys)
        {
            var node = System.Text.Json.JsonSerializer.SerializeToNode(key)!.AsObject();
            node["Guard"] = System.Text.Json.JsonSerializer.SerializeToNode(BenchGuard);
            guarded[id] = node;
        }
        var startup = Stopwatch.StartNew();
        await using var signer = await SignerProcess.StartAsync(dir, new
        {
            SocketPath = socket,
            AllowedPeers = new { Uids = new[] { Uncoded.Signer.Hardening.Libc.getuid() } },
            Audit = new { Path = dir.File($"audit-{run}.log") },
            StateDirectory = dir.File($"state-{run}"),
            Keys = guarded,
        }, env: env);
        using var client = signer.Client();
        await SignOneAsync(client, row.ReadOnly);
        Console.Error.WriteLine($"  {row.Name}: start-up to first signature {startup.Elapsed.TotalMilliseconds:0} ms");

        // Sequential latency.
        var sequential = quick ? 300 : 3000;
        var samples = new double[sequential];
        // Warm-up, sequential then concurrent, long enough for tiered compilation to finish
        // re-JITting the hot paths of both processes (seconds on a busy 2-core machine): the
        // figures are a long-running sidecar's steady state. BENCH_WARMUP_S overrides each phase's length.
        var warmupTime = TimeSpan.FromSeconds(double.Parse(Environment.GetEnvironmentVariable("BENCH_WARMUP_S") ?? "3", CultureInfo.InvariantCulture));
        var warmup = Stopwatch.StartNew();
        for (var i = 0; i < 200 || (!quick && warmup.Elapsed < warmupTime); i++)
        {
            await SignOneAsync(client, row.ReadOnly);
        }
        if (!quick)
        {
            await ConcurrentAsync(client, int.MaxValue, warmupTime, row.ReadOnly);
            await Task.Delay(200);
        }
        var cpuBefore = CpuMicros(signer.Pid);
        var clientBefore = CpuMicros(Environment.ProcessId);
        var wall = Stopwatch.StartNew();
        for (var i = 0; i < sequential; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await SignOneAsync(client, row.ReadOnly);
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        var cpuAfter = CpuMicros(signer.Pid);
        var clientAfter = CpuMicros(Environment.ProcessId);
        Console.Error.WriteLine($"  {row.Name}: signer CPU {(cpuAfter.Micros - cpuBefore.Micros) / sequential:0} µs and {(double)(cpuAfter.Switches - cpuBefore.Switches) / sequential:0.0} context switches per sequential call, client CPU {(clientAfter.Micros - clientBefore.Micros) / sequential:0} µs, wall {wall.Elapsed.TotalMicroseconds / sequential:0} µs");
        Array.Sort(samples);
        row.P50Micros = samples[samples.Length / 2];
        row.P99Micros = samples[(int)(samples.Length * 0.99)];

        // Throughput with 8 concurrent callers, bounded in count and time.
        var total = quick ? 4000 : 40_000;
        cpuBefore = CpuMicros(signer.Pid);
        clientBefore = CpuMicros(Environment.ProcessId);
        var channels = int.Parse(Environment.GetEnvironmentVariable("BENCH_CHANNELS") ?? "1", CultureInfo.InvariantCulture);
        var clients = Enumerable.Range(0, channels).Select(i => i == 0 ? client : signer.Client()).ToArray();
        if (channels > 1)
        {
            foreach (var c in clients)
            {
                await SignOneAsync(c, row.ReadOnly);
            }
            await ConcurrentAsync(clients, 4000, TimeSpan.FromSeconds(5), row.ReadOnly);
        }
        row.ThroughputPerSecond = await ConcurrentAsync(clients, total, TimeSpan.FromSeconds(30), row.ReadOnly);
        cpuAfter = CpuMicros(signer.Pid);
        clientAfter = CpuMicros(Environment.ProcessId);
        Console.Error.WriteLine($"  {row.Name}: signer CPU {(cpuAfter.Micros - cpuBefore.Micros) / total:0} µs and {(double)(cpuAfter.Switches - cpuBefore.Switches) / total:0.0} context switches per call with 8 callers, client CPU {(clientAfter.Micros - clientBefore.Micros) / total:0} µs");

        if (measureMemory)
        {
            var done = sequential + total;
            await ConcurrentAsync(client, Math.Max(0, 100_000 - done), TimeSpan.FromSeconds(120), row.ReadOnly);
            row.RssMiB = ReadRssMiB(signer.Pid);
        }
    }

    private static Task SignOneAsync(Uncoded.Client.SignerClient client, bool readOnly) => readOnly
        ? client.SignAsync("bench", "GET", "/api/v3/account", Encoding.ASCII.GetBytes(Payloads.Read()))
        : client.SignAsync("bench", "POST", "/api/v3/order", Encoding.ASCII.GetBytes(Payloads.Next()));

    private static Task<double> ConcurrentAsync(Uncoded.Client.SignerClient client, int total, TimeSpan limit, bool readOnly) =>
        ConcurrentAsync([client], total, limit, readOnly);

    private static async Task<double> ConcurrentAsync(Uncoded.Client.SignerClient[] clients, int total, TimeSpan limit, bool readOnly)
    {
        var remaining = total;
        using var cts = new CancellationTokenSource(limit);
        var sw = Stopwatch.StartNew();
        var done = 0;
        var callers = Enumerable.Range(0, 8).Select(async caller =>
        {
            var client = clients[caller % clients.Length];
            while (Interlocked.Decrement(ref remaining) >= 0 && !cts.IsCancellationRequested)
            {
                await SignOneAsync(client, readOnly);
                Interlocked.Increment(ref done);
            }
        });
        await Task.WhenAll(callers);
        return done / sw.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// A process's CPU time in µs (user + system from /proc/PID/stat, which keeps the time of
    /// threads that have exited; tick resolution, ample over a run of seconds) and its context
    /// switches (summed over the threads alive now: an approximation).
    /// </summary>
    private static (double Micros, long Switches) CpuMicros(int pid)
    {
        // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        long switches = 0;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) ||
                        line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        switches += long.Parse(line.Split(':')[1].Trim(), CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
                // The thread exited meanwhile.
            }
        }
        // USER_HZ is 100 on Linux.
        return (ticks * 10_000.0, switches);
    }

    private static double ReadRssMiB(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        var kib = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return kib / 1024.0;
    }
}

/// <summary>Fresh, realistic new-order payloads (a new timestamp and client order id each time).</summary>
internal static class Payloads
{
    private static long _counter;

    public static string Next()
    {
        var n = Interlocked.Increment(ref _counter);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        return $"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=50000.00&newClientOrderId=bench-{n}&recvWindow=5000&timestamp={now}";
    }

    public static string Read() => $"recvWindow=5000&timestamp={DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}";
}
