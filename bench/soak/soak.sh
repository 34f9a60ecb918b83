#!/usr/bin/env bash
# The soak (bench/soak/soak.py): the real ironbox binary under a mixed load in a network
# namespace for --minutes (default 60), figures sampled every minute. Not in CI.
#   bench/soak/soak.sh [--ironbox target/debug/ironbox] [--minutes 60] [soak.py options]
# Needs root (the namespace), ipmi_sim + ipmitool (Debian: openipmi, ipmitool; installed
# here if missing), curl. Runs niced: other work shares the machine.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "run as root (it makes a network namespace)" >&2; exit 2; }
if ! command -v ipmi_sim >/dev/null; then
  apt-get install -y openipmi ipmitool
fi
exec nice -n "${SOAK_NICE:-5}" python3 "$HERE/soak.py" "$@"
