#!/usr/bin/env bash
# tests/lab/disk-image.sh — a small whole-disk "OS image" that boots on BIOS and UEFI and
# says so on the serial console, for the end-to-end deploy tests.
#
#   BIOS: the MBR boot code prints "IRONBOX-OS: <marker> (bios)" on COM1, stays up 3 s
#         (so the BMC sees it on, as with a real OS) and powers the machine off (ACPI
#         PM1a_CNT of QEMU's q35).
#   UEFI: GPT partition 1 (EFI System, FAT) holds \EFI\BOOT\BOOTX64.EFI, the removable-media
#         path firmware falls back to and the loader an agent's install_bootloader finds
#         and registers in NVRAM: a tiny EFI application (x86-64, assembled here and linked
#         as PE32+ by ld's i386pep) that prints "IRONBOX-OS: <marker> (uefi)" through
#         ConOut, Stall()s 3 s and calls ResetSystem(EfiResetShutdown).
#   The rest of the 24 MiB image is random (so a copy is checked byte for byte).
#
# Usage: tests/lab/disk-image.sh OUT.img MARKER  (needs as, ld, mkfs.vfat, mmd, mcopy, sgdisk)
set -euo pipefail
out=${1:?usage: disk-image.sh OUT.img MARKER}
marker=${2:?marker}
case "$marker" in *[!A-Za-z0-9._-]*) echo "disk-image: marker must be [A-Za-z0-9._-]" >&2; exit 2 ;; esac
for t in as ld mkfs.vfat mmd mcopy sgdisk; do
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
# The EFI application. UEFI x64 calling convention: RCX, RDX, R8, R9, 32 bytes of shadow
# space, RSP 16-byte aligned at each call. Offsets: EFI_SYSTEM_TABLE ConOut 0x40,
# RuntimeServices 0x58, BootServices 0x60; OutputString 0x08; Stall 0xf8; ResetSystem 0x68.
{
  cat <<'EOF'
.text
.globl efi_main
efi_main:
    push %rbx
    push %rsi
    sub $40, %rsp
    mov %rdx, %rbx              # SystemTable
    mov 0x40(%rbx), %rcx        # ConOut->OutputString(ConOut, msg)
    lea msg(%rip), %rdx
    call *0x8(%rcx)
    mov 0x60(%rbx), %rax        # BootServices->Stall(3 s): the BMC sees the OS up
    mov $3000000, %ecx
    call *0xf8(%rax)
    mov 0x58(%rbx), %rax        # RuntimeServices->ResetSystem(EfiResetShutdown, 0, 0, 0)
    mov $2, %ecx
    xor %edx, %edx
    xor %r8d, %r8d
    xor %r9d, %r9d
    call *0x68(%rax)
1:  hlt
    jmp 1b
msg:                            # UCS-2, NUL-terminated
EOF
  printf '\r\nIRONBOX-OS: %s (uefi)\r\n' "$marker" | od -An -v -tu1 | tr -s ' ' '\n' \
    | sed -n 's/^\([0-9]\+\)$/    .short \1/p'
  echo "    .short 0"
} > "$w/efi.S"
as --64 -o "$w/efi.o" "$w/efi.S"
ld -m i386pep --subsystem 10 -e efi_main -o "$w/BOOTX64.EFI" "$w/efi.o"
mmd -i "$w/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$w/esp.img" "$w/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI

total=$((24 * 2048))
head -c $((total * 512)) /dev/urandom > "$out"
# A GPT, as UEFI images have (IPA's install_bootloader names the ESP by its GPT entry), with
# sgdisk's protective MBR; the BIOS boot code goes in front of that MBR's table.
sgdisk -o -n "1:$esp_lba:+$((esp_sectors - 1))" -t 1:EF00 -c 1:ESP "$out" >/dev/null
dd if="$w/boot.bin" of="$out" conv=notrunc status=none
dd if="$w/esp.img" of="$out" bs=512 seek=$esp_lba conv=notrunc status=none
echo "disk image $out: 24 MiB, marker $marker"
