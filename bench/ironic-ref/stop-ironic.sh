#!/usr/bin/env bash
# stop-ironic.sh WORKDIR — stops the reference Ironic started by start-ironic.sh.
set -euo pipefail
if [ $# -ne 1 ]; then echo "usage: $0 WORKDIR" >&2; exit 2; fi
PIDFILE=$1/ironic.pid
[ -f "$PIDFILE" ] || { echo "no $PIDFILE" >&2; exit 1; }
PID=$(cat "$PIDFILE")
if kill "$PID" 2>/dev/null; then
    for _ in $(seq 20); do kill -0 "$PID" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$PID" 2>/dev/null || true
fi
rm -f "$PIDFILE"
