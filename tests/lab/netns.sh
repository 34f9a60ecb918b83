#!/usr/bin/env bash
# tests/lab/netns.sh — an isolated provisioning segment in a network namespace.
#
#   netns NS
#     lo      up (127.0.0.1: virtual BMCs, APIs)
#     br0     10.99.0.1/24, fd99::1/64 (nodad)  <- the server side (DHCP/TFTP/HTTP)
#       tap0..tapN-1                             <- one per QEMU NIC (vm.sh)
#       vcl0  ── veth ── vcl1 (in NS, not bridged, no address): lets a DHCP/TFTP client
#                        in the same namespace talk to a server bound to br0.
#
# No veth to the host, no default route, ip_forward=0: nothing leaves the namespace.
# IPv6 is enabled on br0 only (so a server can send the Router Advertisement iPXE waits
# for); it is disabled on the taps and the veths.
#
# Usage: netns.sh up NS [NTAPS]     (default NTAPS=1; idempotent, adds missing taps)
#        netns.sh down NS           (deletes the namespace and all of the above; idempotent)
set -euo pipefail
cmd=${1:-}; NS=${2:-}
[ -n "$NS" ] && { [ "$cmd" = up ] || [ "$cmd" = down ]; } \
  || { echo "usage: netns.sh up NS [NTAPS] | down NS" >&2; exit 2; }
exists() { ip netns list | awk '{print $1}' | grep -qx "$NS"; }
nsx() { ip netns exec "$NS" "$@"; }

case "$cmd" in
up)
  ntaps=${3:-1}
  exists || ip netns add "$NS"
  nsx ip link set lo up
  nsx sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
  nsx sysctl -qw net.ipv6.conf.default.disable_ipv6=1
  if ! nsx ip link show br0 >/dev/null 2>&1; then
    nsx ip link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  fi
  nsx sysctl -qw net.ipv6.conf.br0.disable_ipv6=0 net.ipv6.conf.br0.accept_dad=0
  nsx ip addr replace 10.99.0.1/24 dev br0
  nsx ip -6 addr replace fd99::1/64 dev br0 nodad
  nsx ip link set br0 up
  for i in $(seq 0 $((ntaps - 1))); do
    nsx ip link show "tap$i" >/dev/null 2>&1 || nsx ip tuntap add dev "tap$i" mode tap
    nsx ip link set "tap$i" master br0
    nsx ip link set "tap$i" up
  done
  if ! nsx ip link show vcl0 >/dev/null 2>&1; then
    nsx ip link add vcl0 type veth peer name vcl1
  fi
  nsx ip link set vcl0 master br0
  nsx ip link set vcl0 up
  nsx ip link set vcl1 up
  echo "netns $NS up: br0 10.99.0.1/24 fd99::1/64, taps: $(nsx ip -br link | awk '/^tap/{sub(/@.*/,"",$1); printf "%s ", $1}')vcl0<->vcl1"
  ;;
down)
  if exists; then
    ip netns delete "$NS"
    echo "netns $NS deleted"
  else
    echo "netns $NS: not present"
  fi
  ;;
esac
