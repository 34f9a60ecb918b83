#!/usr/bin/env bash
# tests/lab/setup.sh — install what the netboot lab needs, only if it is missing.
#
#   * apt packages: QEMU (qemu-system-x86 from bookworm-backports, so that the image's
#     backports qemu-utils 10.x is kept: bookworm's qemu-system-common 7.2 conflicts with
#     it), ipxe (undionly.kpxe, ipxe.efi, snponly.efi), ipxe-qemu (NIC option ROMs),
#     seabios, ovmf, busybox-static, tftp-hpa, curl, iproute2, dnsmasq-base, openipmi,
#     ipmitool; binutils, dosfstools, mtools and gdisk for the end-to-end test's disk image.
#     e2fsprogs (mkfs.ext4, e2fsck, debugfs) for the power-loss test; syslinux,
#     syslinux-common, grub-efi-amd64-bin, fdisk and cpio for the USB appliance image.
#   * the Debian cloud kernel (apt-get download, never installed): vmlinuz and the virtio
#     modules (virtio_net, virtio_pci, virtio_blk, efivarfs and dependencies, in load order)
#     are extracted to $IRONBOX_LAB_DIR/kernel/.
#   * a Python venv with sushy-tools (tests/lab/sushy.sh) for the Redfish tests.
#
# Idempotent; prints what it did; takes well under 2 s when everything is present.
# Needs root (apt-get). Nothing is written under /etc/apt: the backports source list is
# built in $IRONBOX_LAB_DIR/apt and handed to apt with -o options.
# Usage: tests/lab/setup.sh
set -euo pipefail
LAB=${IRONBOX_LAB_DIR:-/tmp/ironbox-lab}
mkdir -p "$LAB"
t0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
say() { echo "setup: $*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

PKGS=(ipxe ipxe-qemu seabios ovmf busybox-static tftp-hpa curl iproute2 dnsmasq-base
      openipmi ipmitool binutils dosfstools mtools gdisk e2fsprogs
      syslinux syslinux-common grub-efi-amd64-bin fdisk cpio)
QEMU_PKGS=(qemu-system-x86 qemu-system-common qemu-system-data)

# ---- 1. packages -------------------------------------------------------------------
installed() { # prints the subset of "$@" that is not installed
  local p st
  for p in "$@"; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [ "${st:0:2}" = ii ] || echo "$p"
  done
}
mapfile -t missing < <(installed "${QEMU_PKGS[@]}" "${PKGS[@]}")
if [ ${#missing[@]} -gt 0 ]; then
  say "missing packages: ${missing[*]}"
  APTO=()
  want=("${PKGS[@]}" "${QEMU_PKGS[@]}")
  . /etc/os-release
  if [ "${VERSION_CODENAME:-}" = bookworm ]; then
    # bookworm-backports source list derived from the system's own (same mirror).
    d="$LAB/apt"; mkdir -p "$d/parts" "$d/lists/partial"
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      cp /etc/apt/sources.list.d/debian.sources "$d/parts/"
      awk 'BEGIN{RS="";ORS="\n\n"} NR==1' /etc/apt/sources.list.d/debian.sources \
        | sed 's/^Suites:.*/Suites: bookworm-backports/' > "$d/parts/zz-backports.sources"
    elif [ -f /etc/apt/sources.list ]; then
      grep -E '^deb ' /etc/apt/sources.list > "$d/parts/base.list"
      grep -E '^deb .* bookworm ' /etc/apt/sources.list | head -1 \
        | sed 's/ bookworm / bookworm-backports /' > "$d/parts/zz-backports.list"
    else
      echo "setup: cannot find the apt source list to derive bookworm-backports from" >&2
      exit 1
    fi
    APTO=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$d/parts"
          -o Dir::State::Lists="$d/lists")
    # seabios too: the backports QEMU wants the matching (newer) SeaBIOS.
    want=("${PKGS[@]/#seabios/seabios/bookworm-backports}")
    for p in "${QEMU_PKGS[@]}"; do want+=("$p/bookworm-backports"); done
  fi
  ts=$(date +%s%N)
  as_root apt-get "${APTO[@]}" update -qq
  say "apt-get update: $(ms "$ts") ms"
  ts=$(date +%s%N)
  # --no-remove: abort rather than let apt remove anything (e.g. qemu-utils).
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get "${APTO[@]}" install -y -q \
        --no-install-recommends --no-remove "${want[@]}" >"$LAB/apt-install.log" 2>&1; then
    tail -30 "$LAB/apt-install.log" >&2
    exit 1
  fi
  say "apt-get install: $(ms "$ts") ms ($(grep -Eo '[0-9]+ newly installed' "$LAB/apt-install.log" || echo '?'))"
  mapfile -t left < <(installed "${QEMU_PKGS[@]}" "${PKGS[@]}")
  [ ${#left[@]} -eq 0 ] || { echo "setup: still missing: ${left[*]}" >&2; exit 1; }
else
  say "packages: all present"
fi
for f in /usr/bin/qemu-system-x86_64 /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi \
         /usr/lib/ipxe/snponly.efi /usr/lib/ipxe/qemu/efi-virtio.rom /usr/share/OVMF/OVMF_CODE_4M.fd \
         /usr/share/OVMF/OVMF_VARS_4M.fd /bin/busybox /usr/bin/tftp /usr/sbin/dnsmasq \
         /usr/bin/ipmi_sim /usr/bin/ipmitool; do
  [ -e "$f" ] || { echo "setup: expected file missing: $f" >&2; exit 1; }
done

# ---- 2. kernel: vmlinuz + virtio modules from the Debian cloud kernel -----------------
K="$LAB/kernel"
# efivarfs: the agent registers the deployed image's EFI loader in NVRAM (UEFI runs).
WANT_MODS=(virtio_net virtio_pci virtio_blk efivarfs)
have_mods() { local m; for m in "${WANT_MODS[@]}"; do grep -qx "$m" "$K/modules.order" || return 1; done; }
if [ -s "$K/vmlinuz" ] && [ -s "$K/modules.order" ] && have_mods; then
  say "kernel: present ($(cat "$K/version"))"
else
  kpkg() { apt-cache depends linux-image-cloud-amd64 2>/dev/null \
             | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
  KPKG=$(kpkg)
  if [ -z "$KPKG" ]; then as_root apt-get update -qq; KPKG=$(kpkg); fi
  [ -n "$KPKG" ] || { echo "setup: cannot resolve linux-image-cloud-amd64" >&2; exit 1; }
  KVER=${KPKG#linux-image-}
  mkdir -p "$LAB/debs"
  chown _apt "$LAB/debs" 2>/dev/null || true   # lets apt download without the sandbox warning
  if ! ls "$LAB/debs/${KPKG}"_*.deb >/dev/null 2>&1; then
    ts=$(date +%s%N)
    (cd "$LAB/debs" && apt-get download -q "$KPKG" >/dev/null 2>&1) \
      || { as_root apt-get update -qq; (cd "$LAB/debs" && apt-get download -q "$KPKG" >/dev/null); }
    say "apt-get download $KPKG: $(ms "$ts") ms"
  fi
  debs=("$LAB/debs/${KPKG}"_*.deb); deb=${debs[0]}
  ts=$(date +%s%N)
  x="$LAB/kernel.extract"; rm -rf "$x" "$K.tmp"; mkdir -p "$x" "$K.tmp/modules"
  dpkg-deb -x "$deb" "$x"
  mdir=
  for d in "$x/lib/modules/$KVER" "$x/usr/lib/modules/$KVER"; do [ -d "$d" ] && mdir=$d && break; done
  [ -n "$mdir" ] || { echo "setup: no modules dir for $KVER in $deb" >&2; exit 1; }
  cp "$x/boot/vmlinuz-$KVER" "$K.tmp/vmlinuz"
  # load order = dependency order, from each module's modinfo "depends=" (no kmod needed)
  order=()
  addmod() {
    local m=$1 f d
    case " ${order[*]:-} " in *" $m "*) return ;; esac
    f=$(find "$mdir/kernel" -name "$m.ko" -o -name "${m//_/-}.ko" | head -1)
    if [ -z "$f" ]; then
      grep -q "/$m.ko\$" "$mdir/modules.builtin" 2>/dev/null && return   # built in
      echo "setup: module $m not found in $KPKG" >&2; exit 1
    fi
    for d in $(tr '\0' '\n' < "$f" | sed -n 's/^depends=//p' | tr ',' ' '); do addmod "$d"; done
    cp "$f" "$K.tmp/modules/$m.ko"; order+=("$m")
  }
  for m in "${WANT_MODS[@]}"; do addmod "$m"; done
  printf '%s\n' "${order[@]}" > "$K.tmp/modules.order"
  echo "$KVER" > "$K.tmp/version"
  rm -rf "$x" "$K"; mv "$K.tmp" "$K"
  say "kernel: extracted $KVER in $(ms "$ts") ms; vmlinuz $(( $(stat -c %s "$K/vmlinuz") / 1024 )) KiB; modules (load order): ${order[*]}"
fi

# ---- 3. sushy-tools (Redfish emulator) venv for tests/integration/redfish.rs -----------
ts=$(date +%s%N)
py=$(bash "$(dirname "$0")/sushy.sh")
say "sushy-tools: $py ($(ms "$ts") ms)"

# sercon-port fw_cfg blob for SeaBIOS (COM1 = 0x3f8, 2 bytes little endian), see vm.sh
[ -s "$LAB/sercon-port.bin" ] || printf '\xf8\x03' > "$LAB/sercon-port.bin"
say "done in $(ms "$t0") ms (lab dir $LAB; $(qemu-system-x86_64 --version | head -1))"
