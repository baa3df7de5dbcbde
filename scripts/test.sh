#!/usr/bin/env bash
# Installs everything leonet needs (idempotent), then runs the whole test suite.
# Extra arguments go to pytest, e.g.: sudo scripts/test.sh tests/orbits -x
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/scripts/install.sh"
# Test-only system packages (a test that needs a missing one skips with the reason).
test_package() {  # PACKAGE WHY
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "[leonet test] installing $1 ($2)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1; } \
        || echo "[leonet test] $1 is not installable here; its tests will skip"
}
test_package vagrant "to validate vagrant/Vagrantfile; no VM is booted here"
test_package chromium "to test the live view in a real headless browser"
test_package traceroute "to check that packets take the engine's hops, hop by hop"
cd "$repo"
exec "${LEONET_VENV:-$repo/.venv}/bin/python" -m pytest -q -ra --durations=30 "${@:-tests}"
