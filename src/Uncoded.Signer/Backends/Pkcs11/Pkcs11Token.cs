using System.Collections.Concurrent;
using System.Security.Cryptography;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using ISession = Net.Pkcs11Interop.HighLevelAPI.ISession;
using Uncoded.Signer.Hardening;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Backends.Pkcs11;

/// <summary>
/// A session rented from <see cref="Pkcs11Token"/>; <see cref="Epoch"/> says which generation of
/// sessions it belongs to, <see cref="HandleGeneration"/> the module's handle generation when it was opened.
/// </summary>
internal sealed record Pkcs11Lease(ISession Session, int Epoch, int HandleGeneration);

/// <summary>
/// One logged-in token and a pool of sessions on it. A session serves one operation at a time, so
/// the pool (bounded by <see cref="Pkcs11KeySettings.Sessions"/>) lets concurrent signatures run in
/// parallel. When a session fails with a device or session error the whole generation is dropped;
/// the next rent finds the token again, opens a session and logs in again with the PIN kept in
/// locked memory. A rejected PIN is never presented twice: it makes the token permanently failed.
/// </summary>
internal sealed class Pkcs11Token : IDisposable
{
    /// <summary>
    /// Tokens (label and serial) whose PIN was rejected, or found locked or on its final try, by any
    /// key of this process: no key on such a token logs in again until the process restarts, so a
    /// process serving several keys from one token cannot spend one PIN attempt per key.
    /// </summary>
    private static readonly ConcurrentDictionary<string, SignerException> RejectedTokens = new(StringComparer.Ordinal);

    /// <summary>
    /// One login at a time per token in this process: keys on one token that all lost their
    /// sessions must not each present a stale PIN before the first refusal is recorded.
    /// </summary>
    private static readonly ConcurrentDictionary<string, Lock> TokenLoginGates = new(StringComparer.Ordinal);

    private readonly Pkcs11Module _module;
    private readonly Pkcs11KeySettings _settings;
    private readonly LockedBuffer _pin;
    private readonly bool _readWrite;
    private readonly ILogger _log;
    private readonly SemaphoreSlim _permits;
    private readonly ConcurrentBag<Pkcs11Lease> _idle = [];
    private readonly Lock _gate = new();
    private ISlot? _slot;
    private int _epoch;
    private int _logins;
    private bool _recovering;
    private SignerException? _pinRejected;
    private string? _tokenId;
    private int _disposed;

    /// <summary>Takes ownership of <paramref name="pin"/>.</summary>
    public Pkcs11Token(Pkcs11Module module, Pkcs11KeySettings settings, LockedBuffer pin, bool readWrite, ILogger log)
    {
        _module = module;
        _settings = settings;
        _pin = pin;
        _readWrite = readWrite;
        _log = log;
        _permits = new SemaphoreSlim(settings.Sessions, settings.Sessions);
        _module.Reinitialized += OnModuleReinitialized;
    }

    /// <summary>Opens the module and reads the PIN from its source; the PIN never becomes a string.</summary>
    public static Pkcs11Token Open(Pkcs11KeySettings settings, bool readWrite, ILogger log)
    {
        var module = Pkcs11Module.Open(settings.Module);
        try
        {
            var pinBytes = settings.Pin.Read("PIN");
            try
            {
                return new Pkcs11Token(module, settings, LockedBuffer.CopyOf(pinBytes), readWrite, log);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(pinBytes);
            }
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    public Pkcs11KeySettings Settings => _settings;

    public Pkcs11Module Module => _module;

    /// <summary>The token is not listed: ask the module to look again (rate-limited; see <see cref="Pkcs11Module.TryReinitialize"/>).</summary>
    public bool TryReinitializeModule()
    {
        try
        {
            return _module.TryReinitialize();
        }
        catch (SignerException)
        {
            return false;
        }
    }

    private void OnModuleReinitialized() =>
        Invalidate(Epoch, new SignerException(ErrorKind.Unavailable, "MODULE_REINITIALIZED", "the PKCS#11 module was initialised again"));

    /// <summary>Rents a logged-in session; waits while all <see cref="Pkcs11KeySettings.Sessions"/> are busy.</summary>
    public async ValueTask<Pkcs11Lease> RentAsync(CancellationToken cancellationToken)
    {
        await _permits.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (_idle.TryTake(out var lease))
            {
                if (lease.Epoch == Volatile.Read(ref _epoch))
                {
                    return lease;
                }
                Discard(lease);
            }
            return OpenLoggedIn();
        }
        catch
        {
            _permits.Release();
            throw;
        }
    }

    /// <summary>
    /// Gives a session back; a session that failed, or belongs to a dropped generation, is closed,
    /// unless its handle is dead (<paramref name="handleDead"/>, see <see cref="IsDeadHandle"/>).
    /// </summary>
    public void Return(Pkcs11Lease lease, bool healthy, bool handleDead = false)
    {
        if (healthy && lease.Epoch == Volatile.Read(ref _epoch) && Volatile.Read(ref _disposed) == 0)
        {
            _idle.Add(lease);
        }
        else if (handleDead)
        {
            _module.HandlesMayBeDead();
        }
        else
        {
            Discard(lease);
        }
        _permits.Release();
    }

    /// <summary>
    /// The failure means the session's handle no longer exists (closed by C_CloseAllSessions, token
    /// gone, module re-initialised). Such a handle must never be closed: tokens reuse handle
    /// numbers (SoftHSM does), so C_CloseSession on it could close a new session of ours, and the
    /// last one closing logs the application out.
    /// </summary>
    public static bool IsDeadHandle(SignerException? failure) =>
        failure?.Reason is "SESSION_LOST" or "TOKEN_NOT_PRESENT" or "DEVICE_REMOVED" or "MODULE_REINITIALIZED";

    /// <summary>
    /// Closes a session we no longer use, unless a handle of the module may have died since it was
    /// opened: then it is left alone (at worst a session leaks until the process ends).
    /// </summary>
    private void Discard(Pkcs11Lease lease)
    {
        if (lease.HandleGeneration == _module.HandleGeneration)
        {
            CloseQuietly(lease.Session);
        }
    }

    /// <summary>
    /// Drops every session of <paramref name="epoch"/> (they all share the token's login state, so
    /// one failing means the others are suspect) and forgets the slot: the token may come back in
    /// another slot. Later generations are left alone.
    /// </summary>
    public void Invalidate(int epoch, SignerException cause)
    {
        bool hadSlot;
        lock (_gate)
        {
            // Recorded even when another caller already dropped this generation for another reason.
            if (IsDeadHandle(cause))
            {
                _module.HandlesMayBeDead();
            }
            if (_epoch != epoch)
            {
                return;
            }
            Volatile.Write(ref _epoch, _epoch + 1);
            hadSlot = _slot is not null;
            _slot = null;
            _recovering = true;
        }
        var fresh = new List<Pkcs11Lease>();
        while (_idle.TryTake(out var lease))
        {
            if (lease.Epoch > epoch)
            {
                fresh.Add(lease); // opened by a caller that already recovered: keep it
            }
            else
            {
                Discard(lease);
            }
        }
        fresh.ForEach(_idle.Add);
        if (hadSlot)
        {
            // Once per outage, not once per attempt while the token stays away.
            Log.Pkcs11SessionsDropped(_log, _settings.TokenDescription, cause.Reason, cause.Message);
        }
    }

    /// <summary>The pool's current generation: a test (and a caller) can tell whether sessions were re-opened.</summary>
    public int Epoch => Volatile.Read(ref _epoch);

    /// <summary>
    /// How many times this process has logged in to the token. Object handles found before a
    /// login may be invalid after it (SoftHSM renumbers private objects once the token was logged
    /// out), even on sessions of the same generation: callers key their handle caches on it.
    /// </summary>
    public int Logins => Volatile.Read(ref _logins);

    private Pkcs11Lease OpenLoggedIn()
    {
        // Always Use() before _gate, never the other way round (see Pkcs11Module.TryReinitialize).
        using var use = _module.Use();
        lock (_gate)
        {
            if (_pinRejected is not null)
            {
                throw _pinRejected;
            }
            var epoch = _epoch;
            // Read before opening: a handle death noticed while we open makes this session suspect too.
            var handles = _module.HandleGeneration;
            var slot = _slot ??= FindSlot();
            ISession session;
            lock (TokenLoginGates.GetOrAdd(_tokenId!, _ => new Lock()))
            {
                if (RejectedTokens.TryGetValue(_tokenId!, out var rejected))
                {
                    _pinRejected = rejected; // another key of this process had its PIN refused by this token
                    throw rejected;
                }
                try
                {
                    session = slot.OpenSession(_readWrite ? SessionType.ReadWrite : SessionType.ReadOnly);
                }
                catch (Pkcs11Exception e)
                {
                    _slot = null;
                    throw Pkcs11Errors.Map(e, $"opening a session on {_settings.TokenDescription}");
                }
                try
                {
                    LogIn(slot, session);
                }
                catch
                {
                    CloseQuietly(session);
                    throw;
                }
                if (_recovering)
                {
                    _recovering = false;
                    Log.Pkcs11Recovered(_log, _settings.TokenDescription, slot.SlotId);
                }
            }
            return new Pkcs11Lease(session, epoch, handles);
        }
    }

    private void LogIn(ISlot slot, ISession session)
    {
        try
        {
            var state = session.GetSessionInfo().State;
            if (state is CKS.CKS_RO_USER_FUNCTIONS or CKS.CKS_RW_USER_FUNCTIONS)
            {
                return; // the token's login is shared by all of this process's sessions
            }
        }
        catch (Pkcs11Exception e)
        {
            _slot = null;
            throw Pkcs11Errors.Map(e, $"reading the session state of {_settings.TokenDescription}");
        }
        RefuseRiskyLogin(slot);
        // Pkcs11Interop wants a byte[]: the copy lives only for the call and is zeroed after it.
        var pin = _pin.Span.ToArray();
        try
        {
            session.Login(CKU.CKU_USER, pin);
            Interlocked.Increment(ref _logins);
        }
        catch (Pkcs11Exception e) when (e.RV == CKR.CKR_USER_ALREADY_LOGGED_IN)
        {
        }
        catch (Pkcs11Exception e)
        {
            var error = Pkcs11Errors.Map(e, $"logging in to {_settings.TokenDescription}");
            if (e.RV is CKR.CKR_PIN_INCORRECT or CKR.CKR_PIN_LOCKED or CKR.CKR_PIN_EXPIRED or CKR.CKR_PIN_INVALID or CKR.CKR_PIN_LEN_RANGE)
            {
                // Never again in this process, for any key on this token: a retry loop would lock a
                // YubiKey PIV PIN in three tries.
                RejectPin(error);
                Log.Pkcs11PinRejected(_log, _settings.TokenDescription, error.Reason);
            }
            else if (error.Kind == ErrorKind.Unavailable)
            {
                _slot = null;
            }
            throw error;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pin);
        }
    }

    private void RejectPin(SignerException error)
    {
        _pinRejected = error;
        RejectedTokens.TryAdd(_tokenId!, error);
    }

    /// <summary>
    /// A token that says the PIN is locked, or that one more wrong PIN locks it, gets no attempt
    /// from us: a restart loop (systemd, compose) must not be what locks a YubiKey.
    /// </summary>
    private void RefuseRiskyLogin(ISlot slot)
    {
        ITokenFlags flags;
        try
        {
            flags = slot.GetTokenInfo().TokenFlags;
        }
        catch (Pkcs11Exception e)
        {
            _slot = null;
            throw Pkcs11Errors.Map(e, $"reading the token info of {_settings.TokenDescription}");
        }
        if (flags.UserPinLocked || flags.UserPinFinalTry)
        {
            var doing = $"logging in to {_settings.TokenDescription}";
            var error = flags.UserPinLocked ? Pkcs11Errors.Map(CKR.CKR_PIN_LOCKED, doing) : Pkcs11Errors.PinFinalTry(doing);
            RejectPin(error);
            Log.Pkcs11PinRejected(_log, _settings.TokenDescription, error.Reason);
            throw error;
        }
    }

    private ISlot FindSlot()
    {
        List<ISlot> slots;
        try
        {
            slots = _module.Library.GetSlotList(SlotsType.WithTokenPresent);
        }
        catch (Pkcs11Exception e)
        {
            throw Pkcs11Errors.Map(e, $"listing the slots of '{_module.Path}'");
        }
        var seen = new List<string>();
        foreach (var slot in slots)
        {
            ITokenInfo info;
            try
            {
                info = slot.GetTokenInfo();
            }
            catch (Pkcs11Exception)
            {
                continue; // a token that vanished while we looked, or one this module cannot read
            }
            if (!info.TokenFlags.TokenInitialized)
            {
                continue; // e.g. SoftHSM's spare "free" slot
            }
            var label = info.Label.TrimEnd(' ', '\0');
            var serial = info.SerialNumber.TrimEnd(' ', '\0');
            seen.Add($"'{label}' (serial {serial})");
            if ((_settings.TokenLabel is not null && label == _settings.TokenLabel)
                || (_settings.TokenSerial is not null && string.Equals(serial, _settings.TokenSerial, StringComparison.OrdinalIgnoreCase)))
            {
                _tokenId = label + "\0" + serial;
                return slot;
            }
        }
        throw new SignerException(ErrorKind.Unavailable, "TOKEN_NOT_PRESENT",
            $"{_settings.TokenDescription} is not present in '{_module.Path}' (tokens present: {(seen.Count == 0 ? "none: is it plugged in, and can this user read the module's configuration and token files?" : string.Join(", ", seen))})");
    }

    private void CloseQuietly(ISession session)
    {
        using var use = _module.Use();
        try
        {
            session.Dispose(); // C_CloseSession
        }
        catch (Exception e) when (e is Pkcs11Exception or ObjectDisposedException)
        {
            // already closed by the token, by C_CloseAllSessions or by a module re-initialisation
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _module.Reinitialized -= OnModuleReinitialized;
        while (_idle.TryTake(out var lease))
        {
            Discard(lease);
        }
        _pin.Dispose();
        _permits.Dispose();
        _module.Dispose();
    }

    public override string ToString() => $"Pkcs11Token({_settings.TokenDescription}, PIN redacted)";
}
