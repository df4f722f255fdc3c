using System.Collections.Frozen;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Backends.Pkcs11;
using Uncoded.Signer.Backends.SealedFile;

namespace Uncoded.Signer.Service;

/// <summary>
/// The keys the signer serves, loaded once at start-up. Signing goes through the ring, which
/// counts signatures in flight: disposal (shutdown) refuses new ones and frees the key material
/// only once none is using it, so a signature still running when the host's shutdown timeout
/// ends never reads freed memory.
/// </summary>
internal sealed class KeyRing : IDisposable
{
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(10);
    private readonly FrozenDictionary<string, LoadedKey> _keys;
    private int _inFlight;
    private int _closed;

    public KeyRing(IEnumerable<LoadedKey> keys) => _keys = keys.ToFrozenDictionary(k => k.Id, StringComparer.Ordinal);

    public static KeyRing Load(SignerSettings settings, ILogger? log = null)
    {
        var loaded = new List<LoadedKey>();
        try
        {
            foreach (var key in settings.Keys.Values)
            {
                try
                {
                    loaded.Add(new LoadedKey(key.Id, key.ApiKey, key.Pkcs11 is { } pkcs11
                        ? LoadPkcs11(key.Id, pkcs11, log ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance)
                        : SealedFileStore.LoadKey(key.SealedFilePath, key.Passphrase)));
                }
                catch (SignerException e)
                {
                    // With several keys the operator must know which one to fix.
                    var where = key.Pkcs11 is null ? $"sealed file {key.SealedFilePath}" : key.BackendName;
                    throw new SignerException(e.Kind, e.Reason, $"key '{key.Id}' ({where}): {e.Message}", e.Metadata, e);
                }
            }
            return new KeyRing(loaded);
        }
        catch
        {
            loaded.ForEach(k => k.Key.Dispose());
            throw;
        }
    }

    private static Pkcs11Key LoadPkcs11(string id, Pkcs11KeySettings settings, ILogger log)
    {
        var key = Pkcs11Key.OpenAsync(settings, log, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        if (key.Extractable)
        {
            Log.Pkcs11KeyExtractable(log, id);
        }
        return key;
    }

    public bool TryGet(string id, out LoadedKey key) => _keys.TryGetValue(id, out key!);

    public IEnumerable<LoadedKey> All => _keys.Values;

    /// <summary>Signs with <paramref name="key"/> unless the ring is shutting down (SHUTTING_DOWN, UNAVAILABLE).</summary>
    public async ValueTask<byte[]> SignAsync(LoadedKey key, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        // Increment (a full fence) before reading _closed; Dispose sets _closed (a full fence) before reading _inFlight.
        Interlocked.Increment(ref _inFlight);
        try
        {
            if (Volatile.Read(ref _closed) != 0)
            {
                throw new SignerException(ErrorKind.Unavailable, "SHUTTING_DOWN", "the signer is shutting down");
            }
            return await key.Key.SignAsync(payload, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    /// <summary>
    /// Refuses new signatures, waits up to <see cref="DrainTimeout"/> for those in flight, then
    /// zeroes and frees every key. Returns false (and frees nothing) if some are still running:
    /// the process is exiting, and leaking is safe where freeing under a reader is not.
    /// </summary>
    public bool Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return true;
        }
        var deadline = Environment.TickCount64 + (long)DrainTimeout.TotalMilliseconds;
        while (Volatile.Read(ref _inFlight) > 0)
        {
            if (Environment.TickCount64 > deadline)
            {
                return false;
            }
            Thread.Sleep(1);
        }
        foreach (var key in _keys.Values)
        {
            key.Key.Dispose();
        }
        return true;
    }

    public void Dispose() => Close();
}

internal sealed record LoadedKey(string Id, string ApiKey, ISigningKey Key);
