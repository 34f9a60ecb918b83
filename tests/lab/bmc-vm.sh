#!/bin/sh
# ipmi_sim chassis_control for a QEMU "bare-metal node": chassis power starts and stops
# the VM through vm.sh, and the IPMI boot device picks how it boots: "pxe" from the
# network, anything else from its disk (vm.sh VM_BOOT=disk). ipmi_sim runs this as
#   bmc-vm.sh get power|boot          -> prints "power:0|1", "boot:<dev>"
#   bmc-vm.sh set power 0|1 | reset 1 | shutdown 1 | boot <dev> | identify ...
# State lives beside this script (each node's copy): vm.conf (shell variables LAB NS NAME
# TAP MAC FW DISK IRONBOX_LAB_DIR, VM_MEM in MiB if not 512, VM_SMP, VM_SERIAL_TCP for SOL,
# VM_IPMI_EXTERN for an in-guest BMC), boot, boots (a counter),
# serial-<n>.log (one per power-on, so no boot's console is overwritten), bmc.log.
d=$(cd "$(dirname "$0")" && pwd)
. "$d/vm.conf"
export IRONBOX_LAB_DIR
echo "$(date +%s.%N) $*" >> "$d/bmc.log"
start() {
  n=$(( $(cat "$d/boots" 2>/dev/null || echo 0) + 1 ))
  echo "$n" > "$d/boots"
  case "$(cat "$d/boot" 2>/dev/null)" in pxe) how=net ;; *) how=disk ;; esac
  VM_MEM=${VM_MEM:-512} VM_SMP=${VM_SMP:-1} VM_SERIAL_TCP=${VM_SERIAL_TCP:-} \
    VM_IPMI_EXTERN=${VM_IPMI_EXTERN:-} VM_BOOT=$how "$LAB/vm.sh" start "$NS" "$NAME" "$TAP" "$MAC" "$FW" "$d/serial-$n.log" "$DISK" \
    >> "$d/bmc.log" 2>&1
}
stop() { "$LAB/vm.sh" stop "$NAME" >> "$d/bmc.log" 2>&1; }
op=$1; shift
if [ "$op" = get ]; then
  for p in "$@"; do
    case "$p" in
      power) [ "$("$LAB/vm.sh" status "$NAME")" = running ] && echo power:1 || echo power:0 ;;
      boot) echo "boot:$(cat "$d/boot" 2>/dev/null || echo none)" ;;
      *) echo "Invalid parameter: $p"; exit 1 ;;
    esac
  done
  exit 0
fi
while [ $# -ge 2 ]; do
  case "$1" in
    power) if [ "$2" = 1 ]; then
             [ "$("$LAB/vm.sh" status "$NAME")" = running ] || start || { echo "power on failed"; exit 1; }
           else stop; fi ;;
    reset) stop; start || { echo "reset failed"; exit 1; } ;;
    shutdown) stop ;;
    boot) echo "$2" > "$d/boot" ;;
    identify) ;;
    *) echo "Invalid parameter: $1"; exit 1 ;;
  esac
  shift 2
done
exit 0
