using Net.Pkcs11Interop.Common;
using Uncoded.Signer.Service;

namespace Uncoded.Signer.Backends.Pkcs11;

/// <summary>Turns PKCS#11 return values into the signer's error taxonomy, with a message a person can act on.</summary>
internal static class Pkcs11Errors
{
    /// <summary>The token's CKF_USER_PIN_FINAL_TRY flag is set: one more wrong PIN locks it.</summary>
    public static SignerException PinFinalTry(string doing) => new(ErrorKind.Configuration, "PIN_FINAL_TRY",
        $"{doing}: the token has one PIN attempt left, so the signer will not try (a wrong PIN would lock it). " +
        "Check the PIN, log in once by hand (pkcs11-tool --module M --login --test) to reset the counter, then restart (CKF_USER_PIN_FINAL_TRY)",
        new Dictionary<string, string> { ["ckr"] = "CKF_USER_PIN_FINAL_TRY" });

    public static SignerException Map(Pkcs11Exception e, string doing) => Map(e.RV, doing, e);

    public static SignerException Map(CKR rv, string doing, Exception? inner = null)
    {
        var (kind, reason, advice) = rv switch
        {
            CKR.CKR_PIN_INCORRECT => (ErrorKind.Configuration, "PIN_INCORRECT",
                "the token rejected the PIN. It is not retried: every wrong attempt counts towards locking the token (a YubiKey PIV PIN locks after 3). Fix the PIN source, check the failed-attempt counter, then restart"),
            CKR.CKR_PIN_LOCKED => (ErrorKind.Configuration, "PIN_LOCKED",
                "the token's user PIN is locked; unblock it with the PUK or SO PIN (YubiKey: ykman piv access unblock-pin)"),
            CKR.CKR_PIN_EXPIRED => (ErrorKind.Configuration, "PIN_EXPIRED", "the token's user PIN has expired; change it first"),
            CKR.CKR_PIN_LEN_RANGE or CKR.CKR_PIN_INVALID => (ErrorKind.Configuration, "PIN_INVALID",
                "the PIN has the wrong length or characters for this token"),
            CKR.CKR_USER_PIN_NOT_INITIALIZED => (ErrorKind.Configuration, "PIN_NOT_INITIALIZED", "the token has no user PIN yet"),
            CKR.CKR_TOKEN_NOT_PRESENT or CKR.CKR_TOKEN_NOT_RECOGNIZED => (ErrorKind.Unavailable, "TOKEN_NOT_PRESENT",
                "the token is not present (unplugged, or the reader or pcscd is gone)"),
            CKR.CKR_DEVICE_REMOVED => (ErrorKind.Unavailable, "DEVICE_REMOVED", "the token was removed"),
            CKR.CKR_DEVICE_ERROR or CKR.CKR_DEVICE_MEMORY => (ErrorKind.Unavailable, "DEVICE_ERROR",
                "the token or its reader reported a device error"),
            CKR.CKR_SESSION_HANDLE_INVALID or CKR.CKR_SESSION_CLOSED => (ErrorKind.Unavailable, "SESSION_LOST",
                "the token session was closed"),
            CKR.CKR_SESSION_COUNT => (ErrorKind.Unavailable, "TOKEN_SESSIONS_EXHAUSTED",
                "the token will not open another session; lower Pkcs11:Sessions"),
            CKR.CKR_USER_NOT_LOGGED_IN => (ErrorKind.Unavailable, "NOT_LOGGED_IN", "the token session is no longer logged in"),
            CKR.CKR_KEY_HANDLE_INVALID or CKR.CKR_OBJECT_HANDLE_INVALID => (ErrorKind.Unavailable, "KEY_HANDLE_INVALID",
                "the key handle is no longer valid"),
            CKR.CKR_GENERAL_ERROR or CKR.CKR_FUNCTION_FAILED => (ErrorKind.Unavailable, "TOKEN_ERROR",
                "the token failed the operation"),
            CKR.CKR_KEY_FUNCTION_NOT_PERMITTED or CKR.CKR_KEY_TYPE_INCONSISTENT => (ErrorKind.Configuration, "KEY_CANNOT_SIGN",
                "the token does not allow this key to sign with this mechanism (check CKA_SIGN and the key type)"),
            CKR.CKR_KEY_SIZE_RANGE => (ErrorKind.Configuration, "KEY_SIZE_NOT_SUPPORTED",
                "the token refuses this key's size for this mechanism (SoftHSM: HMAC-SHA256 keys under 32 bytes); use a key of a size the token supports"),
            CKR.CKR_MECHANISM_INVALID or CKR.CKR_MECHANISM_PARAM_INVALID => (ErrorKind.Configuration, "MECHANISM_NOT_SUPPORTED",
                "the token does not support the signing mechanism for this key"),
            CKR.CKR_CRYPTOKI_ALREADY_INITIALIZED => (ErrorKind.Internal, "PKCS11_ALREADY_INITIALIZED",
                "the PKCS#11 module was already initialised by another part of this process"),
            _ => (ErrorKind.Internal, "PKCS11_ERROR", "unexpected PKCS#11 error"),
        };
        return new SignerException(kind, reason, $"{doing}: {advice} ({rv})",
            new Dictionary<string, string> { ["ckr"] = rv.ToString() }, inner);
    }
}
