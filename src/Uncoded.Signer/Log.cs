namespace Uncoded.Signer;

/// <summary>All of the signer's log events, with fixed ids. No event ever carries secret material.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Signer listening on unix:{SocketPath} (mode 0660), keys: {KeyIds}, allowed uids: {Uids}, allowed gids: {Gids}")]
    public static partial void Listening(ILogger logger, string socketPath, string keyIds, string uids, string gids);

    [LoggerMessage(2, LogLevel.Warning, "Refused peer pid={Pid} uid={Uid} gid={Gid}: not in the allowlist")]
    public static partial void PeerRefused(ILogger logger, int pid, uint uid, uint gid);

    [LoggerMessage(10, LogLevel.Warning, "Refused peer uid={Uid}: more than {PerMinute} connections this minute; the rest of the minute is counted, not logged one by one")]
    public static partial void PeerRefusalsSilenced(ILogger logger, uint uid, int perMinute);

    [LoggerMessage(11, LogLevel.Warning, "Refused peer uid={Uid}: {Count} connections refused in the previous minute")]
    public static partial void PeerRefusalsCounted(ILogger logger, uint uid, int count);

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

    [LoggerMessage(9, LogLevel.Warning, "Signatures still running {Seconds} s after shutdown began: key memory is left to the exiting process rather than freed under them")]
    public static partial void KeysStillInUse(ILogger logger, int seconds);

    // 100-199: PKCS#11 backend.

    [LoggerMessage(100, LogLevel.Warning, "PKCS#11 {Token}: dropped its sessions after {Reason} ({Detail}); the next signature re-opens a session and logs in again")]
    public static partial void Pkcs11SessionsDropped(ILogger logger, string token, string reason, string detail);

    [LoggerMessage(101, LogLevel.Information, "PKCS#11 {Token}: back in slot {SlotId}, session re-opened and logged in again")]
    public static partial void Pkcs11Recovered(ILogger logger, string token, ulong slotId);

    [LoggerMessage(102, LogLevel.Error, "PKCS#11 {Token}: PIN refused ({Reason}); it will not be presented again by this process")]
    public static partial void Pkcs11PinRejected(ILogger logger, string token, string reason);

    [LoggerMessage(103, LogLevel.Warning, "PKCS#11 key {KeyId}: the token marks it extractable (CKA_EXTRACTABLE=true); generate keys with `uncoded-signer keygen --pkcs11-module ...` so they cannot leave the token")]
    public static partial void Pkcs11KeyExtractable(ILogger logger, string keyId);

    // 200-299: guards.
    [LoggerMessage(200, LogLevel.Information, "Guard state for key {KeyId}: 24 h notional {Total} (state directory {Path})")]
    public static partial void GuardStateLoaded(ILogger logger, string keyId, string total, string path);

    [LoggerMessage(201, LogLevel.Warning, "Rolling-cap checkpoint {Path} cannot be written ({ExceptionType}: {Detail}); the audit log still holds every counted order, start-up will replay more of it")]
    public static partial void CapCheckpointFailed(ILogger logger, string path, string exceptionType, string detail);

    [LoggerMessage(203, LogLevel.Information, "Rolling-cap checkpoint {Path} written again")]
    public static partial void CapCheckpointRecovered(ILogger logger, string path);

    [LoggerMessage(204, LogLevel.Information, "Rolling caps rebuilt: {Orders} counted orders replayed from the audit log after seq {FromSeq} ({Released} unsigned records gave notional back; log ends at seq {LastSeq})")]
    public static partial void CapReplayed(ILogger logger, int orders, ulong fromSeq, int released, ulong lastSeq);

    [LoggerMessage(205, LogLevel.Information, "Rolling cap of key {KeyId} imported from {Path} (state file of an earlier build); it is removed once the checkpoint holds it")]
    public static partial void CapLegacyImported(ILogger logger, string keyId, string path);

    [LoggerMessage(206, LogLevel.Information, "Key {KeyId}: the order allowed at audit seq {Seq} was not signed ({Reason}); its notional is given back to the 24 h cap (unsigned record, audit seq {UnsignedSeq})")]
    public static partial void OrderGivenBack(ILogger logger, string keyId, ulong seq, string reason, ulong unsignedSeq);

    [LoggerMessage(207, LogLevel.Warning, "Key {KeyId}: the order allowed at audit seq {Seq} was not signed ({Reason}), but its unsigned record cannot be written ({AuditReason}): its notional stays counted against the 24 h cap")]
    public static partial void OrderNotGivenBack(ILogger logger, string keyId, ulong seq, string reason, string auditReason);

    [LoggerMessage(202, LogLevel.Information, "Guards for key {KeyId}: endpoints [{Endpoints}], symbols [{Symbols}], order types [{OrderTypes}], max 24 h notional {MaxDaily}, skew ±{SkewMs} ms, recvWindow ≤ {RecvWindowMs} ms, {PerMinute}/min per key, {PerPeer}/min per peer")]
    public static partial void GuardsConfigured(ILogger logger, string keyId, string endpoints, string symbols, string orderTypes, string maxDaily,
        int skewMs, int recvWindowMs, int perMinute, int perPeer);

    // 300-399: audit log.
    [LoggerMessage(300, LogLevel.Information, "Audit log {Path} created with a new genesis")]
    public static partial void AuditCreated(ILogger logger, string path);

    [LoggerMessage(301, LogLevel.Information, "Audit log {Path} continued after seq {Seq} (tail verified)")]
    public static partial void AuditContinued(ILogger logger, string path, ulong seq);

    [LoggerMessage(305, LogLevel.Information, "Audit log {Path} rotated: records up to seq {Seq} archived as {Archive}; the new file's header continues the chain")]
    public static partial void AuditRotated(ILogger logger, string path, string archive, ulong seq);

    [LoggerMessage(306, LogLevel.Warning, "Audit log {Path} could not be rotated ({ExceptionType}: {Detail}); it goes on growing, next try at {RetryAtBytes} bytes")]
    public static partial void AuditRotationFailed(ILogger logger, string path, string exceptionType, string detail, long retryAtBytes);

    [LoggerMessage(307, LogLevel.Warning, "Audit log {Path}: a rotation was interrupted before its rename (crash); its spare files were removed and the log goes on as it was")]
    public static partial void AuditRotationUndone(ILogger logger, string path);

    [LoggerMessage(302, LogLevel.Critical, "Audit log {Path} cannot be written ({ExceptionType}: {Detail}); refusing every signature until restart")]
    public static partial void AuditFailed(ILogger logger, string path, string exceptionType, string detail);

    [LoggerMessage(303, LogLevel.Error, "A refusal ({Reason}) could not be audited: {Detail}")]
    public static partial void RefusalNotAudited(ILogger logger, string reason, string detail);

    [LoggerMessage(304, LogLevel.Warning, "{Count} refusals of peer uid {Uid} over the refusal budget were counted, not recorded one by one (reasons {Reasons}); summary record written")]
    public static partial void RefusalsCounted(ILogger logger, uint uid, string count, string reasons);

    [LoggerMessage(208, LogLevel.Warning, "The wall clock is {Seconds} s ahead of the monotonic clock (stepped forward?): the rolling caps age by the monotonic clock until the two agree again (or the signer restarts)")]
    public static partial void ClockSteppedForward(ILogger logger, long seconds);

    // 400-499: process hardening.
    [LoggerMessage(400, LogLevel.Information, "Hardening in effect: {Item}")]
    public static partial void HardeningApplied(ILogger logger, string item);

    [LoggerMessage(401, LogLevel.Warning, "Hardening NOT in effect: {Item}")]
    public static partial void HardeningMissing(ILogger logger, string item);
}
