#!/usr/bin/env bash
# tests/lab/vm.sh — one "bare-metal node": a QEMU VM (TCG) in a lab network namespace.
#
#   vm.sh start NS NAME TAP MAC bios|uefi SERIAL_LOG [disk.qcow2]
#       q35, 512 MiB, 1 vCPU, TCG (KVM is unusable on the lab machine), -no-reboot (a
#       guest reboot or panic ends the VM), no display. virtio-net NIC on TAP with MAC and
#       iPXE ROM from ipxe-qemu, bootindex=1 (network first); optional NVMe disk,
#       bootindex=2. Serial (COM1) goes to SERIAL_LOG (truncated at each start).
#       bios: SeaBIOS; fw_cfg etc/sercon-port mirrors the BIOS/iPXE text console to COM1.
#       uefi: OVMF with a writable copy of the vars (kept per NAME across starts).
#       VM_BOOT=disk (env): boot the disk, with no NIC at all (so no firmware falls back
#       to a network boot); default VM_BOOT=net as above.
#       VM_MEM=<MiB> (env): guest memory, default 512. VM_SMP=<n> (env): vCPUs, default 1.
#       VM_IPMI_EXTERN=PORT (env): an in-guest BMC (/dev/ipmi0 through a KCS interface)
#       backed by the ipmi_sim at the namespace's 127.0.0.1:PORT (`serial 15 127.0.0.1
#       PORT codec VM` in its lan.conf), so what the guest reads from it is ipmi_sim's.
#       QEMU daemonizes; state in $IRONBOX_LAB_DIR/vms/NAME/ (qemu.pid, qemu.log,
#       monitor.sock: HMP, e.g. system_powerdown / system_reset).
#   vm.sh stop NAME             kill the VM by its pidfile (idempotent)
#   vm.sh wait NAME SECONDS     wait for the VM to exit; non-zero on timeout
#   vm.sh status NAME           prints "running" or "stopped"
set -euo pipefail
LAB=${IRONBOX_LAB_DIR:-/tmp/ironbox-lab}
# NIC boot ROM: QEMU's default for virtio-net-pci, efi-virtio.rom, found in its firmware
# path /usr/lib/ipxe/qemu (package ipxe-qemu; BIOS + EFI iPXE images). Do NOT pass it as
# romfile=/usr/lib/ipxe/qemu/efi-virtio.rom: its PCI header says device 1af4:1041 while the
# (transitional) NIC is 1af4:1000; QEMU patches the IDs only of the default ROM, and SeaBIOS
# silently skips a ROM whose IDs do not match (OVMF does not care).
ROM=/usr/lib/ipxe/qemu/efi-virtio.rom
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
usage() { sed -n '4,15p' "$0" >&2; exit 2; }
cmd=${1:-}; [ -n "$cmd" ] || usage

vmdir() { echo "$LAB/vms/$1"; }
pid_of() { # prints the VM's QEMU pid if it is running
  local f; f="$(vmdir "$1")/qemu.pid"
  [ -s "$f" ] || return 1
  local p; p=$(tr -dc 0-9 < "$f")
  [ -n "$p" ] && [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' < "/proc/$p/cmdline" | grep -q qemu-system \
    && echo "$p"
}

case "$cmd" in
start)
  [ $# -ge 7 ] || usage
  NS=$2 NAME=$3 TAP=$4 MAC=$5 FW=$6 LOG=$(realpath -m "$7") DISK=${8:+$(realpath -m "$8")}
  D=$(vmdir "$NAME"); mkdir -p "$D"
  [ -e "$ROM" ] || { echo "vm.sh: $ROM missing (run setup.sh)" >&2; exit 1; }
  if p=$(pid_of "$NAME"); then echo "vm $NAME already running (pid $p)" >&2; exit 1; fi
  rm -f "$D/qemu.pid" "$D/monitor.sock"
  case "$FW" in
    bios)
      [ -s "$LAB/sercon-port.bin" ] || printf '\xf8\x03' > "$LAB/sercon-port.bin"
      # SeaBIOS reads etc/sercon-port as a little-endian integer (0x3f8 = COM1) and then
      # mirrors its text console, and with it iPXE's output, to that serial port.
      fw=(-fw_cfg "name=etc/sercon-port,file=$LAB/sercon-port.bin") ;;
    uefi)
      [ -s "$D/vars.fd" ] || cp "$OVMF_VARS" "$D/vars.fd"
      fw=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
          -drive "if=pflash,format=raw,unit=1,file=$D/vars.fd") ;;
    *) echo "vm.sh: firmware must be bios or uefi, not '$FW'" >&2; exit 2 ;;
  esac
  disk=() nic=(-netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no"
                -device "virtio-net-pci,netdev=n0,mac=$MAC,bootindex=1")
  if [ -n "$DISK" ]; then
    disk=(-drive "file=$DISK,if=none,id=d0,format=qcow2" -device "nvme,drive=d0,serial=$NAME,bootindex=2")
  fi
  if [ "${VM_BOOT:-net}" = disk ]; then
    [ -n "$DISK" ] || { echo "vm.sh: VM_BOOT=disk needs a disk" >&2; exit 2; }
    nic=()
    disk=(-drive "file=$DISK,if=none,id=d0,format=qcow2" -device "nvme,drive=d0,serial=$NAME,bootindex=1")
  fi
  mkdir -p "$(dirname "$LOG")"
  echo "$NS $TAP $MAC $FW $LOG $(date +%s.%N)" > "$D/started"
  # VM_SERIAL_TCP=PORT: COM1 also connects to 127.0.0.1:PORT in the namespace (a relay to
  # ipmi_sim's SOL, tests/lab/serial-relay.py) before the guest runs, so no byte is lost;
  # the log file still gets every byte.
  serial=(-chardev "file,id=ser0,path=$LOG")
  if [ -n "${VM_SERIAL_TCP:-}" ]; then
    serial=(-chardev "socket,id=ser0,host=127.0.0.1,port=$VM_SERIAL_TCP,server=off,logfile=$LOG")
  fi
  ipmi=()
  if [ -n "${VM_IPMI_EXTERN:-}" ]; then
    ipmi=(-chardev "socket,id=ipmi0,host=127.0.0.1,port=$VM_IPMI_EXTERN,reconnect-ms=1000"
          -device "ipmi-bmc-extern,id=bmc0,chardev=ipmi0" -device "isa-ipmi-kcs,bmc=bmc0")
  fi
  ip netns exec "$NS" qemu-system-x86_64 -name "$NAME" \
    -machine q35 -accel tcg -m "${VM_MEM:-512}" -smp "${VM_SMP:-1}" \
    -nodefaults -no-user-config -display none -no-reboot \
    "${fw[@]}" \
    "${serial[@]}" -serial chardev:ser0 \
    -monitor "unix:$D/monitor.sock,server=on,wait=off" \
    "${nic[@]}" "${disk[@]}" "${ipmi[@]}" \
    -daemonize -pidfile "$D/qemu.pid" </dev/null >"$D/qemu.log" 2>&1 \
    || { echo "vm.sh: QEMU failed to start:" >&2; cat "$D/qemu.log" >&2; exit 1; }
  p=$(pid_of "$NAME") || { echo "vm.sh: QEMU started but is not running" >&2; cat "$D/qemu.log" >&2; exit 1; }
  echo "vm $NAME started: pid $p, $FW, boot ${VM_BOOT:-net}, $MAC on $TAP (netns $NS), serial $LOG"
  ;;
stop)
  [ $# -ge 2 ] || usage
  D=$(vmdir "$2")
  if p=$(pid_of "$2"); then
    kill "$p" 2>/dev/null || true
    for _ in $(seq 50); do [ -d "/proc/$p" ] || break; sleep 0.1; done
    [ -d "/proc/$p" ] && kill -9 "$p" 2>/dev/null || true
    echo "vm $2 stopped (pid $p)"
  fi
  rm -f "$D/qemu.pid"
  ;;
wait)
  [ $# -ge 3 ] || usage
  deadline=$(( $(date +%s%N) + ${3%.*} * 1000000000 ))
  while pid_of "$2" >/dev/null; do
    if [ "$(date +%s%N)" -ge "$deadline" ]; then echo "vm $2: still running after $3 s" >&2; exit 1; fi
    sleep 0.1
  done
  ;;
status)
  [ $# -ge 2 ] || usage
  if pid_of "$2" >/dev/null; then echo running; else echo stopped; fi
  ;;
*) usage ;;
esac
