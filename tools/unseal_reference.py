#!/usr/bin/env python3
"""Independent reader of Uncoded sealed files (docs/sealed-file-format.md), for interoperability tests.

Uses argon2-cffi and pyca/cryptography (Debian: python3-argon2 python3-cryptography). It prints the
KDF costs, the metadata, the SHA-256 of the secret and, for RSA and Ed25519, the public key PEM
(SubjectPublicKeyInfo) derived from it -- never the secret itself.
usage: unseal_reference.py SEALED_FILE PASSPHRASE_FILE
"""
import hashlib, hmac, json, struct, sys
from argon2.low_level import hash_secret_raw, Type
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

def public_key_pem(key_type, secret):
    if key_type == 2: key = serialization.load_der_private_key(secret, password=None)  # PKCS#8 DER
    elif key_type == 3: key = Ed25519PrivateKey.from_private_bytes(secret)  # the 32-byte seed
    else: return None
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

def main(path, passphrase_path):
    data = open(path, "rb").read()
    passphrase = open(passphrase_path, "rb").read()
    if passphrase.endswith(b"\n"): passphrase = passphrase[:-1]
    if passphrase.endswith(b"\r"): passphrase = passphrase[:-1]
    if data[:8] != b"UNCSEAL1" or data[8] != 1 or data[9] != 1: sys.exit("not a v1 sealed file")
    m, t, p = struct.unpack(">III", data[10:22])
    salt, nonce, check = data[22:38], data[38:50], data[50:66]
    if hashlib.sha256(data[:66]).digest() != data[66:98]: sys.exit("tampered: header digest")
    (n,) = struct.unpack(">I", data[98:102])
    if len(data) != 102 + n + 16: sys.exit("tampered: length")
    derived = hash_secret_raw(passphrase, salt, time_cost=t, memory_cost=m, parallelism=p, hash_len=64, type=Type.ID, version=19)
    aes_key, check_key = derived[:32], derived[32:]
    if hmac.new(check_key, b"uncoded-sealed-v1 passphrase check", "sha256").digest()[:16] != check:
        sys.exit("wrong passphrase")
    plain = AESGCM(aes_key).decrypt(nonce, data[102:], data[:102])
    key_type, created_ms, label_len = plain[0], struct.unpack(">q", plain[1:9])[0], struct.unpack(">H", plain[9:11])[0]
    label = plain[11:11 + label_len].decode()
    (secret_len,) = struct.unpack(">I", plain[11 + label_len:15 + label_len])
    secret = plain[15 + label_len:]
    assert len(secret) == secret_len
    print(json.dumps({"type": {1: "HMAC_SHA256", 2: "RSA_PKCS1_SHA256", 3: "ED25519"}[key_type],
                      "kdf": {"m": m, "t": t, "p": p},
                      "created_ms": created_ms, "label": label, "secret_len": secret_len,
                      "secret_sha256": hashlib.sha256(secret).hexdigest(),
                      "public_key_pem": public_key_pem(key_type, secret)}))

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
