#!/usr/bin/env bash
# Installs everything leonet needs (idempotent), then runs the whole test suite.
# Extra arguments go to pytest, e.g.: sudo scripts/test.sh tests/orbits -x
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/scripts/install.sh"
# Test-only system packages: vagrant, to validate vagrant/Vagrantfile (no VM is booted here).
if ! command -v vagrant >/dev/null 2>&1; then
    echo "[leonet test] installing vagrant (to validate vagrant/Vagrantfile)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends vagrant >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends vagrant >/dev/null 2>&1; } \
        || echo "[leonet test] vagrant is not installable here; its test will skip"
fi
cd "$repo"
exec "${LEONET_VENV:-$repo/.venv}/bin/python" -m pytest -q -ra "${@:-tests}"
