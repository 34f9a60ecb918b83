#!/usr/bin/env bash
# tests/lab/disk-image.sh — a small whole-disk "OS image" that boots on BIOS and UEFI and
# says so on the serial console, for the end-to-end deploy tests.
#
#   BIOS: the MBR boot code prints "IRONBOX-OS: <marker> (bios)" on COM1, stays up 3 s
#         (so the BMC sees it on, as with a real OS) and powers the machine off (ACPI
#         PM1a_CNT of QEMU's q35).
#   UEFI: partition 1 (type 0xEF, FAT) holds startup.nsh, which OVMF's built-in UEFI shell
#         runs from the disk (there is no boot loader to find; Debian's iPXE EFI build is too
#         old for autoexec scripts): it prints "IRONBOX-OS: <marker> (uefi)", stays up 3 s
#         and powers off.
#   The rest of the 24 MiB image is random (so a copy is checked byte for byte).
#
# Usage: tests/lab/disk-image.sh OUT.img MARKER       (needs as, ld, mkfs.vfat, mcopy)
set -euo pipefail
out=${1:?usage: disk-image.sh OUT.img MARKER}
marker=${2:?marker}
case "$marker" in *[!A-Za-z0-9._-]*) echo "disk-image: marker must be [A-Za-z0-9._-]" >&2; exit 2 ;; esac
for t in as ld mkfs.vfat mcopy; do
  command -v "$t" >/dev/null || { echo "disk-image: $t missing (run tests/lab/setup.sh)" >&2; exit 1; }
done
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

cat > "$w/boot.S" <<EOF
.code16
.global _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov \$0x7c00, %sp
    cld
    mov \$msg, %si
    mov \$0x3f8, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, (%dx)
    jmp 1b
2:  mov \$0x86, %ah           # BIOS wait CX:DX microseconds: stay up 3 s, as an OS
    mov \$0x002d, %cx         # would, so the BMC sees the machine on before it stops
    mov \$0xc6c0, %dx
    int \$0x15
    mov \$0x604, %dx
    mov \$0x2000, %ax
    out %ax, (%dx)
3:  hlt
    jmp 3b
msg: .ascii "\r\nIRONBOX-OS: $marker (bios)\r\n\0"
EOF
as --32 -o "$w/boot.o" "$w/boot.S"
ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$w/boot.bin" "$w/boot.o"
[ "$(stat -c %s "$w/boot.bin")" -le 440 ] || { echo "disk-image: boot code too big" >&2; exit 1; }

# The ESP: 16 MiB FAT16 from LBA 2048.
esp_lba=2048; esp_sectors=$((16 * 2048))
mkfs.vfat -C -n IRONBOX-ESP "$w/esp.img" $((esp_sectors / 2)) >/dev/null
printf 'echo "IRONBOX-OS: %s (uefi)"\r\nstall 3000000\r\nreset -s\r\n' "$marker" > "$w/startup.nsh"
mcopy -i "$w/esp.img" "$w/startup.nsh" ::/startup.nsh

total=$((24 * 2048))
head -c $((total * 512)) /dev/urandom > "$out"
dd if="$w/boot.bin" of="$out" conv=notrunc status=none
dd if="$w/esp.img" of="$out" bs=512 seek=$esp_lba conv=notrunc status=none
# One MBR partition entry (offset 446): type 0xEF, LBA start and count; then 0x55AA.
le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))\\x$(printf %02x $((($1 >> 16) & 255)))\\x$(printf %02x $((($1 >> 24) & 255)))"; }
{
  printf '\x00\xfe\xff\xff\xef\xfe\xff\xff'
  le32 $esp_lba
  le32 $esp_sectors
  head -c 48 /dev/zero
  printf '\x55\xaa'
} > "$w/table.bin"
dd if="$w/table.bin" of="$out" bs=1 seek=446 conv=notrunc status=none
# The four bytes before the table: a disk signature, zero the rest of the gap.
printf '\x49\x42\x4f\x58\x00\x00' | dd of="$out" bs=1 seek=440 conv=notrunc status=none
echo "disk image $out: 24 MiB, marker $marker"
