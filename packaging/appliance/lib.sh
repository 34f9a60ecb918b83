# ironbox USB appliance: the init's functions (sourced by /init).
say() { echo "ironbox-appliance: $*"; }
# A problem is said, kept for the status panel and logged on the data partition.
problem() {
  say "PROBLEM: $*"
  echo "$*" >> /run/problems
  [ -d /data/logs ] && echo "$(date -u +%FT%TZ) $*" >> /data/logs/appliance.log
}

# Copy a file onto the FAT partition (mtools; the partition is never mounted, so a power
# cut cannot leave it mounted dirty).
fat_put() {
  [ -s /run/fat-dev ] || return 1
  mcopy -o -i "$(cat /run/fat-dev)" "$1" "::/$2" && sync
}

# Grow the data partition (the last one) to the end of the disk, once the stick is bigger
# than the image; the ext4 file system follows online after the mount.
grow_data() {
  p=${1##*/}
  disk=$(basename "$(readlink -f "/sys/class/block/$p/..")")
  n=$(cat "/sys/class/block/$p/partition" 2>/dev/null) || return 0
  start=$(cat "/sys/class/block/$p/start"); size=$(cat "/sys/class/block/$p/size")
  total=$(cat "/sys/block/$disk/size")
  # 34 sectors of backup GPT, and 1 MiB of slack that is not worth a rewrite.
  [ $((start + size + 34 + 2048)) -lt "$total" ] || return 0
  say "growing $1 to the end of /dev/$disk"
  { sfdisk --relocate gpt-bak-std "/dev/$disk" && echo ',+' | sfdisk --no-reread --no-tell-kernel -N "$n" "/dev/$disk"; } \
    >/run/grow.log 2>&1 || { problem "cannot grow $1: $(tail -n1 /run/grow.log)"; return 0; }
  blockdev --rereadpt "/dev/$disk" || problem "cannot re-read the partition table of /dev/$disk"
  i=0; while [ ! -b "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
}

# Wired NICs (a device behind them, not wireless), by name.
wired_nics() {
  for n in /sys/class/net/*; do
    n=${n##*/}
    [ -e "/sys/class/net/$n/device" ] && [ ! -e "/sys/class/net/$n/wireless" ] && echo "$n"
  done | sort
}

# The first wired NIC with link (up to 5 s for a carrier), else the first wired NIC.
pick_nic() {
  i=0
  while [ -z "$(wired_nics)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  for n in $(wired_nics); do ip link set "$n" up; done
  i=0
  while [ $i -lt 50 ]; do
    for n in $(wired_nics); do
      [ "$(cat "/sys/class/net/$n/carrier" 2>/dev/null)" = 1 ] && { echo "$n"; return; }
    done
    i=$((i+1)); sleep 0.1
  done
  wired_nics | head -n1
}

# The configuration: the FAT partition's ironic.toml when it has settings and passes
# `ironbox config check`; otherwise one made here. A bad file is reported on the screen
# and in CONFIG-ERROR.TXT on the FAT partition, and the appliance runs on safe defaults.
pick_config() {
  : > /run/config-error
  if [ -s /run/fat-dev ] && mcopy -n -o -i "$(cat /run/fat-dev)" ::/ironic.toml /run/fat.toml 2>/dev/null \
     && grep -v '^[[:space:]]*#' /run/fat.toml | grep -q '[^[:space:]]'; then
    if ironbox config check /run/fat.toml >/run/check.log 2>&1; then
      cp /run/fat.toml /run/ironic.toml
      echo "ironic.toml on the IRONBOX partition" > /run/config-source
      return
    fi
    config_error "$(sed 's#/run/fat.toml#IRONBOX:/ironic.toml#' /run/check.log | sed 's/^ironbox: //')"
  fi
  auto_config
}

config_error() {
  problem "bad IRONBOX:/ironic.toml: $1 (running on safe defaults)"
  echo "$1" > /run/config-error
  printf 'ironbox could not use ironic.toml on this partition and runs on safe defaults:\r\n%s\r\nFix the file and restart the machine.\r\n' "$1" > /run/CONFIG-ERROR.TXT
  fat_put /run/CONFIG-ERROR.TXT CONFIG-ERROR.TXT || problem "cannot write CONFIG-ERROR.TXT"
}

# No usable file: the first wired NIC with link; a DHCP server answering on it within a few
# seconds means proxy mode on the address it leases us, else full mode on 10.250.0.1/24.
auto_config() {
  IF=$(pick_nic)
  [ -n "$IF" ] || problem "no wired network interface: only loopback"
  MODE=off
  if [ -n "$IF" ]; then
    if udhcpc -i "$IF" -n -q -t 3 -T 1 -s /etc/appliance/udhcpc.script >/run/udhcpc.log 2>&1; then
      MODE=proxy
      # Keep the lease renewed (the hook never flushes an address that did not change).
      udhcpc -i "$IF" -b -t 3 -T 3 -A 10 -s /etc/appliance/udhcpc.script >/dev/null 2>&1
    else
      MODE=full
      ip addr add 10.250.0.1/24 dev "$IF"
    fi
  fi
  say "provisioning interface ${IF:-none}, DHCP mode $MODE"
  {
    echo '# Made by the appliance at boot (no usable ironic.toml on the IRONBOX partition).'
    echo '[DEFAULT]'
    echo 'state_path = "/data/ironbox"'
    echo 'host = "ironbox-appliance"'
    echo 'auth_strategy = "http_basic"'
    echo 'http_basic_auth_user_file = "/data/ironbox/htpasswd"'
    echo 'default_boot_interface = "ipxe"'
    echo 'default_deploy_interface = "direct"'
    echo '[api]'
    echo 'host_ip = "0.0.0.0"'
    echo 'port = 6385'
    echo '[pxe]'
    echo 'ipxe_dir = "/usr/lib/ipxe"'
    echo 'http_root = "/srv/httpboot"'
    echo '[dhcp]'
    if [ "$MODE" != off ]; then
      echo "interface = \"$IF\""
      echo "mode = \"$MODE\""
    fi
    if [ "$MODE" = full ]; then
      echo 'range_start = "10.250.0.100"'
      echo 'range_end = "10.250.0.199"'
      echo 'ipv6_ra = true'
    fi
  } > /run/ironic.toml
  echo "automatic: interface ${IF:-none}, DHCP $MODE" > /run/config-source
  echo "$MODE" > /run/dhcp-mode
}

# Run `ironbox serve` for ever. A file config that makes serve fail within 30 s is
# reported and replaced by the automatic one; the machine is never rebooted.
supervise() {
  while :; do
    t0=$(cut -d. -f1 /proc/uptime)
    RUST_LOG=${RUST_LOG:-info,actix_server=warn} ironbox serve --config /run/ironic.toml >>/data/logs/ironbox.log 2>&1
    rc=$?
    t1=$(cut -d. -f1 /proc/uptime)
    last=$(grep -v '^\s*$' /data/logs/ironbox.log | tail -n1 | sed 's/\x1b\[[0-9;]*m//g')
    problem "ironbox serve exited ($rc): $last"
    if [ $((t1 - t0)) -lt 30 ] && grep -q IRONBOX /run/config-source; then
      config_error "ironbox serve refused it: $last"
      auto_config
    fi
    sleep 5
  done
}
