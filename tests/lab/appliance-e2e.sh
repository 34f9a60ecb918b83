#!/usr/bin/env bash
# tests/lab/appliance-e2e.sh — the USB appliance image, end to end, on one image file:
#   1. packaging/usb-image.sh builds it (lab kernel and modules, the given ironbox); the
#      file is then made 64 MiB bigger, as a stick bigger than the image is;
#   2. BIOS boot in QEMU (TCG) with two NICs: eth0 on the namespace's bridge (no DHCP
#      server there), eth1 user-mode. The appliance must pick eth0, choose full DHCP on
#      10.250.0.1, write PASSWORD.TXT to its FAT partition and grow its data partition;
#      from the namespace the real `baremetal` CLI (http_basic, password read from the
#      image with mtools) enrolls a node; a wrong password gets 401;
#   3. power cut (SIGKILL), UEFI boot of the same disk: the node is still there, same
#      password;
#   4. power cut, a broken ironic.toml put on the FAT partition: CONFIG-ERROR.TXT names
#      the file, key and reason, the screen says so, and the API still answers;
#   5. power cut, dnsmasq on the bridge, the template config back: the appliance chooses
#      proxy mode on its leased address by itself, the node is still there;
#   6. power cut, the data partition filled: the console reports it.
# Needs root, tests/lab/setup.sh and the venv with python-ironicclient
# (IRONBOX_TEST_VENV). Prints the TCG boot-to-API times and the image size.
#   IRONBOX=target/debug/ironbox tests/lab/appliance-e2e.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
LAB=${IRONBOX_LAB_DIR:-/tmp/ironbox-lab}
IRONBOX=${IRONBOX:-target/debug/ironbox}
VENV=${IRONBOX_TEST_VENV:-$PWD/.venv-test}
NS=ibxappl$$
D=$(mktemp -d "$LAB/appliance.XXXXXX")
IMG=$D/usb.img
QPID=

fail() { echo "APPLIANCE-E2E FAIL: $*" >&2; echo "--- serial:" >&2; [ -f "$D/serial.log" ] && serial | grep -av '^$' | tail -n 40 >&2; exit 1; }
stop_vm() { if [ -n "$QPID" ]; then kill -9 "$QPID" 2>/dev/null || true; wait "$QPID" 2>/dev/null || true; fi; QPID=; }
cleanup() { stop_vm; [ -n "${DNSMASQ:-}" ] && kill "$DNSMASQ" 2>/dev/null; tests/lab/netns.sh down "$NS" >/dev/null; rm -rf "$D"; }
trap cleanup EXIT

export MTOOLS_SKIP_CHECK=1
fat() { echo "$IMG@@1M"; }      # the FAT partition starts at 1 MiB

# boot MODE: start the appliance; wait for IRONBOX-READY on its serial console.
boot() {
  local mode=$1 fw=()
  if [ "$mode" = uefi ]; then
    [ -f "$D/vars.fd" ] || cp /usr/share/OVMF/OVMF_VARS_4M.fd "$D/vars.fd"
    fw=(-drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
        -drive if=pflash,format=raw,file="$D/vars.fd")
  else
    fw=(-fw_cfg name=etc/sercon-port,file="$LAB/sercon-port.bin")
  fi
  : > "$D/serial.log"
  local t0; t0=$(date +%s.%N)
  ip netns exec "$NS" qemu-system-x86_64 -accel tcg -machine q35 -m 1024 -smp 2 \
    -nodefaults -no-user-config -display none -no-reboot "${fw[@]}" \
    -serial "file:$D/serial.log" \
    -drive if=none,id=d0,file="$IMG",format=raw -device virtio-blk-pci,drive=d0,bootindex=1 \
    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
    -device virtio-net-pci,netdev=n0,mac=52:54:00:a0:00:01,addr=0x3,romfile= \
    -netdev user,id=n1,restrict=on -device virtio-net-pci,netdev=n1,addr=0x4,romfile= \
    2>"$D/qemu.log" &
  QPID=$!
  local i=0
  until grep -aq IRONBOX-READY "$D/serial.log"; do
    kill -0 "$QPID" 2>/dev/null || fail "$mode: QEMU exited: $(cat "$D/qemu.log")"
    [ $i -lt 480 ] || fail "$mode: no IRONBOX-READY within 240 s"
    sleep 0.5; i=$((i+1))
  done
  local t1; t1=$(date +%s.%N)
  echo "appliance-e2e: $mode boot to API answering: $(awk "BEGIN {printf \"%.1f\", $t1 - $t0}") s wall," \
       "$(grep -ao 'IRONBOX-READY at [0-9.]* s' "$D/serial.log" | grep -o '[0-9.]* s') kernel uptime"
}
serial() { tr -d '\r' < "$D/serial.log" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g'; }
password() { mtype -i "$(fat)" ::/PASSWORD.TXT | tr -d '\r' | awk '/^password:/ {print $2}'; }
bm() {
  ip netns exec "$NS" env -u OS_CLOUD "$VENV/bin/baremetal" --os-auth-type http_basic \
    --os-endpoint "http://$API_IP:6385" --os-username admin --os-password "$PW" "$@"
}

[ -x "$IRONBOX" ] || fail "no ironbox binary at $IRONBOX"
[ -x "$VENV/bin/baremetal" ] || fail "no baremetal CLI in $VENV"
tests/lab/setup.sh >/dev/null
t=$(date +%s)
packaging/usb-image.sh --kernel "$LAB/kernel/vmlinuz" --modules "$LAB/kernel/modules" \
  --ironbox "$IRONBOX" "$IMG" | sed 's/^/appliance-e2e: built /'
echo "appliance-e2e: image built in $(( $(date +%s) - t )) s"
size=$(stat -c %s "$IMG")
[ "$size" -le $((200 * 1048576)) ] || fail "image is $((size / 1048576)) MiB, over 200 MiB"
truncate -s +64M "$IMG"
tests/lab/netns.sh up "$NS" 1 >/dev/null
# The namespace's own address on the appliance's default subnet.
ip netns exec "$NS" ip addr add 10.250.0.254/24 dev br0

# ---- 2. BIOS, first boot: full mode, password, growth, enroll ------------------------
boot bios
serial | grep -q 'provisioning interface eth0, DHCP mode full' || fail "bios: not full mode on eth0"
serial | grep -q 'growing /dev/vda2' || fail "bios: the data partition was not grown"
serial | grep -q PROBLEM && fail "bios: a problem was reported"
PW=$(password); [ ${#PW} -ge 16 ] || fail "no password in PASSWORD.TXT"
API_IP=10.250.0.1
bm node create --driver ipmi --name appl-n1 --driver-info ipmi_address=10.99.0.1 \
  --driver-info ipmi_port=9001 --driver-info ipmi_username=admin \
  --driver-info ipmi_password=secret >/dev/null || fail "baremetal node create"
bm port create 52:54:00:a0:00:99 --node "$(bm node show appl-n1 -f value -c uuid)" >/dev/null \
  || fail "baremetal port create"
code=$(ip netns exec "$NS" curl -s -o /dev/null -w '%{http_code}' -u admin:wrong "http://$API_IP:6385/v1/nodes")
[ "$code" = 401 ] || fail "a wrong password got HTTP $code"
stop_vm
sgdisk -p "$IMG" 2>/dev/null | grep -q 'IRONBOX-DATA' || fail "partition table unreadable after growth"
end=$(sfdisk -d "$IMG" | awk -F'[=,]' '/usb.img2/ {print $2 + $4}')
[ "$end" -gt $(( (size / 512) + 64 * 2048 - 4096 )) ] || fail "data partition ends at sector $end: not grown"
echo "appliance-e2e: bios ok (full mode, enrolled, 401 on a wrong password, data partition grown)"

# ---- 3. power cut, UEFI boot of the same stick ----------------------------------------
boot uefi
[ "$(password)" = "$PW" ] || fail "uefi: the password changed"
bm node show appl-n1 -f value -c driver | grep -qx ipmi || fail "uefi: node lost after the power cut"
bm port list -f value -c address | grep -qx 52:54:00:a0:00:99 || fail "uefi: port lost"
stop_vm
echo "appliance-e2e: uefi ok (node and port survived the power cut)"

# ---- 4. a broken ironic.toml on the FAT partition -------------------------------------
printf '[dhcp]\ninterface = "eth0"\nmode = "bogus"\n' > "$D/bad.toml"
mcopy -o -i "$(fat)" "$D/bad.toml" ::/ironic.toml
boot bios
err=$(mtype -i "$(fat)" ::/CONFIG-ERROR.TXT | tr -d '\r') || fail "no CONFIG-ERROR.TXT"
echo "$err" | grep -q 'IRONBOX:/ironic.toml: \[dhcp\] mode: "bogus" is not one of' || fail "CONFIG-ERROR.TXT: $err"
serial | grep -q 'PROBLEM: bad IRONBOX:/ironic.toml: .*\[dhcp\] mode' || fail "the console does not name the error"
bm node show appl-n1 -f value -c name >/dev/null || fail "API not reachable on safe defaults"
stop_vm
echo "appliance-e2e: bad config ok (reported, safe defaults, API answering)"

# ---- 5. a DHCP server on the bridge: proxy mode ---------------------------------------
cp packaging/appliance/ironic.toml "$D/template.toml"
mcopy -o -i "$(fat)" "$D/template.toml" ::/ironic.toml
ip netns exec "$NS" dnsmasq --no-daemon --conf-file=/dev/null --interface=br0 --bind-interfaces \
  --except-interface=lo --dhcp-range=10.99.0.50,10.99.0.60,1h --no-ping --port=0 \
  --dhcp-leasefile="$D/leases" 2>"$D/dnsmasq.log" &
DNSMASQ=$!
boot bios
serial | grep -q 'provisioning interface eth0, DHCP mode proxy' || fail "proxy: not chosen"
API_IP=$(awk '{print $3}' "$D/leases" | head -n1)
[ -n "$API_IP" ] || fail "proxy: no lease in dnsmasq's file"
bm node show appl-n1 -f value -c name | grep -qx appl-n1 || fail "proxy: API not reachable at $API_IP"
stop_vm
echo "appliance-e2e: proxy ok (dnsmasq present, appliance at $API_IP)"
# ---- 6. a full data partition is reported ----------------------------------------------
# Fill the ext4 partition on the image (debugfs fallocate) up to its reserved blocks:
# df says 100 %, root-owned ironbox still starts, and the screen must say so.
p2=$(sfdisk -d "$IMG" | awk -F'[=,]' '/usb.img2/ {print $2}')
dd if="$IMG" of="$D/p2.img" bs=512 skip="$p2" status=none
# The power cut left a journal to replay (exit 1: "errors corrected"), as the kernel would.
rc=0; e2fsck -fy "$D/p2.img" >/dev/null 2>&1 || rc=$?
[ "$rc" -le 1 ] || fail "e2fsck of the data partition after the power cut: exit $rc"
free=$(dumpe2fs -h "$D/p2.img" 2>/dev/null | awk -F: '/^Free blocks/ {print $2 + 0}')
resv=$(dumpe2fs -h "$D/p2.img" 2>/dev/null | awk -F: '/^Reserved block count/ {print $2 + 0}')
printf 'write /dev/null /logs/fill\nfallocate /logs/fill 0 %s\n' $((free - resv)) > "$D/fill.cmd"
debugfs -w -f "$D/fill.cmd" "$D/p2.img" >/dev/null 2>&1 || fail "debugfs could not fill the data partition"
dd if="$D/p2.img" of="$IMG" bs=512 seek="$p2" conv=notrunc status=none
rm -f "$D/p2.img"
boot bios
i=0
until serial | grep -q 'PROBLEM: data partition [0-9]*% full'; do
  [ $i -lt 30 ] || fail "full data partition not reported"
  sleep 0.5; i=$((i+1))
done
stop_vm
echo "appliance-e2e: full data partition ok ($(serial | grep -o 'data partition [0-9]*% full' | head -n1))"
echo "APPLIANCE-E2E PASS ($((size / 1048576)) MiB image)"
