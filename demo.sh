#!/usr/bin/env bash
# Offline demo on embedded defaults: builds the signer, seals two dev keys (Binance's published
# HMAC example secret and a fresh Ed25519 key) under a random passphrase, starts the signer on a
# Unix socket with its guards and audit log, signs a fresh sample order through the socket and
# checks both signatures independently (HMAC with Python's hmac, Ed25519 with OpenSSL), shows a
# withdrawal being refused, and verifies the audit chain. Everything lives in .demo/.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

dotnet build src/Uncoded.Signer -c Release -nologo -v q >/dev/null
dotnet build src/Uncoded.Client -c Release -nologo -v q >/dev/null
signer="dotnet src/Uncoded.Signer/bin/Release/net10.0/uncoded-signer.dll"
client="dotnet src/Uncoded.Client/bin/Release/net10.0/uncoded.dll"

demo="$PWD/.demo"
rm -rf "$demo"; mkdir -m 700 "$demo"
umask 077
head -c 24 /dev/urandom | base64 > "$demo/passphrase"
printf '%s\n' NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j > "$demo/hmac-secret"

echo "== sealing Binance's published example HMAC secret (Argon2id m=64 MiB t=3 p=4)"
$signer seal --hmac-secret-file "$demo/hmac-secret" --out "$demo/hmac.sealed" --passphrase-file "$demo/passphrase" --label demo-hmac
echo "== generating an Ed25519 key straight into a sealed file; its public key (what you would upload to Binance):"
$signer keygen --type ed25519 --out "$demo/ed25519.sealed" --passphrase-file "$demo/passphrase" --label demo-ed25519 | tee "$demo/ed25519.pub.pem"

cat > "$demo/signer.json" <<JSON
{
  "Signer": {
    "SocketPath": "$demo/run/signer.sock",
    "Audit": { "Path": "$demo/audit/audit.log" },
    "StateDirectory": "$demo/state",
    "Keys": {
      "hmac": { "ApiKey": "demo-hmac-api-key", "SealedFile": { "Path": "$demo/hmac.sealed", "PassphraseFile": "$demo/passphrase" },
                "Guard": { "Symbols": { "LTCBTC": { "MaxOrderNotional": 10 } }, "MaxDailyNotional": 100 } },
      "ed25519": { "ApiKey": "demo-ed25519-api-key", "SealedFile": { "Path": "$demo/ed25519.sealed", "PassphraseFile": "$demo/passphrase" },
                "Guard": { "Symbols": { "LTCBTC": { "MaxOrderNotional": 10 } }, "MaxDailyNotional": 100 } }
    }
  }
}
JSON

mkdir -m 750 "$demo/run"
echo "== starting the signer on unix:$demo/run/signer.sock"
$signer serve --config "$demo/signer.json" 2> "$demo/signer.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -S "$demo/run/signer.sock" ] && grep -q "listening" "$demo/signer.log" && break; sleep 0.1; done
[ -S "$demo/run/signer.sock" ] || { cat "$demo/signer.log"; echo "signer did not start" >&2; exit 1; }
stat -c "socket mode %a, owner %U" "$demo/run/signer.sock"

payload="symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=$(date +%s%3N)"
# Independent HMAC reference: Python's hmac when python3 is there (the key is read from the file, never an argument).
expected_hmac=""
if command -v python3 >/dev/null; then
  expected_hmac=$(python3 -c "import hmac,sys; print(hmac.new(open(sys.argv[1],'rb').read().strip(), sys.argv[2].encode(), 'sha256').hexdigest())" "$demo/hmac-secret" "$payload")
fi
shred -u "$demo/hmac-secret" 2>/dev/null || rm -f "$demo/hmac-secret"   # the sealed file is all that is left
echo "== payload: $payload"
hmac=$($client sign --socket "$demo/run/signer.sock" --key-id hmac --payload "$payload")
echo "HMAC    -> $hmac"
if [ -n "$expected_hmac" ]; then
  grep -q "\"$expected_hmac\"" <<<"$hmac" || { echo "HMAC mismatch" >&2; exit 1; }
  echo "           matches HMAC-SHA256 computed independently (Python) with the same secret"
fi
ed=$($client sign --socket "$demo/run/signer.sock" --key-id ed25519 --payload "$payload")
echo "Ed25519 -> $ed"
sig=$(sed -E 's/.*"signature":"([^"]+)".*/\1/' <<<"$ed")
sed -e 's/%2B/+/g' -e 's/%2F/\//g' -e 's/%3D/=/g' <<<"$sig" | base64 -d > "$demo/ed25519.sig"
printf '%s' "$payload" > "$demo/payload"
openssl pkeyutl -verify -pubin -inkey "$demo/ed25519.pub.pem" -rawin -in "$demo/payload" -sigfile "$demo/ed25519.sig"
echo "== a compromised caller asks for a withdrawal signature:"
withdraw="coin=USDT&address=attacker&amount=1000&recvWindow=5000&timestamp=$(date +%s%3N)"
# It must be refused (exit 5) with NEVER_SIGN_PATH; anything else fails the demo.
set +e
refusal=$($client sign --socket "$demo/run/signer.sock" --key-id hmac --path /sapi/v1/capital/withdraw/apply --payload "$withdraw" 2>&1)
status=$?
set -e
echo "$refusal"
if [ "$status" -ne 5 ] || ! grep -q NEVER_SIGN_PATH <<<"$refusal"; then
  echo "demo FAILED: the withdrawal was not refused with NEVER_SIGN_PATH (exit $status)" >&2
  exit 1
fi
echo "== verifying the audit log's hash chain"
$signer verify-audit --log "$demo/audit/audit.log"
echo "== done; signer log in $demo/signer.log, audit log in $demo/audit/audit.log"
