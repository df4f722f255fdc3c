using System.Runtime.InteropServices;

namespace Uncoded.Signer.Tests.Pkcs11;

/// <summary>One token of <see cref="InProcessSoftHsm"/>: the installation it lives in and its label.</summary>
internal sealed record InProcessToken(SoftHsm Hsm, string Label);

/// <summary>
/// The one SoftHSM installation this test process loads itself. SOFTHSM2_CONF is read from the
/// *native* environment at C_Initialize, and a module is initialised once per process (SoftHSM
/// lists its tokens only then), so every in-process test shares this configuration and runs in one
/// class, one at a time. Each test still gets its own token, made with its keys by the CLI (child
/// processes) before this process initialises the module. The module is loaded through OpenSC's
/// pkcs11-spy, whose log shows exactly which PKCS#11 calls the backend made.
/// </summary>
internal static partial class InProcessSoftHsm
{
    /// <summary>Every in-process test's token and the keys (label = key type) it needs.</summary>
    private static readonly Dictionary<string, string[]> Tokens = new()
    {
        ["pool"] = ["ed"],
        ["closed"] = ["ed"],
        ["logout"] = ["hmac"],
        ["pin"] = ["rsa", "ed", "hmac"],
        ["value-ed"] = ["ed"],
        ["value-rsa"] = ["rsa"],
        ["value-hmac"] = ["hmac"],
        ["usage-ed"] = ["ed"],
        ["usage-rsa"] = ["rsa"],
        ["usage-hmac"] = ["hmac"],
        ["decrypt"] = ["rsa"],
        ["short-hmac"] = [],
    };

    private static readonly Lazy<Task<SoftHsm>> Shared = new(CreateAsync);

    /// <summary>The token made for one test (a name from <see cref="Tokens"/>).</summary>
    public static async Task<InProcessToken> TokenAsync(string name)
    {
        Assert.True(Tokens.ContainsKey(name), $"no in-process token '{name}'");
        return new InProcessToken(await Shared.Value, name);
    }

    public static string SpyLog(InProcessToken token) => token.Hsm.Dir.File("spy.log");

    private static async Task<SoftHsm> CreateAsync()
    {
        var hsm = await SoftHsm.CreateAsync("unused");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => hsm.Dispose();
        var secretFile = hsm.Dir.Write("hmac.secret", Support.TestKeys.BinanceExampleSecret + "\n");
        foreach (var name in Tokens.Keys)
        {
            await hsm.InitTokenAsync(name); // one at a time: --init-token --free takes the next free slot
        }
        // Tokens are independent directories: their keys are made in parallel.
        await Task.WhenAll(Tokens.Select(async token =>
        {
            foreach (var key in token.Value)
            {
                if (key == "hmac")
                {
                    var import = await hsm.SignerAsync(["seal-into-token", "--hmac-secret-file", secretFile, .. hsm.KeyArgs("hmac", token.Key)]);
                    Assert.True(import.ExitCode == 0, import.ToString());
                }
                else
                {
                    await hsm.KeygenAsync(key == "ed" ? "ed25519" : "rsa2048", key, token.Key);
                }
            }
        }));
        SetEnv("SOFTHSM2_CONF", hsm.ConfPath);
        SetEnv("PKCS11SPY", SoftHsm.Module);
        SetEnv("PKCS11SPY_OUTPUT", hsm.Dir.File("spy.log"));
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
