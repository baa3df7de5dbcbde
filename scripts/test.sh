#!/usr/bin/env bash
# Installs everything leonet needs (idempotent), then runs the whole test suite.
# Extra arguments go to pytest, e.g.: sudo scripts/test.sh tests/orbits -x
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/scripts/install.sh"
cd "$repo"
exec "${LEONET_VENV:-$repo/.venv}/bin/python" -m pytest -q -ra "${@:-tests}"
