//! Boot ISOs for virtual media: an ISO9660 image whose El Torito UEFI entry is a FAT EFI
//! System Partition holding iPXE as the removable-media loader (`EFI/BOOT/BOOTX64.EFI` or
//! `BOOTAA64.EFI`), an `autoexec.ipxe` script, and the kernel and ramdisk, which iPXE loads
//! from the ESP (`file:` URIs) and boots with the given command line.
//!
//! Why iPXE: ironbox already carries it for every UEFI platform it network-boots, and
//! iPXE ≥ 1.21.1 runs `autoexec.ipxe` from the volume it was started from, so no other
//! loader (grub, shim, a UKI stub) has to be shipped. The kernel and ramdisk live in the
//! ESP rather than the ISO9660 tree because UEFI firmware reads FAT, not ISO9660.
//!
//! The output is reproducible: fixed timestamps (1980 in FAT, 2000 in ISO9660), a fixed
//! FAT volume ID, and files in a fixed order, so equal inputs give equal bytes. Large
//! inputs are streamed from their files into the image, never held in memory.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::iso9660::{self, Data, Options};
use super::ImageError;

/// The ISO's volume label.
pub const LABEL: &str = "IRONBOX_BOOT";
/// The ESP image's path in the ISO9660 tree.
pub const ESP_PATH: &str = "efiboot.img";
/// The longest command line accepted (Linux's x86 COMMAND_LINE_SIZE).
pub const MAX_CMDLINE: usize = 2048;
const CLUSTER: u64 = 4096;

/// The CPU architecture the ISO boots, which names the removable-media loader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// From a node's `cpu_arch` (`x86_64`, `aarch64`, `arm64`...); None for one we cannot
    /// boot.
    pub fn parse(cpu_arch: &str) -> Option<Arch> {
        match cpu_arch.trim().to_ascii_lowercase().as_str() {
            "" | "x86_64" | "amd64" | "x86-64" | "x64" => Some(Arch::X86_64),
            "aarch64" | "arm64" => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// The file UEFI firmware starts from removable media (UEFI spec 3.5.1.1).
    pub fn loader_file(self) -> &'static str {
        match self {
            Arch::X86_64 => "BOOTX64.EFI",
            Arch::Aarch64 => "BOOTAA64.EFI",
        }
    }
}

/// What goes on the ISO.
#[derive(Debug, Clone, Copy)]
pub struct BootIso<'a> {
    pub arch: Arch,
    /// The iPXE EFI program for `arch`.
    pub loader: &'a [u8],
    pub kernel: &'a Path,
    pub ramdisk: &'a Path,
    /// The kernel command line (one line of printable ASCII).
    pub cmdline: &'a str,
}

/// Whether an iPXE program runs `autoexec.ipxe` from its boot volume (iPXE ≥ 1.21.1;
/// Debian 12's 2019 build does not).
pub fn loader_runs_autoexec(loader: &[u8]) -> bool {
    loader.windows(13).any(|w| w == b"autoexec.ipxe")
}

/// Refuses a command line that would break out of the iPXE script or the kernel's limit.
pub fn check_cmdline(cmdline: &str) -> Result<(), ImageError> {
    if cmdline.len() > MAX_CMDLINE {
        return Err(ImageError::BootIso(format!(
            "the kernel command line is {} bytes, the limit is {MAX_CMDLINE}",
            cmdline.len()
        )));
    }
    if let Some(c) = cmdline.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(ImageError::BootIso(format!(
            "the kernel command line holds {c:?}: only printable ASCII on one line is allowed"
        )));
    }
    Ok(())
}

/// The iPXE script on the ESP: load the kernel and ramdisk beside it, then boot.
pub fn script(cmdline: &str) -> String {
    format!(
        "#!ipxe\n\
         # ironbox boot ISO: the kernel and ramdisk are on this ESP.\n\
         kernel file:/vmlinuz initrd=ramdisk {cmdline} || goto failed\n\
         initrd --name ramdisk file:/ramdisk || goto failed\n\
         # iPXE starts EFI kernels through an opened network device's handle.\n\
         ifopen || goto failed\n\
         boot || goto failed\n\
         :failed\n\
         echo ironbox: could not boot the kernel from this ISO\n\
         shell\n"
    )
}

/// Writes the boot ISO to `out` (created or truncated); returns its length in bytes.
pub fn build(spec: &BootIso<'_>, out: &Path) -> Result<u64, ImageError> {
    check_cmdline(spec.cmdline)?;
    if !loader_runs_autoexec(spec.loader) {
        return Err(ImageError::BootIso(
            "the iPXE EFI program does not run autoexec.ipxe (iPXE before 1.21.1, such as Debian 12's); \
             set [pxe] ipxe_dir to a newer iPXE (Debian 13's ipxe package) or use a release binary"
                .into(),
        ));
    }
    let open = |what: &str, p: &Path| {
        File::open(p).map_err(|e| {
            ImageError::BootIso(format!("cannot read the {what} {}: {e}", p.display()))
        })
    };
    let mut kernel = open("kernel", spec.kernel)?;
    let mut ramdisk = open("ramdisk", spec.ramdisk)?;
    let len_of = |f: &File, what: &str| {
        f.metadata()
            .map(|m| m.len())
            .map_err(|e| ImageError::BootIso(format!("cannot read the {what}: {e}")))
    };
    let (kernel_len, ramdisk_len) = (len_of(&kernel, "kernel")?, len_of(&ramdisk, "ramdisk")?);
    if kernel_len == 0 || ramdisk_len == 0 {
        return Err(ImageError::BootIso(format!(
            "the {} is empty",
            if kernel_len == 0 { "kernel" } else { "ramdisk" }
        )));
    }
    let script = script(spec.cmdline);
    let esp_len = esp_size(&[
        spec.loader.len() as u64,
        script.len() as u64,
        script.len() as u64,
        kernel_len,
        ramdisk_len,
    ]);

    let files = [(ESP_PATH, Data::Extent(esp_len))];
    let opts = Options {
        label: LABEL,
        efi_image: Some(ESP_PATH),
        stamp: fixed_stamp(),
    };
    let plan = iso9660::plan(&opts, &files)?;
    let esp_at = plan
        .files
        .first()
        .map(|(at, _, _)| *at)
        .ok_or_else(|| ImageError::Iso("the boot image was not laid out".into()))?;
    // Read and write: the FAT driver reads back what it formats.
    let mut iso = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(out)
        .map_err(ImageError::Write)?;
    plan.write_to(&mut iso)?;

    let window = Window {
        file: &iso,
        start: esp_at,
        len: esp_len,
        pos: 0,
    };
    fatfs::format_volume(
        window,
        fatfs::FormatVolumeOptions::new()
            .bytes_per_cluster(CLUSTER as u32)
            .volume_id(0x1b0c_b007)
            .volume_label(*b"IRONBOX ESP"),
    )
    .map_err(|e| ImageError::BootIso(format!("formatting the ESP: {e}")))?;
    let window = Window {
        file: &iso,
        start: esp_at,
        len: esp_len,
        pos: 0,
    };
    let fs = fatfs::FileSystem::new(window, fatfs::FsOptions::new())
        .map_err(|e| ImageError::BootIso(format!("opening the ESP: {e}")))?;
    {
        let esp_err = |e: io::Error| ImageError::BootIso(format!("writing the ESP: {e}"));
        let root = fs.root_dir();
        let boot = root
            .create_dir("EFI")
            .and_then(|d| d.create_dir("BOOT"))
            .map_err(esp_err)?;
        let put = |dir: &fatfs::Dir<'_, Window<'_>>, name: &str, src: &mut dyn Read| {
            let mut f = dir.create_file(name).map_err(esp_err)?;
            f.truncate().map_err(esp_err)?;
            io::copy(src, &mut f).map_err(esp_err)?;
            f.flush().map_err(esp_err)
        };
        put(&boot, spec.arch.loader_file(), &mut &*spec.loader)?;
        // iPXE looks beside itself (newer builds) or at the volume's root (1.21.1).
        put(&boot, "autoexec.ipxe", &mut script.as_bytes())?;
        put(&root, "autoexec.ipxe", &mut script.as_bytes())?;
        put(&root, "vmlinuz", &mut kernel)?;
        put(&root, "ramdisk", &mut ramdisk)?;
    }
    fs.unmount()
        .map_err(|e| ImageError::BootIso(format!("closing the ESP: {e}")))?;
    iso.sync_all().map_err(ImageError::Write)?;
    Ok(plan.total_bytes)
}

/// 2000-01-01 00:00 UTC, the time the ISO9660 directory records already carry.
fn fixed_stamp() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::<chrono::Utc>::from_timestamp(946_684_800, 0).unwrap_or_default()
}

/// An ESP big enough for files of these lengths: their clusters, two FATs of 32-bit
/// entries, directories and headroom, rounded up to whole MiB (at least 8 MiB, so the
/// filesystem is never a tiny FAT12 some firmware mishandles).
fn esp_size(files: &[u64]) -> u64 {
    let clusters: u64 = files.iter().map(|l| l.div_ceil(CLUSTER)).sum::<u64>() + 64;
    let bytes = clusters * CLUSTER + 2 * clusters * 4 + (1 << 20);
    bytes.div_ceil(1 << 20).max(8) << 20
}

/// The ESP's bytes inside the ISO file, as a disk of its own.
struct Window<'f> {
    file: &'f File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Window<'_> {
    fn room(&self, want: usize) -> usize {
        (self.len.saturating_sub(self.pos)).min(want as u64) as usize
    }
}

impl Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.room(buf.len());
        let mut f = self.file;
        f.seek(SeekFrom::Start(self.start + self.pos))?;
        let got = f.read(buf.get_mut(..n).unwrap_or_default())?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl Write for Window<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.room(buf.len());
        if n == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "write past the end of the ESP",
            ));
        }
        let mut f = self.file;
        f.seek(SeekFrom::Start(self.start + self.pos))?;
        let put = f.write(buf.get(..n).unwrap_or_default())?;
        self.pos += put as u64;
        Ok(put)
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut f = self.file;
        f.flush()
    }
}

impl Seek for Window<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(t) if t <= self.len => {
                self.pos = t;
                Ok(t)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek outside the ESP",
            )),
        }
    }
}

#[cfg(test)]
mod tests;
