using System.Runtime.InteropServices;

namespace Uncoded.Signer.Tests.Pkcs11;

/// <summary>
/// The one SoftHSM this test process loads itself. SOFTHSM2_CONF is read from the *native*
/// environment at C_Initialize, and a module is initialised once per process, so every in-process
/// test shares this configuration (and runs in one class, one at a time). The module is loaded
/// through OpenSC's pkcs11-spy, whose log shows exactly which PKCS#11 calls the backend made.
/// Keys are made by the CLI (child processes) before this process initialises the module.
/// </summary>
internal static partial class InProcessSoftHsm
{
    private static readonly Lazy<Task<SoftHsm>> Shared = new(CreateAsync);

    public static Task<SoftHsm> GetAsync() => Shared.Value;

    public static string SpyLog(SoftHsm hsm) => hsm.Dir.File("spy.log");

    private static async Task<SoftHsm> CreateAsync()
    {
        var hsm = await SoftHsm.CreateAsync("inproc");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => hsm.Dispose();
        await hsm.KeygenAsync("ed25519", "ed");
        await hsm.KeygenAsync("rsa2048", "rsa");
        var secretFile = hsm.Dir.Write("hmac.secret", Support.TestKeys.BinanceExampleSecret + "\n");
        var import = await hsm.SignerAsync(["seal-into-token", "--hmac-secret-file", secretFile, .. hsm.KeyArgs("hmac")]);
        Assert.True(import.ExitCode == 0, import.ToString());
        SetEnv("SOFTHSM2_CONF", hsm.ConfPath);
        SetEnv("PKCS11SPY", SoftHsm.Module);
        SetEnv("PKCS11SPY_OUTPUT", SpyLog(hsm));
        return hsm;
    }

    private static void SetEnv(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value); // children
        Assert.Equal(0, setenv(name, value, 1)); // this process's native code (.NET keeps its own copy)
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
