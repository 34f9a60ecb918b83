#!/usr/bin/env bash
# tests/lab/sushy.sh — a Python venv with sushy-tools (the Redfish emulator the redfish
# integration tests run), from PyPI, pinned. Idempotent: re-running with the venv in place
# installs nothing. Prints the venv's python path on stdout (all else goes to stderr).
# Usage: tests/lab/sushy.sh
set -euo pipefail
LAB=${IRONBOX_LAB_DIR:-/tmp/ironbox-lab}
VERSION=2.2.0   # the version the lab proved (shared lab 06-redfish.sh)
VENV="$LAB/sushy-venv"
mkdir -p "$LAB"
if ! [ -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.sushy-tools" 2>/dev/null)" != "$VERSION" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check "sushy-tools==$VERSION" >&2
  echo "$VERSION" > "$VENV/.sushy-tools"
  echo "sushy: installed sushy-tools $VERSION in $VENV" >&2
fi
echo "$VENV/bin/python"
