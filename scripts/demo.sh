#!/usr/bin/env bash
# Installs everything leonet needs (idempotent), then runs the main demo.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/scripts/install.sh"
exec "${LEONET_VENV:-$repo/.venv}/bin/leonet" demo "$@"
