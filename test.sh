#!/usr/bin/env bash
# Runs every test. Installs what the tests need when it is missing (as root), else says what to install.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v openssl >/dev/null || need+=(openssl)
command -v softhsm2-util >/dev/null || need+=(softhsm2)
command -v pkcs11-tool >/dev/null || need+=(opensc)
command -v setpriv >/dev/null || need+=(util-linux)
/usr/bin/python3 -c "import argon2, cryptography" 2>/dev/null || need+=(python3 python3-argon2 python3-cryptography)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "test.sh: missing ${need[*]}; install with: sudo apt-get install -y ${need[*]}" >&2
    exit 2
  fi
fi

if [ "$(id -u)" != 0 ]; then
  # Some tests act as other users (setpriv --reuid), make files immutable (chattr +i), change
  # owners (chown) or read /proc of other processes: they need root (CI runs as root).
  echo "test.sh: the suite needs root (setpriv, chattr, chown, /proc of other processes); run it as root or in a container" >&2
  exit 2
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Uncoded.sln -c Release -nologo -v q
# Minimal verbosity: a failing test's name, message and stack are printed, and so stay in the
# tail of the output above the summary (a run prints nothing per passing test).
dotnet test Uncoded.sln -c Release --no-build --nologo -v q --logger "console;verbosity=minimal" "$@"

# The benchmark harness end to end, with small counts (figures from this run mean little; the
# README's table comes from a full run: dotnet bench/Uncoded.Bench/bin/Release/net10.0/Uncoded.Bench.dll).
smoke=$(mktemp); smoke_log=$(mktemp)
if ! dotnet bench/Uncoded.Bench/bin/Release/net10.0/Uncoded.Bench.dll --quick --out "$smoke" >"$smoke_log" 2>&1 \
   || ! grep -q "SoftHSM Ed25519" "$smoke"; then
  cat "$smoke_log"; echo "benchmark harness: FAILED" >&2; exit 1
fi
rm -f "$smoke" "$smoke_log"
echo "benchmark harness: ok"
