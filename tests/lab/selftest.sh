#!/usr/bin/env bash
# tests/lab/selftest.sh — prove the lab end to end with STAND-IN servers (dnsmasq for
# DHCP+TFTP+RA, python3 http.server for HTTP), the way the ironbox netboot test uses it:
#
#   netns ibxlab (1 tap) -> dnsmasq on br0: DHCP 10.99.0.100-199, TFTP (iPXE binaries +
#   boot.ipxe), RA -> http.server 10.99.0.1:8080 (vmlinuz, initrd.img, marker.txt)
#   1. a DHCP client on vcl1 (same netns) gets a lease from the server on br0
#   2. TFTP from the netns: tftp-hpa (`tftp -v -m binary 10.99.0.1 -c get undionly.kpxe`)
#      and, as tftp-hpa 5.2 has no blksize option, busybox `tftp -b 1468` and curl
#      `--tftp-blksize 1468` (curl -v shows the server's OACK)
#   3. BIOS VM (SeaBIOS + iPXE ROM): PXE -> boot.ipxe -> kernel+initrd over HTTP ->
#      initramfs fetches marker.txt -> serial log has "LAB-MARKER: <marker>", "LAB-DONE"
#   4. the same with UEFI (OVMF)
# Cleans up everything it started (VMs, dnsmasq, http.server, the netns), also on failure.
# Runs setup.sh first (fast when done). ~30 s when packages are present.
# Usage: tests/lab/selftest.sh       (root). Env: IRONBOX_LAB_DIR, IRONBOX_LAB_NS (ibxlab)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB=${IRONBOX_LAB_DIR:-/tmp/ironbox-lab}
NS=${IRONBOX_LAB_NS:-ibxlab}
S="$LAB/selftest"
SRV=10.99.0.1
PORT=8080
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
T0=$(date +%s%N)
el() { awk -v a="$(date +%s%N)" -v b="${1:-$T0}" 'BEGIN{printf "%.1f", (a-b)/1e9}'; }
fails=0
ok()  { echo "PASS $*"; }
bad() { echo "FAIL $*"; fails=$((fails+1)); }

kill_pidfile() { # stop a process this script started, by its recorded pid
  local f=$1 p
  [ -s "$f" ] || return 0
  p=$(cat "$f")
  if kill -0 "$p" 2>/dev/null; then
    kill "$p" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  fi
  rm -f "$f"
}
cleanup() {
  "$HERE/vm.sh" stop st-bios >/dev/null 2>&1 || true
  "$HERE/vm.sh" stop st-uefi >/dev/null 2>&1 || true
  kill_pidfile "$S/dnsmasq.pid"
  kill_pidfile "$S/http.pid"
  kill_pidfile "$S/watch.pid"
  "$HERE/netns.sh" down "$NS" >/dev/null 2>&1 || true
}
# shellcheck disable=SC2154  # rc is assigned inside the trap
trap 'rc=$?; cleanup; echo "selftest: cleaned up (total $(el) s)"; exit $rc' EXIT
trap 'exit 130' INT TERM

echo "== setup"
"$HERE/setup.sh"
cleanup                       # leftovers of an interrupted earlier run
rm -rf "$S"; mkdir -p "$S/tftp" "$S/http" "$S/get"
"$HERE/initramfs.sh" "$S/http/initrd.img"
cp "$LAB/kernel/vmlinuz" "$S/http/vmlinuz"
MARKER="ironbox-lab-$(date +%s)-$RANDOM"
echo "$MARKER" > "$S/http/marker.txt"
cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi /usr/lib/ipxe/snponly.efi "$S/tftp/"
cat > "$S/tftp/boot.ipxe" <<EOF
#!ipxe
kernel http://$SRV:$PORT/vmlinuz initrd=initrd.img console=ttyS0,115200n8 panic=-1 BOOTIF=01-\${net0/mac:hexhyp} lab.url=http://$SRV:$PORT/marker.txt
initrd http://$SRV:$PORT/initrd.img
boot
EOF

echo "== network and stand-in servers"
"$HERE/netns.sh" up "$NS" 1
ip netns exec "$NS" dnsmasq -k --conf-file=/dev/null --port=0 \
  --interface=br0 --bind-interfaces --dhcp-authoritative --no-ping \
  --dhcp-range=10.99.0.100,10.99.0.199,255.255.255.0,10m --dhcp-leasefile="$S/dnsmasq.leases" \
  --dhcp-option=3 --dhcp-option=6 \
  --enable-ra --dhcp-range=::,constructor:br0,ra-only --ra-param=br0,60,0 \
  --enable-tftp --tftp-root="$S/tftp" \
  --dhcp-userclass=set:ipxe,iPXE \
  --dhcp-match=set:efi64,option:client-arch,7 --dhcp-match=set:efi64,option:client-arch,9 \
  --dhcp-boot=tag:ipxe,boot.ipxe \
  --dhcp-boot=tag:!ipxe,tag:efi64,ipxe.efi \
  --dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe \
  --log-dhcp --log-facility="$S/dnsmasq.log" --user=root --group=root \
  </dev/null >"$S/dnsmasq.out" 2>&1 &
echo $! > "$S/dnsmasq.pid"          # `ip netns exec` execs, so this is dnsmasq's pid
ip netns exec "$NS" "$PY" -m http.server "$PORT" --bind "$SRV" --directory "$S/http" \
  </dev/null >"$S/http.log" 2>&1 &
echo $! > "$S/http.pid"
for _ in $(seq 50); do
  ip netns exec "$NS" ss -Hlnu 'sport = :67' | grep -q . \
    && ip netns exec "$NS" ss -Hlnt "sport = :$PORT" | grep -q . && break
  sleep 0.1
done
kill -0 "$(cat "$S/dnsmasq.pid")" 2>/dev/null || { cat "$S/dnsmasq.out"; bad "dnsmasq did not start"; exit 1; }
kill -0 "$(cat "$S/http.pid")" 2>/dev/null || { cat "$S/http.log"; bad "http.server did not start"; exit 1; }
echo "dnsmasq pid $(cat "$S/dnsmasq.pid"), http.server pid $(cat "$S/http.pid") ($(el) s)"
if ip netns exec "$NS" ip route get 192.0.2.1 >/dev/null 2>&1; then
  bad "netns has a route out"; else ok "netns has no route out"; fi

echo "== DHCP client on vcl1"
# -s /bin/true: take the lease but configure nothing (a default.script could write
# /etc/resolv.conf, which `ip netns exec` shares with the host).
ts=$(date +%s%N)
if out=$(timeout 20 ip netns exec "$NS" busybox udhcpc -i vcl1 -n -q -t 3 -s /bin/true 2>&1) \
   && echo "$out" | grep -qiE "lease of 10\.99\.0\.1[0-9][0-9] obtained"; then
  ok "udhcpc on vcl1: $(echo "$out" | grep -ioE 'lease of [0-9.]+ obtained from [0-9.]+') ($(el "$ts") s)"
else
  echo "$out"; bad "udhcpc on vcl1"
fi

echo "== TFTP"
want=$(sha256sum < /usr/lib/ipxe/undionly.kpxe | cut -d' ' -f1)
ts=$(date +%s%N)
if (cd "$S/get" && timeout 30 ip netns exec "$NS" tftp -v -m binary "$SRV" -c get undionly.kpxe) \
   && [ "$(sha256sum < "$S/get/undionly.kpxe" | cut -d' ' -f1)" = "$want" ]; then
  ok "tftp-hpa get undionly.kpxe ($(stat -c %s "$S/get/undionly.kpxe") bytes, sha256 ok, $(el "$ts") s)"
else bad "tftp-hpa get undionly.kpxe"; fi
ts=$(date +%s%N)
if timeout 30 ip netns exec "$NS" busybox tftp -g -b 1468 -r undionly.kpxe -l "$S/get/bb.kpxe" "$SRV" \
   && [ "$(sha256sum < "$S/get/bb.kpxe" | cut -d' ' -f1)" = "$want" ]; then
  ok "busybox tftp -b 1468 get undionly.kpxe (sha256 ok, $(el "$ts") s)"
else bad "busybox tftp -b 1468"; fi
ts=$(date +%s%N)
if timeout 30 ip netns exec "$NS" curl -sS -v --tftp-blksize 1468 -o "$S/get/curl.kpxe" \
     "tftp://$SRV/undionly.kpxe" 2>"$S/get/curl.err" \
   && [ "$(sha256sum < "$S/get/curl.kpxe" | cut -d' ' -f1)" = "$want" ] \
   && grep -q 'blksize.*1468' "$S/get/curl.err"; then
  ok "curl --tftp-blksize 1468: server acked $(grep -o 'got option=(blksize) value=([0-9]*)' "$S/get/curl.err") ($(el "$ts") s)"
else cat "$S/get/curl.err"; bad "curl tftp blksize 1468"; fi

# Background watcher: when each boot stage first shows up in the serial log, in seconds
# since QEMU start (0.1 s resolution). Exits by itself after 100 s at the latest.
STAGES=("iPXE banner|iPXE 1\.0" "iPXE DHCP done|Configuring \(net0 .*ok" "boot.ipxe loaded|boot\.ipxe : "
        "kernel+initrd loaded|initrd\.img\.\.\. ok" "/init started|LAB-INIT\[.*started"
        "LAB-MARKER|LAB-MARKER: " "LAB-DONE|LAB-DONE")
watch_stages() { # log t0_ns out
  local log=$1 t0=$2 out=$3 seen="" i st n=0
  : > "$out"
  while [ $n -lt 1000 ]; do
    for i in "${!STAGES[@]}"; do
      case " $seen " in *" $i "*) continue ;; esac
      st=${STAGES[$i]}
      if grep -aqE "${st#*|}" "$log" 2>/dev/null; then
        printf '    %6ss  %s\n' "$(el "$t0")" "${st%%|*}" >> "$out"; seen="$seen $i"
      fi
    done
    [ "$(echo "$seen" | wc -w)" -eq ${#STAGES[@]} ] && break
    sleep 0.1; n=$((n+1))
  done
}
boot_vm() { # fw name mac
  local fw=$1 name=$2 mac=$3 log="$S/serial-$1.log" ts
  echo "== $fw VM ($name, $mac)"
  rm -rf "$LAB/vms/$name"
  : > "$log"
  ts=$(date +%s%N)
  "$HERE/vm.sh" start "$NS" "$name" tap0 "$mac" "$fw" "$log"
  watch_stages "$log" "$ts" "$S/stages-$fw.txt" & echo $! > "$S/watch.pid"
  # in the background + `wait`, so that a signal runs the cleanup trap at once
  "$HERE/vm.sh" wait "$name" 90 & local wp=$!
  if wait "$wp"; then
    echo "$fw VM exited after $(el "$ts") s"
  else
    "$HERE/vm.sh" stop "$name"; bad "$fw VM did not power off within 90 s"
  fi
  sleep 0.2; kill_pidfile "$S/watch.pid"
  echo "  stages (s since start):"; cat "$S/stages-$fw.txt"
  grep -a 'LAB-' "$log" | tr -d '\r' | sed 's/^/    /' || true
  if grep -aq "LAB-MARKER: $MARKER" "$log" && grep -aq 'LAB-DONE' "$log" && ! grep -aq 'LAB-FAIL' "$log"; then
    ok "$fw: LAB-MARKER: $MARKER + LAB-DONE ($(el "$ts") s)"
  else
    echo "--- last 40 lines of $log"; tail -40 "$log" | tr -d '\r'
    bad "$fw netboot"
  fi
}
boot_vm bios st-bios 52:54:00:99:00:01
boot_vm uefi st-uefi 52:54:00:99:00:02

echo "== HTTP requests seen by the stand-in"
grep -E '"GET ' "$S/http.log" | sed 's/^/    /' || true
echo "== result: $fails failure(s), $(el) s"
[ "$fails" -eq 0 ]
