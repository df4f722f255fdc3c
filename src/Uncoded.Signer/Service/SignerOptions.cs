namespace Uncoded.Signer.Service;

// Bound from the configuration section "Signer" with ErrorOnUnknownConfiguration = true (after
// UnknownSettings has named every unknown key by its full path), then validated and frozen
// (SignerSettings). Defaults here are the documented defaults (README).

internal sealed class SignerOptions
{
    public string SocketPath { get; set; } = "/run/uncoded/signer.sock";

    public AllowedPeersOptions AllowedPeers { get; set; } = new();

    public Dictionary<string, KeyOptions> Keys { get; set; } = new(StringComparer.Ordinal);

    public AuditOptions Audit { get; set; } = new();

    /// <summary>Where the rolling 24 h cap checkpoint (rolling-cap.json) is written; created 0700.</summary>
    public string StateDirectory { get; set; } = "/var/lib/uncoded-signer/state";
}

internal sealed class AuditOptions
{
    /// <summary>The hash-chained audit log (JSON lines); its directory is created 0700.</summary>
    public string Path { get; set; } = "/var/lib/uncoded-signer/audit.log";

    /// <summary>Refusals recorded in full per peer uid and minute; the rest are counted in one summary record.</summary>
    public int MaxRefusalsPerMinutePerPeer { get; set; } = 600;

    /// <summary>Size at which the log is rotated (archived as &lt;Path&gt;.&lt;last seq&gt;, continued in a new file); 0: never.</summary>
    public long RotateAtBytes { get; set; } = SignerSettings.DefaultRotateAtBytes;
}

internal sealed class AllowedPeersOptions
{
    /// <summary>Peer uids allowed to connect. Both lists empty: only the signer's own uid.</summary>
    public List<uint> Uids { get; set; } = [];

    /// <summary>Peer primary gids (as SO_PEERCRED reports them) allowed to connect.</summary>
    public List<uint> Gids { get; set; } = [];
}

internal sealed class KeyOptions
{
    /// <summary>The X-MBX-APIKEY value returned with each signature (public, not a secret).</summary>
    public string ApiKey { get; set; } = "";

    public SealedFileOptions? SealedFile { get; set; }

    public Pkcs11Options? Pkcs11 { get; set; }

    /// <summary>The key's guards (README, "Guards"). Absent: the safe defaults (no new order is signed).</summary>
    public Guards.GuardOptions? Guard { get; set; }
}

internal sealed class SealedFileOptions
{
    public string Path { get; set; } = "";

    public string? PassphraseFile { get; set; }

    public string? PassphraseEnv { get; set; }

    public string? PassphraseCredential { get; set; }
}

/// <summary>A key inside a PKCS#11 token (YubiKey via ykcs11, an HSM, SoftHSM). Mutually exclusive with SealedFile.</summary>
internal sealed class Pkcs11Options
{
    /// <summary>Absolute path of the PKCS#11 module, e.g. /usr/lib/x86_64-linux-gnu/libykcs11.so.</summary>
    public string Module { get; set; } = "";

    /// <summary>Token label (CK_TOKEN_INFO.label); give this or TokenSerial.</summary>
    public string? TokenLabel { get; set; }

    public string? TokenSerial { get; set; }

    /// <summary>CKA_LABEL of the key; give this, KeyId, or both.</summary>
    public string? KeyLabel { get; set; }

    /// <summary>CKA_ID of the key as hex ("01", "a1:b2").</summary>
    public string? KeyId { get; set; }

    public string? PinFile { get; set; }

    public string? PinEnv { get; set; }

    public string? PinCredential { get; set; }

    /// <summary>Session pool size, 1-64. Default: the number of cores.</summary>
    public int? Sessions { get; set; }
}
