#!/usr/bin/env bash
# start-ironic.sh WORKDIR PORT
#
# Starts the real OpenStack Ironic 39.x (from PyPI) as a standalone reference
# server for ironbox: all-in-one `ironic` process, noauth, no RPC bus, SQLite,
# only the fake-hardware and manual-management hardware types (no IPMI,
# no network traffic beyond 127.0.0.1). Creates the venv on first use
# (${IRONIC_VENV:-/opt/ironic-venv}), writes WORKDIR/ironic.conf, creates the
# schema, starts the server in the background (PID in WORKDIR/ironic.pid,
# log in WORKDIR/ironic.log; the master process forks one worker that serves
# API + conductor) and returns once GET /v1 answers (120 s max).
# Stop it with stop-ironic.sh WORKDIR.
set -euo pipefail

if [ $# -ne 2 ]; then echo "usage: $0 WORKDIR PORT" >&2; exit 2; fi
mkdir -p "$1"
WORKDIR=$(cd "$1" && pwd)
PORT=$2
VENV=${IRONIC_VENV:-/opt/ironic-venv}
CONF=$WORKDIR/ironic.conf

if [ ! -x "$VENV/bin/ironic" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q 'ironic>=39,<40'
fi

if [ -f "$WORKDIR/ironic.pid" ] && kill -0 "$(cat "$WORKDIR/ironic.pid")" 2>/dev/null; then
    echo "ironic already running (pid $(cat "$WORKDIR/ironic.pid"))" >&2; exit 1
fi

mkdir -p "$WORKDIR/locks"
cat > "$CONF" <<CONF
[DEFAULT]
auth_strategy = noauth
rpc_transport = none
host = ironbox-ref
log_file = $WORKDIR/ironic.log
enabled_hardware_types = fake-hardware,manual-management
enabled_bios_interfaces = fake,no-bios
enabled_boot_interfaces = fake,pxe
enabled_console_interfaces = fake,no-console
enabled_deploy_interfaces = fake,direct
enabled_firmware_interfaces = fake,no-firmware
enabled_inspect_interfaces = fake,no-inspect
enabled_management_interfaces = fake,noop
enabled_network_interfaces = flat,noop
# flat (the hardware types' first choice) needs neutron for cleaning/port updates
default_network_interface = noop
enabled_power_interfaces = fake
enabled_raid_interfaces = fake,no-raid
enabled_rescue_interfaces = fake,no-rescue
enabled_storage_interfaces = fake,noop
enabled_vendor_interfaces = fake,no-vendor

[api]
host_ip = 127.0.0.1
port = $PORT

[database]
connection = sqlite:///$WORKDIR/ironic.sqlite

[conductor]
# with SQLite the conductor never heartbeats: keep it "alive" and never reaped
heartbeat_timeout = 315576000
conductor_cleanup_interval = 0

[dhcp]
dhcp_provider = none

[oslo_concurrency]
lock_path = $WORKDIR/locks
CONF

if [ -f "$WORKDIR/ironic.sqlite" ]; then
    "$VENV/bin/ironic-dbsync" --config-file "$CONF" upgrade
else
    "$VENV/bin/ironic-dbsync" --config-file "$CONF" create_schema
fi >"$WORKDIR/dbsync.log" 2>&1
nohup "$VENV/bin/ironic" --config-file "$CONF" >"$WORKDIR/ironic.out" 2>&1 </dev/null &
echo $! > "$WORKDIR/ironic.pid"

for _ in $(seq 120); do
    if curl -sf -o /dev/null "http://127.0.0.1:$PORT/v1"; then
        echo "ironic serving on http://127.0.0.1:$PORT (pid $(cat "$WORKDIR/ironic.pid"))"
        exit 0
    fi
    if ! kill -0 "$(cat "$WORKDIR/ironic.pid")" 2>/dev/null; then
        echo "ironic exited; see $WORKDIR/ironic.out and ironic.log" >&2; exit 1
    fi
    sleep 1
done
echo "ironic did not answer within 120 s; see $WORKDIR/ironic.log" >&2
exit 1
