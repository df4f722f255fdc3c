using System.Collections.Frozen;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Backends.Pkcs11;
using Uncoded.Signer.Backends.SealedFile;

namespace Uncoded.Signer.Service;

/// <summary>The keys the signer serves, loaded once at start-up.</summary>
internal sealed class KeyRing : IDisposable
{
    private readonly FrozenDictionary<string, LoadedKey> _keys;

    public KeyRing(IEnumerable<LoadedKey> keys) => _keys = keys.ToFrozenDictionary(k => k.Id, StringComparer.Ordinal);

    public static KeyRing Load(SignerSettings settings, ILogger? log = null)
    {
        var loaded = new List<LoadedKey>();
        try
        {
            foreach (var key in settings.Keys.Values)
            {
                loaded.Add(new LoadedKey(key.Id, key.ApiKey, key.Pkcs11 is { } pkcs11
                    ? LoadPkcs11(key.Id, pkcs11, log ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance)
                    : SealedFileStore.LoadKey(key.SealedFilePath, key.Passphrase)));
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

    public void Dispose()
    {
        foreach (var key in _keys.Values)
        {
            key.Key.Dispose();
        }
    }
}

internal sealed record LoadedKey(string Id, string ApiKey, ISigningKey Key);
