//! Raw disk work done without external tools: partition tables (GPT and MBR) read and
//! extended with a config-drive partition, metadata wiping, zero-filling, and the MBR disk
//! identifier IPA reports as the "root uuid" of whole-disk images.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

const MIB: u64 = 1 << 20;
/// IPA's config-drive partition size (and the largest config drive it accepts).
pub const CONFIG_DRIVE_MAX: u64 = 64 * MIB;
/// GPT type "Linux filesystem data" 0FC63DAF-8483-4772-8E79-3D69D8477DE4, as stored on disk.
const LINUX_DATA: [u8; 16] = [
    0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47, 0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4,
];

#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{0} has no partition table (neither GPT nor MBR): cannot add a config drive")]
    NoPartitionTable(String),
    #[error("no room for a {need} byte config-drive partition on {disk}: {why}")]
    NoRoom {
        disk: String,
        need: u64,
        why: String,
    },
    #[error("the config drive is {0} bytes; at most 64 MiB is allowed")]
    ConfigDriveTooBig(u64),
    #[error("corrupt GPT on {0}: {1}")]
    BadGpt(String, String),
}

/// A partition as a byte range of the disk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Part {
    pub start: u64,
    pub size: u64,
}

/// Where the config drive went.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigDrivePart {
    /// 1-based partition number.
    pub number: usize,
    pub start: u64,
    pub size: u64,
    /// GPT unique partition GUID (None on MBR).
    pub uuid: Option<String>,
}

struct Disk {
    f: File,
    path: String,
}

impl Disk {
    fn open(path: &Path) -> Result<Disk, DiskError> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|source| DiskError::Io {
                what: "opening",
                path: path.display().to_string(),
                source,
            })?;
        Ok(Disk {
            f,
            path: path.display().to_string(),
        })
    }

    fn err(&self, what: &'static str) -> impl Fn(std::io::Error) -> DiskError + '_ {
        move |source| DiskError::Io {
            what,
            path: self.path.clone(),
            source,
        }
    }

    fn read_at(&mut self, off: u64, len: usize) -> Result<Vec<u8>, DiskError> {
        let mut buf = vec![0u8; len];
        self.read_into(off, &mut buf)?;
        Ok(buf)
    }

    fn read_array<const N: usize>(&mut self, off: u64) -> Result<[u8; N], DiskError> {
        let mut buf = [0u8; N];
        self.read_into(off, &mut buf)?;
        Ok(buf)
    }

    fn read_into(&mut self, off: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        self.f
            .seek(SeekFrom::Start(off))
            .map_err(self.err("seeking"))?;
        // Short reads past the end leave zeros, like an unwritten device region.
        let mut rest: &mut [u8] = buf;
        while !rest.is_empty() {
            let n = self.f.read(rest).map_err(self.err("reading"))?;
            if n == 0 {
                break;
            }
            rest = std::mem::take(&mut rest).get_mut(n..).unwrap_or_default();
        }
        Ok(())
    }

    fn write_at(&mut self, off: u64, data: &[u8]) -> Result<(), DiskError> {
        self.f
            .seek(SeekFrom::Start(off))
            .map_err(self.err("seeking"))?;
        self.f.write_all(data).map_err(self.err("writing"))
    }

    fn zero(&mut self, off: u64, len: u64) -> Result<(), DiskError> {
        let chunk = vec![0u8; MIB as usize];
        self.f
            .seek(SeekFrom::Start(off))
            .map_err(self.err("seeking"))?;
        let mut left = len;
        while left > 0 {
            let n = left.min(MIB) as usize;
            let part = chunk.get(..n).unwrap_or(&chunk);
            self.f.write_all(part).map_err(self.err("writing"))?;
            left -= n as u64;
        }
        Ok(())
    }

    fn finish(self) -> Result<(), DiskError> {
        self.f.sync_all().map_err(self.err("syncing"))?;
        reread_partitions(&self.f);
        Ok(())
    }

    fn bad_gpt(&self, why: &str) -> DiskError {
        DiskError::BadGpt(self.path.clone(), why.into())
    }
}

/// Ask the kernel to re-read the partition table (block devices only; files ignore it).
fn reread_partitions(f: &File) {
    use std::os::fd::AsRawFd;
    const BLKRRPART: libc::c_ulong = 0x125F;
    // SAFETY: BLKRRPART takes no argument; the fd is open for the duration of the call.
    let _ = unsafe { libc::ioctl(f.as_raw_fd(), BLKRRPART as _, 0) };
}

/// `N` bytes of `b` from `at`; None past its end (a table read from disk may be short).
fn array_at<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    array_at(b, at).map(u32::from_le_bytes)
}

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    array_at(b, at).map(u64::from_le_bytes)
}

/// Copies `bytes` into `b` at `at`; None when they do not fit.
fn put(b: &mut [u8], at: usize, bytes: &[u8]) -> Option<()> {
    b.get_mut(at..at.checked_add(bytes.len())?)?
        .copy_from_slice(bytes);
    Some(())
}

/// The fields of a GPT partition entry this module uses.
struct Entry {
    type_guid: [u8; 16],
    unique_guid: [u8; 16],
    first: u64,
    last: u64,
    /// UTF-16LE, NUL-padded.
    name: [u8; 72],
}

impl Entry {
    fn parse(e: &[u8]) -> Option<Entry> {
        Some(Entry {
            type_guid: array_at(e, 0)?,
            unique_guid: array_at(e, 16)?,
            first: le_u64(e, 32)?,
            last: le_u64(e, 40)?,
            name: array_at(e, 56)?,
        })
    }

    fn used(&self) -> bool {
        self.type_guid.iter().any(|b| *b != 0)
    }

    fn part(&self, lba: u64) -> Part {
        Part {
            start: self.first.saturating_mul(lba),
            size: (self.last.saturating_sub(self.first) + 1).saturating_mul(lba),
        }
    }

    fn name(&self) -> String {
        let units: Vec<u16> = self
            .name
            .chunks_exact(2)
            .filter_map(|c| <[u8; 2]>::try_from(c).ok())
            .map(u16::from_le_bytes)
            .take_while(|u| *u != 0)
            .collect();
        String::from_utf16_lossy(&units)
    }
}

/// A GPT found on the disk.
struct Gpt {
    lba: u64,
    header: Vec<u8>,
    /// The raw entry array (rewritten whole), and its entries parsed.
    entries: Vec<u8>,
    entry_size: usize,
    parsed: Vec<Entry>,
    /// Header fields: the backup header's LBA, the entry array's LBA, the first usable LBA.
    alt_lba: u64,
    entries_lba: u64,
    first_usable: u64,
}

impl Gpt {
    fn read(d: &mut Disk) -> Result<Option<Gpt>, DiskError> {
        for lba in [512u64, 4096] {
            let sector = d.read_at(lba, lba as usize)?;
            if sector.get(..8) != Some(&b"EFI PART"[..]) {
                continue;
            }
            let short = || d.bad_gpt("short header");
            let hsize = le_u32(&sector, 12).ok_or_else(short)? as usize;
            if !(92..=lba as usize).contains(&hsize) {
                return Err(d.bad_gpt("bad header size"));
            }
            let header = sector.get(..hsize).ok_or_else(short)?.to_vec();
            let field = |at: usize| le_u64(&header, at).ok_or_else(short);
            let (alt_lba, first_usable, entries_lba) = (field(32)?, field(40)?, field(72)?);
            let num = le_u32(&header, 80).ok_or_else(short)? as usize;
            let esize = le_u32(&header, 84).ok_or_else(short)? as usize;
            if esize < 128 || num == 0 || num * esize > 4 * MIB as usize {
                return Err(d.bad_gpt("bad entry array"));
            }
            let at = entries_lba
                .checked_mul(lba)
                .ok_or_else(|| d.bad_gpt("bad entry array"))?;
            let entries = d.read_at(at, num * esize)?;
            let parsed = entries
                .chunks_exact(esize)
                .map(Entry::parse)
                .collect::<Option<Vec<Entry>>>()
                .ok_or_else(|| d.bad_gpt("bad entry array"))?;
            return Ok(Some(Gpt {
                lba,
                header,
                entries,
                entry_size: esize,
                parsed,
                alt_lba,
                entries_lba,
                first_usable,
            }));
        }
        Ok(None)
    }

    fn parts(&self) -> Vec<Part> {
        self.parsed
            .iter()
            .filter(|e| e.used())
            .map(|e| e.part(self.lba))
            .collect()
    }

    /// Recomputes a header's CRC; None when `h` is shorter than a GPT header.
    fn header_crc(h: &mut [u8]) -> Option<()> {
        put(h, 16, &[0; 4])?;
        let crc = crc32fast::hash(h);
        put(h, 16, &crc.to_le_bytes())
    }
}

fn mbr_parts(mbr: &[u8]) -> Vec<(usize, u8, Part)> {
    let (Some(table), Some([0x55, 0xAA])) = (mbr.get(446..510), mbr.get(510..512)) else {
        return vec![];
    };
    table
        .chunks_exact(16)
        .enumerate()
        .filter_map(|(i, e)| {
            let (ty, start, size) = (*e.get(4)?, le_u32(e, 8)? as u64, le_u32(e, 12)? as u64);
            (ty != 0 && size > 0).then_some((
                i,
                ty,
                Part {
                    start: start * 512,
                    size: size * 512,
                },
            ))
        })
        .collect()
}

/// The whole-disk image "root uuid" as IPA reports it: the 32-bit MBR disk signature at
/// byte 440, as `0x%08x`.
pub fn disk_identifier(path: &Path) -> Result<String, DiskError> {
    let mut d = Disk::open(path)?;
    let b: [u8; 4] = d.read_array(440)?;
    Ok(format!("0x{:08x}", u32::from_le_bytes(b)))
}

/// Partitions listed by the disk's GPT or MBR (empty without a table).
pub fn partitions(path: &Path) -> Result<Vec<Part>, DiskError> {
    let mut d = Disk::open(path)?;
    if let Some(g) = Gpt::read(&mut d)? {
        return Ok(g.parts());
    }
    let mbr: [u8; 512] = d.read_array(0)?;
    Ok(mbr_parts(&mbr)
        .into_iter()
        .filter(|(_, ty, _)| *ty != 0xEE)
        .map(|(_, _, p)| p)
        .collect())
}

/// The EFI System Partition's GPT type GUID, C12A7328-F81F-11D2-BA4B-00A0C93EC93B, as stored.
const ESP_TYPE: [u8; 16] = [
    0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b,
];

/// An EFI System Partition and what a UEFI `HD()` device path needs to name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Esp {
    /// 1-based partition number.
    pub number: u32,
    pub part: Part,
    /// Logical block size the table counts in.
    pub block: u64,
    /// GPT: the partition's unique GUID (as stored); MBR: the disk signature in bytes 0..4.
    pub signature: [u8; 16],
    pub gpt: bool,
}

/// The disk's ESP: GPT type C12A7328-..., or MBR type 0xEF (IPA's `find_efi_partition`).
pub fn find_esp(path: &Path) -> Result<Option<Esp>, DiskError> {
    let mut d = Disk::open(path)?;
    if let Some(g) = Gpt::read(&mut d)? {
        return Ok(g
            .parsed
            .iter()
            .enumerate()
            .find(|(_, e)| e.used() && e.type_guid == ESP_TYPE)
            .map(|(i, e)| Esp {
                number: i as u32 + 1,
                part: e.part(g.lba),
                block: g.lba,
                signature: e.unique_guid,
                gpt: true,
            }));
    }
    let mbr: [u8; 512] = d.read_array(0)?;
    let mut signature = [0u8; 16];
    signature[..4].copy_from_slice(&mbr[440..444]);
    Ok(mbr_parts(&mbr)
        .into_iter()
        .find(|(_, ty, _)| *ty == 0xEF)
        .map(|(i, _, part)| Esp {
            number: i as u32 + 1,
            part,
            block: 512,
            signature,
            gpt: false,
        }))
}

/// Remove what makes a disk look used: filesystem/RAID signatures at the start and end of
/// every partition, then the partition tables (the first and last MiB of the disk, and a
/// GPT backup that sits elsewhere because a smaller image was written).
pub fn wipe_metadata(path: &Path, size: u64) -> Result<(), DiskError> {
    let parts = partitions(path).unwrap_or_default();
    let mut d = Disk::open(path)?;
    let gpt_backup = Gpt::read(&mut d)
        .ok()
        .flatten()
        .map(|g| (g.alt_lba.saturating_mul(g.lba), g.lba));
    for p in parts {
        let end = (p.start + p.size).min(size);
        if p.start >= end {
            continue;
        }
        let len = (end - p.start).min(MIB);
        d.zero(p.start, len)?;
        d.zero(end - len, len)?;
    }
    if let Some((off, lba)) = gpt_backup {
        // Header plus the 16 KiB entry array before it.
        if off < size {
            let start = off.saturating_sub(32 * lba);
            d.zero(start, off + lba - start)?;
        }
    }
    d.zero(0, size.min(MIB))?;
    d.zero(size.saturating_sub(MIB), size.min(MIB))?;
    d.finish()
}

/// Overwrite the whole disk with zeros.
pub fn zero_fill(path: &Path, size: u64) -> Result<(), DiskError> {
    let mut d = Disk::open(path)?;
    d.zero(0, size)?;
    d.finish()
}

/// Zero the first MiB (so a half-written image never boots).
pub fn wipe_start(path: &Path, size: u64) -> Result<(), DiskError> {
    let mut d = Disk::open(path)?;
    d.zero(0, size.min(MIB))?;
    d.finish()
}

fn partition_size(data_len: u64) -> Result<(u64, u64), DiskError> {
    if data_len > CONFIG_DRIVE_MAX {
        return Err(DiskError::ConfigDriveTooBig(data_len));
    }
    // IPA makes a 64 MiB partition; small disks get one just big enough.
    Ok((CONFIG_DRIVE_MAX, data_len.div_ceil(MIB).max(1) * MIB))
}

/// Write `data` (a config-2 ISO9660/vfat image) into a new partition at the end of the disk
/// (reusing an existing GPT partition named `config-2`), fixing the GPT backup header and
/// CRCs for the disk's real size.
pub fn add_config_drive(path: &Path, size: u64, data: &[u8]) -> Result<ConfigDrivePart, DiskError> {
    let (want, min) = partition_size(data.len() as u64)?;
    let mut d = Disk::open(path)?;
    let part = if let Some(g) = Gpt::read(&mut d)? {
        gpt_add(&mut d, g, size, want, min, data.len() as u64)?
    } else {
        let mbr: [u8; 512] = d.read_array(0)?;
        if mbr[510] != 0x55 || mbr[511] != 0xAA {
            return Err(DiskError::NoPartitionTable(d.path.clone()));
        }
        mbr_add(&mut d, mbr, size, want, min)?
    };
    d.write_at(part.start, data)?;
    d.zero(
        part.start + data.len() as u64,
        part.size - data.len() as u64,
    )?;
    d.finish()?;
    Ok(part)
}

fn no_room(d: &Disk, need: u64, why: impl Into<String>) -> DiskError {
    DiskError::NoRoom {
        disk: d.path.clone(),
        need,
        why: why.into(),
    }
}

fn gpt_add(
    d: &mut Disk,
    mut g: Gpt,
    size: u64,
    want: u64,
    min: u64,
    data_len: u64,
) -> Result<ConfigDrivePart, DiskError> {
    let lba = g.lba;
    // An existing config-2 partition is rewritten in place (IPA does the same).
    for (i, e) in g.parsed.iter().enumerate() {
        if e.used() && e.name() == "config-2" {
            let part = e.part(lba);
            if part.size < data_len {
                return Err(no_room(
                    d,
                    data_len,
                    "the existing config-2 partition is too small",
                ));
            }
            return Ok(ConfigDrivePart {
                number: i + 1,
                start: part.start,
                size: part.size,
                uuid: Some(uuid::Uuid::from_bytes_le(e.unique_guid).to_string()),
            });
        }
    }
    let slot = g
        .parsed
        .iter()
        .position(|e| !e.used())
        .ok_or_else(|| no_room(d, min, "all GPT entries are in use"))?;
    let entry_lbas = (g.entries.len() as u64).div_ceil(lba);
    let too_small = || no_room(d, min, "the disk is too small for a GPT");
    let last_lba = (size / lba).checked_sub(1).ok_or_else(too_small)?;
    let last_usable = last_lba.checked_sub(entry_lbas + 1).ok_or_else(too_small)?;
    let first_usable = g.first_usable;
    let used_end = g
        .parsed
        .iter()
        .filter(|e| e.used())
        .map(|e| e.last + 1)
        .max()
        .unwrap_or(first_usable)
        .max(first_usable);
    let align = MIB / lba;
    let place = |len: u64| {
        let n = len / lba;
        let start = (last_usable + 1).checked_sub(n)? / align * align;
        (start >= used_end).then_some((start, n))
    };
    let (start, n) = place(want).or_else(|| place(min)).ok_or_else(|| {
        no_room(
            d,
            min,
            format!(
                "the partitions end at byte {} and the usable space at byte {}",
                used_end * lba,
                (last_usable + 1) * lba
            ),
        )
    })?;
    let guid = uuid::Uuid::new_v4();
    let mut entry = [0u8; 128];
    entry[..16].copy_from_slice(&LINUX_DATA);
    entry[16..32].copy_from_slice(&guid.to_bytes_le());
    entry[32..40].copy_from_slice(&start.to_le_bytes());
    entry[40..48].copy_from_slice(&(start + n - 1).to_le_bytes());
    for (dst, u) in entry[56..]
        .chunks_exact_mut(2)
        .zip("config-2".encode_utf16())
    {
        dst.copy_from_slice(&u.to_le_bytes());
    }
    let es = g.entry_size;
    let stored = g
        .entries
        .get_mut(slot * es..(slot + 1) * es)
        .ok_or_else(|| d.bad_gpt("bad entry array"))?;
    stored.fill(0);
    put(stored, 0, &entry).ok_or_else(|| d.bad_gpt("bad entry array"))?;
    let entries_crc = crc32fast::hash(&g.entries);
    let backup_entries = last_lba - entry_lbas;
    let (primary, backup) = new_headers(
        &g.header,
        last_lba,
        last_usable,
        entries_crc,
        backup_entries,
    )
    .ok_or_else(|| d.bad_gpt("short header"))?;

    let old_alt = g.alt_lba;
    if old_alt != last_lba && old_alt > 1 && (old_alt + 1) * lba <= size {
        d.zero(old_alt * lba, lba)?; // the image's old backup header, now stale
    }
    d.write_at(lba, &primary)?;
    d.write_at(g.entries_lba * lba, &g.entries)?;
    d.write_at(backup_entries * lba, &g.entries)?;
    d.write_at(last_lba * lba, &backup)?;
    // Protective MBR covers the whole (possibly larger) disk now.
    let mut mbr: [u8; 512] = d.read_array(0)?;
    if mbr[510] == 0x55 && mbr[511] == 0xAA && mbr[446 + 4] == 0xEE {
        let sectors = (size / 512 - 1).min(u32::MAX as u64) as u32;
        mbr[446 + 12..446 + 16].copy_from_slice(&sectors.to_le_bytes());
        d.write_at(0, &mbr)?;
    }
    Ok(ConfigDrivePart {
        number: slot + 1,
        start: start * lba,
        size: n * lba,
        uuid: Some(guid.to_string()),
    })
}

/// The primary and backup GPT headers for a disk whose last LBA is `last_lba`, from the
/// header found on it; None when that header is shorter than GPT's 92 bytes.
fn new_headers(
    header: &[u8],
    last_lba: u64,
    last_usable: u64,
    entries_crc: u32,
    backup_entries: u64,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut primary = header.to_vec();
    put(&mut primary, 32, &last_lba.to_le_bytes())?;
    put(&mut primary, 48, &last_usable.to_le_bytes())?;
    put(&mut primary, 88, &entries_crc.to_le_bytes())?;
    let mut backup = primary.clone();
    Gpt::header_crc(&mut primary)?;
    put(&mut backup, 24, &last_lba.to_le_bytes())?;
    put(&mut backup, 32, &1u64.to_le_bytes())?;
    put(&mut backup, 72, &backup_entries.to_le_bytes())?;
    Gpt::header_crc(&mut backup)?;
    Some((primary, backup))
}

fn mbr_add(
    d: &mut Disk,
    mut mbr: [u8; 512],
    size: u64,
    want: u64,
    min: u64,
) -> Result<ConfigDrivePart, DiskError> {
    let parts = mbr_parts(&mbr);
    if parts
        .iter()
        .any(|(_, ty, _)| [0x05, 0x0F, 0x85].contains(ty))
    {
        return Err(no_room(d, min, "the MBR has an extended partition"));
    }
    let (slot, stored) = mbr[446..510]
        .chunks_exact_mut(16)
        .enumerate()
        .find(|(i, _)| !parts.iter().any(|(j, _, _)| j == i))
        .ok_or_else(|| no_room(d, min, "all four primary MBR entries are in use"))?;
    let disk_sectors = (size / 512).min(u32::MAX as u64);
    let used_end = parts
        .iter()
        .map(|(_, _, p)| (p.start + p.size) / 512)
        .max()
        .unwrap_or(2048)
        .max(1);
    let place = |len: u64| {
        let n = len / 512;
        let start = disk_sectors.checked_sub(n)? / 2048 * 2048;
        (start >= used_end).then_some((start, n))
    };
    let (start, n) = place(want).or_else(|| place(min)).ok_or_else(|| {
        no_room(
            d,
            min,
            format!(
                "the partitions end at byte {} and the disk at byte {}",
                used_end * 512,
                disk_sectors * 512
            ),
        )
    })?;
    let mut e = [0u8; 16];
    // CHS fields say "use LBA" (the maximum), as every modern tool writes.
    e[1..4].copy_from_slice(&[0xFE, 0xFF, 0xFF]);
    e[4] = 0x83;
    e[5..8].copy_from_slice(&[0xFE, 0xFF, 0xFF]);
    e[8..12].copy_from_slice(&(start as u32).to_le_bytes());
    e[12..16].copy_from_slice(&(n as u32).to_le_bytes());
    stored.copy_from_slice(&e);
    d.write_at(0, &mbr)?;
    Ok(ConfigDrivePart {
        number: slot + 1,
        start: start * 512,
        size: n * 512,
        uuid: None,
    })
}

#[cfg(test)]
pub(crate) mod tests;
