using System.Diagnostics;
using System.Globalization;
using System.Text;
using Uncoded.Bench;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Tests.Support;

// One process run measures every row, so ratios are comparable on a noisy machine.
// Usage: dotnet run -c Release --project bench/Uncoded.Bench [-- --quick] [--no-softhsm] [--out FILE]
// --quick runs small counts (test.sh uses it to prove the harness works end to end; its figures mean little).
// --only ed25519,read measures only the named rows (hmac, ed25519, rsa2048, read; SoftHSM rows need "softhsm"),
// for quick A/B runs while tuning; --no-memory skips the 100k-sign RSS run.
var quick = args.Contains("--quick");
var onlyIndex = Array.IndexOf(args, "--only");
var only = onlyIndex >= 0 && onlyIndex + 1 < args.Length ? args[onlyIndex + 1].Split(',') : null;
bool Wanted(string row) => only is null || only.Contains(row, StringComparer.Ordinal);
var measureRss = !args.Contains("--no-memory");
var outIndex = Array.IndexOf(args, "--out");
var outPath = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : Path.Combine(Repo.Root, "bench", "results.md");
var rows = new List<Row>();
using var dir = new TempDir("uncoded-bench-");

// Stopped by SIGTERM or Ctrl-C: no signer child outlives the harness, no key file stays behind.
using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, Cleanup.OnSignal);
using var onInt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, Cleanup.OnSignal);

foreach (var (name, type) in new[] { ("sealed HMAC", "hmac"), ("sealed Ed25519", "ed25519"), ("sealed RSA-2048", "rsa2048") })
{
    if (!Wanted(type))
    {
        continue;
    }
    var keyFiles = type == "hmac" ? TestKeys.SealHmac(dir, type + ".sealed") : TestKeys.SealGenerated(dir, type + ".sealed", type);
    var row = new Row(name);
    using (var key = Uncoded.Signer.Backends.SealedFile.SealedFileStore.LoadKey(keyFiles.SealedPath,
        new Uncoded.Signer.Secrets.SecretSource(File: keyFiles.PassphrasePath)))
    {
        row.InProcessMicros = await Measure.InProcessAsync(key, type == "rsa2048" ? 500 : 5000);
    }
    await Measure.RpcAsync(row, dir, keyFiles, quick, measureMemory: type == "ed25519" && !quick && measureRss);
    rows.Add(row);
    Console.Error.WriteLine($"measured {name}");
}

if (!args.Contains("--no-softhsm") && Wanted("softhsm"))
{
    rows.AddRange(await SoftHsmRows.MeasureAsync(quick));
}

// The same sealed Ed25519 key signing reads: no rolling-cap state to persist, only the audit record.
if (Wanted("read"))
{
    var keyFiles = TestKeys.SealGenerated(dir, "read.sealed", "ed25519");
    var row = new Row("sealed Ed25519, GET /api/v3/account", readOnly: true);
    using (var key = Uncoded.Signer.Backends.SealedFile.SealedFileStore.LoadKey(keyFiles.SealedPath,
        new Uncoded.Signer.Secrets.SecretSource(File: keyFiles.PassphrasePath)))
    {
        row.InProcessMicros = await Measure.InProcessAsync(key, 5000);
    }
    await Measure.RpcAsync(row, dir, keyFiles, quick, measureMemory: false);
    rows.Insert(Math.Min(3, rows.Count), row);
}

var table = Row.Table(rows);
Console.WriteLine(table);
var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim() ?? "?";
File.WriteAllText(outPath,
    $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores ({cpu}), .NET {Environment.Version}.\n\n{table}\n");
return 0;
