#!/bin/sh
# ipmi_sim chassis_control for the tests and benchmarks: keeps power and boot device in
# files beside this script (copied into each simulated BMC's own directory).
# ipmi_sim chassis_control: "get power|boot" prints name:value; "set NAME VALUE" stores it.
d="$(dirname "$0")"
op=$1; shift
if [ "$op" = get ]; then
  for p in "$@"; do
    case "$p" in
      power) echo "power:$(cat "$d/power" 2>/dev/null || echo 0)" ;;
      boot) echo "boot:$(cat "$d/boot" 2>/dev/null || echo none)" ;;
      *) echo "Invalid parameter: $p"; exit 1 ;;
    esac
  done
  exit 0
fi
while [ $# -ge 2 ]; do
  case "$1" in
    power) echo "$2" > "$d/power" ;;
    shutdown) echo 0 > "$d/power" ;;
    reset) echo 1 > "$d/power" ;;
    boot) echo "$2" > "$d/boot" ;;
    identify) ;;
    *) echo "Invalid parameter: $1"; exit 1 ;;
  esac
  shift 2
done
exit 0
