using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Backends.Pkcs11;

/// <summary>
/// A key that never leaves its token. Signs on a pooled, logged-in session; a session or device
/// failure drops the session generation and is retried once on a fresh session (re-login included),
/// so a token that lost our sessions is transparent to the caller and a token that is gone answers
/// <see cref="ErrorKind.Unavailable"/>.
/// </summary>
internal sealed class Pkcs11Key : ISigningKey
{
    private readonly Pkcs11Token _token;
    private readonly ulong _mechanism;
    private volatile CachedHandle _handle;

    private Pkcs11Key(Pkcs11Token token, Pkcs11FoundKey found, int epoch)
    {
        _token = token;
        Algorithm = found.Algorithm;
        PublicKeyPem = found.PublicKeyPem;
        Extractable = found.Extractable;
        _mechanism = Pkcs11Objects.Mechanism(found.Algorithm);
        _handle = new CachedHandle(epoch, token.Logins, found.Handle);
    }

    /// <summary>
    /// Opens the token, logs in once and finds the key: a wrong PIN, a missing token or key fails
    /// here, at start-up, with a clear message.
    /// </summary>
    public static async ValueTask<Pkcs11Key> OpenAsync(Pkcs11KeySettings settings, ILogger log, CancellationToken cancellationToken)
    {
        var token = Pkcs11Token.Open(settings, readWrite: false, log);
        try
        {
            var lease = await token.RentAsync(cancellationToken).ConfigureAwait(false);
            var healthy = false;
            try
            {
                using (token.Module.Use())
                {
                    var found = Pkcs11Objects.FindSigningKey(lease.Session, settings);
                    healthy = true;
                    return new Pkcs11Key(token, found, lease.Epoch);
                }
            }
            finally
            {
                token.Return(lease, healthy);
            }
        }
        catch
        {
            token.Dispose();
            throw;
        }
    }

    public KeyAlgorithm Algorithm { get; }

    public string? PublicKeyPem { get; }

    /// <summary>True when the token would let the key be exported (CKA_EXTRACTABLE): worth a warning.</summary>
    public bool Extractable { get; }

    public Pkcs11Token Token => _token;

    public async ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var data = payload.ToArray();
        for (var attempt = 1; ; attempt++)
        {
            Pkcs11Lease lease;
            try
            {
                lease = await _token.RentAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (SignerException e) when (e.Reason == "TOKEN_NOT_PRESENT" && attempt == 1 && _token.TryReinitializeModule())
            {
                continue; // the module was initialised again and may list the token now
            }
            SignerException? failure = null;
            try
            {
                using (_token.Module.Use())
                {
                    var handle = HandleFor(lease);
                    using var mechanism = Pkcs11Module.Factories.MechanismFactory.Create(_mechanism);
                    return lease.Session.Sign(mechanism, handle, data);
                }
            }
            catch (Pkcs11Exception e)
            {
                failure = Pkcs11Errors.Map(e, $"signing with {_token.Settings.KeyDescription}");
            }
            catch (ObjectDisposedException)
            {
                failure = new SignerException(ErrorKind.Unavailable, "SESSION_LOST", "the PKCS#11 module was initialised again under this session");
            }
            catch (SignerException e) when (e.Kind == ErrorKind.Unavailable)
            {
                failure = e;
            }
            finally
            {
                _token.Return(lease, healthy: failure is null || failure.Kind != ErrorKind.Unavailable, handleDead: Pkcs11Token.IsDeadHandle(failure));
            }
            if (failure.Kind != ErrorKind.Unavailable)
            {
                throw failure;
            }
            _token.Invalidate(lease.Epoch, failure);
            if (attempt >= 2)
            {
                throw failure;
            }
        }
    }

    /// <summary>Object handles are per session generation and per login: look the key up again after a recovery or a re-login.</summary>
    private IObjectHandle HandleFor(Pkcs11Lease lease)
    {
        var cached = _handle;
        var logins = _token.Logins;
        if (cached.Epoch == lease.Epoch && cached.Logins == logins)
        {
            return cached.Handle;
        }
        var found = Pkcs11Objects.FindSigningKey(lease.Session, _token.Settings);
        if (found.Algorithm != Algorithm)
        {
            throw new SignerException(ErrorKind.Configuration, "KEY_CHANGED",
                $"{_token.Settings.KeyDescription} is now a {found.Algorithm} key (was {Algorithm}); restart the signer");
        }
        _handle = new CachedHandle(lease.Epoch, logins, found.Handle);
        return found.Handle;
    }

    public void Dispose() => _token.Dispose();

    private sealed record CachedHandle(int Epoch, int Logins, IObjectHandle Handle);

    public override string ToString() => $"Pkcs11Key({Algorithm}, {_token.Settings.KeyDescription}, {_token.Settings.TokenDescription})";
}
