using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Uncoded.Signer.Backends.Pkcs11;
using Uncoded.Signer.Secrets;
using Uncoded.Signer.Tests.Pkcs11;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Bench;

/// <summary>
/// SoftHSM rows: the same key measured three ways — the backend in-process, raw Pkcs11Interop
/// `C_Sign` calls on as many sessions (and threads) as the signer is given, and the full Sign RPC.
/// </summary>
internal static partial class SoftHsmRows
{
    public const int Sessions = 2;

    public static async Task<List<Row>> MeasureAsync(bool quick)
    {
        var rows = new List<Row>();
        using var hsm = await SoftHsm.CreateAsync("bench");
        // In-process use reads SOFTHSM2_CONF at C_Initialize: set it before the module is loaded.
        // .NET keeps its own copy of the environment; the module reads the native one.
        if (setenv("SOFTHSM2_CONF", hsm.ConfPath, 1) != 0)
        {
            throw new InvalidOperationException("setenv failed");
        }
        await hsm.KeygenAsync("ed25519", "ed");
        await hsm.KeygenAsync("rsa2048", "rsa");
        var secret = hsm.Dir.Write("hmac-secret", TestKeys.BinanceExampleSecret);
        var seal = await hsm.SignerAsync(["seal-into-token", "--hmac-secret-file", secret, .. hsm.KeyArgs("hmac")]);
        if (seal.ExitCode != 0)
        {
            throw new InvalidOperationException(seal.ToString());
        }

        foreach (var (name, label) in new[] { ("SoftHSM HMAC", "hmac"), ("SoftHSM Ed25519", "ed"), ("SoftHSM RSA-2048", "rsa") })
        {
            var row = new Row(name) { Sessions = Sessions };
            var settings = new Pkcs11KeySettings(SoftHsm.Module, hsm.Label, null, label, null, new SecretSource(File: hsm.PinFile), Sessions);
            using (var key = await Pkcs11Key.OpenAsync(settings, NullLogger.Instance, default))
            {
                var iterations = label == "rsa" ? 300 : 2000;
                row.InProcessMicros = await Measure.InProcessAsync(key, quick ? iterations / 4 : iterations);
                (row.RawPkcs11Micros, row.RawThroughputPerSecond) = await RawAsync(key, quick ? iterations / 2 : iterations * 2);
            }
            await Measure.RpcAsync(row, hsm.Dir, new Dictionary<string, object> { ["bench"] = hsm.KeyConfig(label, Sessions) }, hsm.Env, quick);
            rows.Add(row);
            Console.Error.WriteLine($"measured {name}");
        }
        return rows;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);

    /// <summary>Raw C_Sign: one call's time on one session, then the rate with one thread per session.</summary>
    private static async Task<(double Micros, double PerSecond)> RawAsync(Pkcs11Key key, int total)
    {
        var data = Encoding.ASCII.GetBytes(Payloads.Next());
        var leases = new List<Pkcs11Lease>();
        for (var i = 0; i < Sessions; i++)
        {
            leases.Add(await key.Token.RentAsync(default));
        }
        try
        {
            var handle = Pkcs11Objects.FindSigningKey(leases[0].Session, key.Token.Settings).Handle;
            var mechanismType = Pkcs11Objects.Mechanism(key.Algorithm);
            void SignOnce(Pkcs11Lease lease)
            {
                using var mechanism = Pkcs11Module.Factories.MechanismFactory.Create(mechanismType);
                lease.Session.Sign(mechanism, handle, data);
            }
            for (var i = 0; i < 50; i++)
            {
                SignOnce(leases[0]);
            }
            var single = Math.Max(1, total / 4);
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < single; i++)
            {
                SignOnce(leases[0]);
            }
            var micros = sw.Elapsed.TotalMicroseconds / single;

            var remaining = total;
            sw.Restart();
            var threads = leases.Select(lease => Task.Factory.StartNew(() =>
            {
                while (Interlocked.Decrement(ref remaining) >= 0)
                {
                    SignOnce(lease);
                }
            }, TaskCreationOptions.LongRunning)).ToArray();
            await Task.WhenAll(threads);
            return (micros, total / sw.Elapsed.TotalSeconds);
        }
        finally
        {
            foreach (var lease in leases)
            {
                key.Token.Return(lease, healthy: true);
            }
        }
    }
}
