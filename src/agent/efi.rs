//! `image.install_bootloader` for whole-disk images in UEFI mode, as IPA's `manage_uefi`
//! does it: find the image's EFI System Partition, find its loaders (a shim's `BOOT*.CSV`
//! first, else `BOOT*.EFI`), and register each in the firmware's NVRAM as a `Boot####`
//! variable at the front of `BootOrder`, replacing entries with the same label.
//!
//! The FAT filesystem is read in-process (fatfs), so the ramdisk needs no vfat module;
//! the variables are written through efivarfs (mounted here if it is not).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::disk::{self, Esp};

/// EFI_GLOBAL_VARIABLE, the vendor GUID of Boot#### and BootOrder.
const GLOBAL: &str = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
/// NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS.
const ATTRS: u32 = 0x7;
/// IPA's list: shim pointers first, then the removable-media loader names.
const LOADERS: &[&str] = &[
    "bootx64.csv",
    "bootaa64.csv",
    "boot.csv",
    "bootia32.efi",
    "bootx64.efi",
    "bootia64.efi",
    "bootarm.efi",
    "bootaa64.efi",
];

#[derive(Debug, thiserror::Error)]
pub enum EfiError {
    #[error(transparent)]
    Disk(#[from] disk::DiskError),
    #[error(
        "No EFI partition could be detected on device {0}. Are you using a UEFI-compatible image?"
    )]
    NoEsp(String),
    #[error("reading the EFI System Partition of {0}: {1}")]
    Fat(String, std::io::Error),
    #[error("no EFI boot loader found on the EFI System Partition of {0} (looked for {1})")]
    NoLoader(String, String),
    #[error("the EFI variables at {0} are not available: {1}")]
    NoEfivars(String, String),
    #[error("writing EFI variable {0}: {1}")]
    Write(String, std::io::Error),
}

/// A loader to register: its path on the ESP (`\EFI\...`) and the entry's label.
#[derive(Debug, Clone, PartialEq)]
pub struct Loader {
    pub path: String,
    pub label: String,
}

/// Register the loaders of `device`'s ESP in the NVRAM behind `efivars`. Returns what was
/// registered as `(Boot#### number, loader)`.
pub fn install(device: &Path, efivars: &Path) -> Result<Vec<(u16, Loader)>, EfiError> {
    let name = device.display().to_string();
    let esp = disk::find_esp(device)?.ok_or_else(|| EfiError::NoEsp(name.clone()))?;
    let loaders = find_loaders(device, &esp).map_err(|e| EfiError::Fat(name.clone(), e))?;
    if loaders.is_empty() {
        return Err(EfiError::NoLoader(name, LOADERS.join(", ")));
    }
    mount_efivarfs(efivars)?;
    let mut added = vec![];
    for l in loaders {
        for (num, label) in boot_entries(efivars) {
            if label == l.label {
                remove_var(efivars, &format!("Boot{num:04X}"))?;
            }
        }
        let num = (0..=u16::MAX)
            .find(|n| !var_path(efivars, &format!("Boot{n:04X}")).exists())
            .ok_or_else(|| {
                EfiError::Write("Boot####".into(), std::io::Error::other("all in use"))
            })?;
        write_var(
            efivars,
            &format!("Boot{num:04X}"),
            &load_option(&esp, &l.path, &l.label),
        )?;
        let mut order: Vec<u16> = read_var(efivars, "BootOrder")
            .unwrap_or_default()
            .chunks_exact(2)
            .filter_map(|c| <[u8; 2]>::try_from(c).ok())
            .map(u16::from_le_bytes)
            .filter(|n| *n != num && var_path(efivars, &format!("Boot{n:04X}")).exists())
            .collect();
        order.insert(0, num);
        let bytes: Vec<u8> = order.iter().flat_map(|n| n.to_le_bytes()).collect();
        write_var(efivars, "BootOrder", &bytes)?;
        added.push((num, l));
    }
    Ok(added)
}

/// The partition as a file of its own, for fatfs (which also wants Write: refused).
struct PartFile {
    f: File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for PartFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.f.seek(SeekFrom::Start(self.start + self.pos))?;
        let got = self.f.read(buf.get_mut(..n).unwrap_or_default())?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl Write for PartFile {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "the ESP is read only here",
        ))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for PartFile {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before start")
        })?;
        Ok(self.pos)
    }
}

/// IPA's `_get_efi_bootloaders`: walk the ESP; a shim's CSV names the loader and label and
/// is the only entry; otherwise every removable-media loader, labelled ironbox1, 2, ...
fn find_loaders(device: &Path, esp: &Esp) -> std::io::Result<Vec<Loader>> {
    let f = File::open(device)?;
    let part = PartFile {
        f,
        start: esp.part.start,
        len: esp.part.size,
        pos: 0,
    };
    let fs = fatfs::FileSystem::new(part, fatfs::FsOptions::new())?;
    let mut found = vec![];
    walk(&fs.root_dir(), "", 0, &mut found)?;
    let mut loaders = vec![];
    for (path, is_csv, dir) in found {
        if is_csv {
            let mut data = vec![];
            fs.root_dir()
                .open_file(path.trim_start_matches('/'))?
                .read_to_end(&mut data)?;
            // "loader.efi,Label,options,comment" in UCS-2 (with or without a BOM).
            let units: Vec<u16> = data
                .chunks_exact(2)
                .filter_map(|c| <[u8; 2]>::try_from(c).ok())
                .map(u16::from_le_bytes)
                .filter(|u| *u != 0xfeff)
                .collect();
            let text = String::from_utf16_lossy(&units);
            let mut fields = text.splitn(3, ',');
            let (Some(file), Some(label)) = (fields.next(), fields.next()) else {
                continue;
            };
            let path = format!("{dir}/{}", file.trim()).replace('/', "\\");
            return Ok(vec![Loader {
                path,
                label: label.trim().to_string(),
            }]);
        }
        loaders.push(Loader {
            path: path.replace('/', "\\"),
            label: format!("ironbox{}", loaders.len() + 1),
        });
    }
    Ok(loaders)
}

/// Collect `(path, is_csv, its directory)` for every known loader name, CSVs first.
fn walk<T: fatfs::ReadWriteSeek>(
    dir: &fatfs::Dir<'_, T>,
    prefix: &str,
    depth: usize,
    out: &mut Vec<(String, bool, String)>,
) -> std::io::Result<()> {
    if depth > 8 {
        return Ok(());
    }
    for e in dir.iter() {
        let e = e?;
        let name = e.file_name();
        if name == "." || name == ".." {
            continue;
        }
        let path = format!("{prefix}/{name}");
        if e.is_dir() {
            walk(&e.to_dir(), &path, depth + 1, out)?;
        } else if LOADERS.contains(&name.to_ascii_lowercase().as_str()) {
            let csv = name.to_ascii_lowercase().ends_with(".csv");
            out.push((path, csv, prefix.to_string()));
        }
    }
    out.sort_by_key(|(p, csv, _)| (!*csv, p.clone()));
    Ok(())
}

/// EFI_LOAD_OPTION: active, `HD(n, MBR|GPT, sig, start, size)/File(path)/End`, label.
pub fn load_option(esp: &Esp, path: &str, label: &str) -> Vec<u8> {
    let mut dp = vec![0x04, 0x01, 42, 0];
    dp.extend_from_slice(&esp.number.to_le_bytes());
    dp.extend_from_slice(&(esp.part.start / esp.block).to_le_bytes());
    dp.extend_from_slice(&(esp.part.size / esp.block).to_le_bytes());
    dp.extend_from_slice(&esp.signature);
    dp.extend_from_slice(if esp.gpt {
        &[0x02, 0x02]
    } else {
        &[0x01, 0x01]
    });
    let file = ucs2(path);
    dp.extend_from_slice(&[0x04, 0x04]);
    dp.extend_from_slice(&((4 + file.len()) as u16).to_le_bytes());
    dp.extend_from_slice(&file);
    dp.extend_from_slice(&[0x7f, 0xff, 0x04, 0x00]);
    let mut opt = 1u32.to_le_bytes().to_vec();
    opt.extend_from_slice(&(dp.len() as u16).to_le_bytes());
    opt.extend_from_slice(&ucs2(label));
    opt.extend_from_slice(&dp);
    opt
}

fn ucs2(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// A Boot#### entry's label (its description).
fn label_of(opt: &[u8]) -> Option<String> {
    let units: Vec<u16> = opt
        .get(6..)?
        .chunks_exact(2)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(u16::from_le_bytes)
        .take_while(|u| *u != 0)
        .collect();
    Some(String::from_utf16_lossy(&units))
}

fn boot_entries(efivars: &Path) -> Vec<(u16, String)> {
    let Ok(dir) = std::fs::read_dir(efivars) else {
        return vec![];
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let hex = name
                .strip_prefix("Boot")?
                .strip_suffix(&format!("-{GLOBAL}"))?;
            let num = u16::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() == 4)?;
            Some((num, label_of(&read_var(efivars, &format!("Boot{hex}"))?)?))
        })
        .collect()
}

fn var_path(efivars: &Path, name: &str) -> PathBuf {
    efivars.join(format!("{name}-{GLOBAL}"))
}

/// A variable's data (without efivarfs' 4 attribute bytes).
fn read_var(efivars: &Path, name: &str) -> Option<Vec<u8>> {
    let b = std::fs::read(var_path(efivars, name)).ok()?;
    Some(b.get(4..)?.to_vec())
}

/// efivarfs takes attributes and data in one write, and marks existing variables
/// immutable: lift that flag before rewriting or removing one.
fn write_var(efivars: &Path, name: &str, data: &[u8]) -> Result<(), EfiError> {
    let p = var_path(efivars, name);
    let err = |e| EfiError::Write(name.to_string(), e);
    if p.exists() {
        make_mutable(&p);
    }
    let mut buf = ATTRS.to_le_bytes().to_vec();
    buf.extend_from_slice(data);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .map_err(err)?;
    f.write_all(&buf).map_err(err)
}

fn remove_var(efivars: &Path, name: &str) -> Result<(), EfiError> {
    let p = var_path(efivars, name);
    make_mutable(&p);
    std::fs::remove_file(&p).map_err(|e| EfiError::Write(name.to_string(), e))
}

/// Clear FS_IMMUTABLE_FL (chattr -i). Only efivarfs sets it; elsewhere this is a no-op.
fn make_mutable(p: &Path) {
    const FS_IOC_GETFLAGS: libc::c_ulong = 0x8008_6601;
    const FS_IOC_SETFLAGS: libc::c_ulong = 0x4008_6602;
    const FS_IMMUTABLE_FL: libc::c_long = 0x10;
    use std::os::fd::AsRawFd;
    let Ok(f) = File::open(p) else { return };
    let mut flags: libc::c_long = 0;
    // SAFETY: both ioctls take a pointer to a long that lives across the call.
    unsafe {
        // `as _`: the request is an unsigned long in glibc and an int in musl.
        if libc::ioctl(f.as_raw_fd(), FS_IOC_GETFLAGS as _, &mut flags) == 0
            && flags & FS_IMMUTABLE_FL != 0
        {
            flags &= !FS_IMMUTABLE_FL;
            libc::ioctl(f.as_raw_fd(), FS_IOC_SETFLAGS as _, &flags);
        }
    }
}

/// In the ramdisk nothing mounts efivarfs: mount it on sysfs' `firmware/efi/efivars` if
/// it is not there yet. Any other directory (`--efivars`) is used as it is.
fn mount_efivarfs(efivars: &Path) -> Result<(), EfiError> {
    const EFIVARFS_MAGIC: i64 = 0xde5e81e4;
    const SYSFS_MAGIC: i64 = 0x62656572;
    let shown = efivars.display().to_string();
    let fs_type = |p: &Path| -> Option<i64> {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: a zeroed statfs for the kernel to fill; the path outlives the call.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        (unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0).then_some(st.f_type as i64)
    };
    match fs_type(efivars) {
        None => {
            return Err(EfiError::NoEfivars(
                shown,
                "no such directory (was the machine booted in UEFI mode?)".into(),
            ))
        }
        Some(EFIVARFS_MAGIC) => return Ok(()),
        Some(SYSFS_MAGIC) => {}
        Some(_) => return Ok(()),
    }
    let c = |s: &str| std::ffi::CString::new(s).unwrap_or_default();
    let (src, target, fstype) = (c("efivarfs"), c(&shown), c("efivarfs"));
    // SAFETY: NUL-terminated strings that outlive the call; no data argument.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return Err(EfiError::NoEfivars(
            shown,
            format!("mounting efivarfs: {e} (is the efivarfs module in the ramdisk?)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 24 MiB disk: MBR with signature, FAT ESP at LBA 2048 holding `files`.
    fn disk_with_esp(files: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let mut esp = std::io::Cursor::new(vec![0u8; 16 << 20]);
        fatfs::format_volume(&mut esp, fatfs::FormatVolumeOptions::new()).unwrap();
        {
            let fs = fatfs::FileSystem::new(&mut esp, fatfs::FsOptions::new()).unwrap();
            for (path, data) in files {
                let mut dir = fs.root_dir();
                let parts: Vec<&str> = path.split('/').collect();
                for d in &parts[..parts.len() - 1] {
                    dir = dir.create_dir(d).unwrap();
                }
                let mut f = dir.create_file(parts[parts.len() - 1]).unwrap();
                f.write_all(data).unwrap();
            }
        }
        let mut img = vec![0u8; 24 << 20];
        img[440..444].copy_from_slice(&[0x49, 0x42, 0x4f, 0x58]);
        let e = &mut img[446..462];
        e[4] = 0xef;
        e[8..12].copy_from_slice(&2048u32.to_le_bytes());
        e[12..16].copy_from_slice(&32768u32.to_le_bytes());
        img[510] = 0x55;
        img[511] = 0xaa;
        img[2048 * 512..2048 * 512 + (16 << 20)].copy_from_slice(esp.get_ref());
        let t = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(t.path(), img).unwrap();
        t
    }

    #[test]
    fn registers_the_removable_loader_first_in_boot_order() {
        let disk = disk_with_esp(&[("EFI/BOOT/BOOTX64.EFI", b"MZ")]);
        let vars = tempfile::tempdir().unwrap();
        // An existing entry, and a stale one with our label that must be replaced.
        let elsewhere = Esp {
            number: 1,
            part: disk::Part {
                start: 0,
                size: 512,
            },
            block: 512,
            signature: [0; 16],
            gpt: false,
        };
        for (var, path, label) in [
            ("Boot0000", "\\x.efi", "UEFI Shell"),
            ("Boot0003", "\\old.efi", "ironbox1"),
        ] {
            write_var(vars.path(), var, &load_option(&elsewhere, path, label)).unwrap();
        }
        write_var(vars.path(), "BootOrder", &[0, 0, 3, 0]).unwrap();
        let added = install(disk.path(), vars.path()).unwrap();
        assert_eq!(
            added,
            vec![(
                1,
                Loader {
                    path: "\\EFI\\BOOT\\BOOTX64.EFI".into(),
                    label: "ironbox1".into()
                }
            )]
        );
        assert!(!var_path(vars.path(), "Boot0003").exists());
        assert_eq!(
            read_var(vars.path(), "BootOrder").unwrap(),
            vec![1, 0, 0, 0]
        );
        let opt = read_var(vars.path(), "Boot0001").unwrap();
        assert_eq!(&opt[..4], &[1, 0, 0, 0], "active");
        assert_eq!(label_of(&opt).unwrap(), "ironbox1");
        // HD(1, MBR, 0x584f4249, 2048, 32768)
        let hd = &opt[6 + ucs2("ironbox1").len()..];
        assert_eq!(&hd[..4], &[4, 1, 42, 0]);
        assert_eq!(u32::from_le_bytes(hd[4..8].try_into().unwrap()), 1);
        assert_eq!(u64::from_le_bytes(hd[8..16].try_into().unwrap()), 2048);
        assert_eq!(u64::from_le_bytes(hd[16..24].try_into().unwrap()), 32768);
        assert_eq!(&hd[24..28], &[0x49, 0x42, 0x4f, 0x58]);
        assert_eq!(&hd[40..42], &[1, 1]);
        let file = &hd[42..];
        assert_eq!(&file[..2], &[4, 4]);
        assert!(file.ends_with(&[0x7f, 0xff, 4, 0]));
        // The attribute bytes efivarfs wants in front.
        let raw = std::fs::read(var_path(vars.path(), "Boot0001")).unwrap();
        assert_eq!(&raw[..4], &[7, 0, 0, 0]);
    }

    #[test]
    fn a_shim_csv_names_the_loader_and_label() {
        let csv: Vec<u8> = "\u{feff}shimx64.efi,debian,,This is the boot entry for debian\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let disk = disk_with_esp(&[
            ("EFI/BOOT/BOOTX64.EFI", b"MZ"),
            ("EFI/debian/BOOTX64.CSV", &csv),
            ("EFI/debian/shimx64.efi", b"MZ"),
        ]);
        let vars = tempfile::tempdir().unwrap();
        let added = install(disk.path(), vars.path()).unwrap();
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].1.path, "\\EFI\\debian\\shimx64.efi");
        assert_eq!(added[0].1.label, "debian");
    }

    #[test]
    fn no_esp_or_no_loader_is_a_clear_error() {
        let vars = tempfile::tempdir().unwrap();
        let bare = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(bare.path(), vec![1u8; 4096]).unwrap();
        let e = install(bare.path(), vars.path()).unwrap_err().to_string();
        assert!(e.contains("No EFI partition could be detected"), "{e}");
        let empty = disk_with_esp(&[("EFI/README.TXT", b"hi")]);
        let e = install(empty.path(), vars.path()).unwrap_err().to_string();
        assert!(e.contains("no EFI boot loader found"), "{e}");
        assert_eq!(std::fs::read_dir(vars.path()).unwrap().count(), 0);
    }
}
