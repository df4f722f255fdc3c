using System.Runtime.InteropServices;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Backends.Pkcs11;

/// <summary>
/// A loaded PKCS#11 module. C_Initialize may run only once per process for a module, so modules
/// are shared by path and finalized (C_Finalize) when the last user lets go.
/// </summary>
internal sealed class Pkcs11Module : IDisposable
{
    /// <summary>PKCS#11 3.0 names that Pkcs11Interop 5.3.0 does not have (PLATFORM.md).</summary>
    public const ulong CKK_EC_EDWARDS = 0x40;
    public const ulong CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
    public const ulong CKM_EDDSA = 0x1057;

    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, Pkcs11Module> Loaded = new(StringComparer.Ordinal);
    private static bool _resolverInstalled;
    private static readonly TimeSpan ReinitializeInterval = TimeSpan.FromSeconds(2);
    private readonly ReaderWriterLockSlim _use = new(LockRecursionPolicy.SupportsRecursion);
    private readonly string _realPath;
    private IPkcs11Library _library;
    private long _lastReinitialize = Environment.TickCount64;
    private int _references;
    private int _handleGeneration;

    private Pkcs11Module(string path, string realPath, IPkcs11Library library)
    {
        Path = path;
        _realPath = realPath;
        _library = library;
    }

    public static Pkcs11InteropFactories Factories { get; } = new();

    public string Path { get; }

    /// <summary>Use only inside <see cref="Use"/>: <see cref="TryReinitialize"/> replaces it.</summary>
    public IPkcs11Library Library => _library;

    /// <summary>
    /// Counts events after which some session handle of this module may be dead (closed by
    /// C_CloseAllSessions, token removed, module re-initialised). Handle numbers are per module
    /// and tokens reuse them, so a session opened before the last such event must not be closed
    /// by handle: that could close a newer session, of any key on this module.
    /// </summary>
    public int HandleGeneration => Volatile.Read(ref _handleGeneration);

    /// <summary>Records that a session handle of this module turned out dead.</summary>
    public void HandlesMayBeDead() => Interlocked.Increment(ref _handleGeneration);

    /// <summary>Raised after <see cref="TryReinitialize"/>: every session and slot of the old instance is gone.</summary>
    public event Action? Reinitialized;

    /// <summary>Holds off re-initialisation while PKCS#11 calls are in flight (shared; re-entrant).</summary>
    public Scope Use()
    {
        _use.EnterReadLock();
        return new Scope(_use);
    }

    /// <summary>
    /// C_Finalize + C_Initialize, at most every 2 s, once no call is in flight. Some modules
    /// (SoftHSM, several HSM clients) list tokens only at C_Initialize, so a token that went away
    /// and came back is only seen again by a fresh initialisation. Returns false when it did not run.
    /// </summary>
    public bool TryReinitialize()
    {
        if (Environment.TickCount64 - Interlocked.Read(ref _lastReinitialize) < (long)ReinitializeInterval.TotalMilliseconds
            || !_use.TryEnterWriteLock(TimeSpan.FromSeconds(5)))
        {
            return false;
        }
        try
        {
            if (Environment.TickCount64 - Interlocked.Read(ref _lastReinitialize) < (long)ReinitializeInterval.TotalMilliseconds)
            {
                return false;
            }
            Interlocked.Exchange(ref _lastReinitialize, Environment.TickCount64);
            try
            {
                _library.Dispose();
            }
            catch (Pkcs11Exception)
            {
                // C_Finalize failing still leaves us free to initialise again
            }
            _library = Load(Path);
        }
        finally
        {
            _use.ExitWriteLock();
        }
        Reinitialized?.Invoke();
        return true;
    }

    /// <summary>Loads (or shares) the module at <paramref name="path"/>, initialised for multi-threaded use.</summary>
    public static Pkcs11Module Open(string path)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        lock (Gate)
        {
            if (!File.Exists(fullPath))
            {
                throw new SignerException(ErrorKind.Configuration, "PKCS11_MODULE_NOT_FOUND", $"PKCS#11 module '{fullPath}' does not exist");
            }
            // Shared by the file itself (device and inode): paths through symlinks (/lib is /usr/lib
            // on Debian) or hard links are one library to dlopen, which must not be initialised and
            // finalised by two owners. Messages keep the path given.
            var realPath = Hardening.Posix.TryFileId(fullPath, out var id) ? $"{id.Device}:{id.Inode}" : fullPath;
            if (!Loaded.TryGetValue(realPath, out var module))
            {
                InstallResolver();
                module = new Pkcs11Module(fullPath, realPath, Load(fullPath));
                Loaded[realPath] = module;
            }
            module._references++;
            return module;
        }
    }

    private static IPkcs11Library Load(string path)
    {
        try
        {
            return Factories.Pkcs11LibraryFactory.LoadPkcs11Library(Factories, path, AppType.MultiThreaded);
        }
        catch (Pkcs11Exception e)
        {
            // C_Initialize reads the module's own configuration (SoftHSM: SOFTHSM2_CONF and its
            // token directory): a failure there is a setup problem, not a token's.
            var mapped = Pkcs11Errors.Map(e, $"initialising PKCS#11 module '{path}'");
            throw mapped.Kind == ErrorKind.Unavailable && e.RV is CKR.CKR_GENERAL_ERROR or CKR.CKR_FUNCTION_FAILED or CKR.CKR_DEVICE_ERROR
                ? new SignerException(ErrorKind.Configuration, "PKCS11_MODULE_INIT_FAILED",
                    $"PKCS#11 module '{path}' failed to initialise ({e.RV}): check its configuration and that this user can read and write its files (SoftHSM: SOFTHSM2_CONF, and a token directory owned by this user)",
                    mapped.Metadata, e)
                : mapped;
        }
        catch (Exception e) when (e is not SignerException)
        {
            throw new SignerException(ErrorKind.Configuration, "PKCS11_MODULE_LOAD_FAILED",
                $"PKCS#11 module '{path}' could not be loaded ({e.GetType().Name}: {e.Message})", inner: e);
        }
    }

    public void Dispose()
    {
        lock (Gate)
        {
            if (--_references > 0)
            {
                return;
            }
            Loaded.Remove(_realPath);
            _library.Dispose();
        }
    }

    /// <summary>
    /// Pkcs11Interop dlopens through "libdl"; Debian 12 ships only libdl.so.2 (PLATFORM.md).
    /// The resolver may be set once per assembly, and only answers for that one name.
    /// </summary>
    private static void InstallResolver()
    {
        if (_resolverInstalled)
        {
            return;
        }
        NativeLibrary.SetDllImportResolver(typeof(Pkcs11InteropFactories).Assembly, static (name, _, _) =>
            name == "libdl" && (NativeLibrary.TryLoad("libdl.so.2", out var handle) || NativeLibrary.TryLoad("libdl.so", out handle))
                ? handle
                : IntPtr.Zero);
        _resolverInstalled = true;
    }

    public readonly struct Scope(ReaderWriterLockSlim gate) : IDisposable
    {
        public void Dispose() => gate.ExitReadLock();
    }
}
