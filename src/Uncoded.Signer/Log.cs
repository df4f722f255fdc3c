namespace Uncoded.Signer;

/// <summary>All of the signer's log events, with fixed ids. No event ever carries secret material.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Signer listening on unix:{SocketPath} (mode 0660), keys: {KeyIds}, allowed uids: {Uids}, allowed gids: {Gids}")]
    public static partial void Listening(ILogger logger, string socketPath, string keyIds, string uids, string gids);

    [LoggerMessage(2, LogLevel.Warning, "Refused peer pid={Pid} uid={Uid} gid={Gid}: not in the allowlist")]
    public static partial void PeerRefused(ILogger logger, int pid, uint uid, uint gid);

    [LoggerMessage(3, LogLevel.Warning, "Refused peer: credentials unavailable ({Detail})")]
    public static partial void PeerUnknown(ILogger logger, string detail);

    [LoggerMessage(4, LogLevel.Debug, "Signed key={KeyId} {Method} {Path} ({Algorithm})")]
    public static partial void Signed(ILogger logger, string keyId, string method, string path, string algorithm);

    [LoggerMessage(5, LogLevel.Warning, "Refused Sign key={KeyId} path={Path}: {Reason} ({Detail}) peer pid={Pid} uid={Uid}")]
    public static partial void Refused(ILogger logger, string keyId, string path, string reason, string detail, int pid, uint uid);

    [LoggerMessage(6, LogLevel.Error, "Internal error while signing ({ExceptionType})")]
    public static partial void InternalError(ILogger logger, string exceptionType);

    [LoggerMessage(7, LogLevel.Information, "Removed stale socket {SocketPath} (no live signer behind it)")]
    public static partial void StaleSocketRemoved(ILogger logger, string socketPath);

    [LoggerMessage(8, LogLevel.Information, "Loaded key {KeyId} ({Algorithm}, {Backend})")]
    public static partial void KeyLoaded(ILogger logger, string keyId, string algorithm, string backend);

    // 100-199: PKCS#11 backend.

    [LoggerMessage(100, LogLevel.Warning, "PKCS#11 {Token}: dropped its sessions after {Reason} ({Detail}); the next signature re-opens a session and logs in again")]
    public static partial void Pkcs11SessionsDropped(ILogger logger, string token, string reason, string detail);

    [LoggerMessage(101, LogLevel.Information, "PKCS#11 {Token}: back in slot {SlotId}, session re-opened and logged in again")]
    public static partial void Pkcs11Recovered(ILogger logger, string token, ulong slotId);

    [LoggerMessage(102, LogLevel.Error, "PKCS#11 {Token}: PIN refused ({Reason}); it will not be presented again by this process")]
    public static partial void Pkcs11PinRejected(ILogger logger, string token, string reason);

    [LoggerMessage(103, LogLevel.Warning, "PKCS#11 key {KeyId}: the token marks it extractable (CKA_EXTRACTABLE=true); generate keys with `uncoded-signer keygen --pkcs11-module ...` so they cannot leave the token")]
    public static partial void Pkcs11KeyExtractable(ILogger logger, string keyId);
}
