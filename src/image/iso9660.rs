//! ISO9660 images with Rock Ridge and Joliet names, optionally bootable on UEFI through an
//! El Torito catalog: the one writer behind config drives and boot ISOs.
//!
//! Metadata (volume descriptors, path tables, directories, the boot catalog) is laid out
//! in memory; file contents follow in the order given, each on a sector boundary. A file
//! given as [`Data::Extent`] is only reserved: the caller streams its bytes into place at
//! the offset the [`Plan`] names, so a large payload never sits in memory.

use std::io::{Seek, SeekFrom, Write};

use super::ImageError;

pub const SECTOR: usize = 2048;

/// What a file of the image holds.
#[derive(Clone, Copy, Debug)]
pub enum Data<'a> {
    Bytes(&'a [u8]),
    /// `len` bytes the caller writes itself at the file's offset in the [`Plan`].
    Extent(u64),
}

impl Data<'_> {
    fn len(&self) -> u64 {
        match self {
            Data::Bytes(b) => b.len() as u64,
            Data::Extent(n) => *n,
        }
    }
}

/// How to write an image.
#[derive(Clone, Debug)]
pub struct Options<'a> {
    /// The volume label (1 to 16 ASCII characters here).
    pub label: &'a str,
    /// The path of the file that is the El Torito UEFI boot image (a FAT EFI System
    /// Partition image), or None for a data-only image.
    pub efi_image: Option<&'a str>,
    /// Creation time written into the volume descriptors (fixed for reproducible images).
    pub stamp: chrono::DateTime<chrono::Utc>,
}

/// A laid-out image.
#[derive(Debug)]
pub struct Plan<'a> {
    /// Every sector before the first file.
    pub head: Vec<u8>,
    /// (byte offset, length, data) of each file, in the order given.
    pub files: Vec<(u64, u64, Data<'a>)>,
    /// The image's length in bytes (whole sectors).
    pub total_bytes: u64,
}

impl Plan<'_> {
    /// Writes the metadata and every in-memory file; extents stay for the caller to fill
    /// (zeros until then). The stream ends up exactly `total_bytes` long.
    pub fn write_to<W: Write + Seek>(&self, w: &mut W) -> Result<(), ImageError> {
        let io = ImageError::Write;
        w.seek(SeekFrom::Start(0)).map_err(io)?;
        w.write_all(&self.head).map_err(io)?;
        for (at, _, data) in &self.files {
            if let Data::Bytes(b) = data {
                w.seek(SeekFrom::Start(*at)).map_err(io)?;
                w.write_all(b).map_err(io)?;
            }
        }
        // A trailing extent is a hole: one zero byte at the very end gives the stream its
        // full length.
        let written = self
            .files
            .iter()
            .filter(|(_, _, d)| matches!(d, Data::Bytes(_)))
            .map(|(at, len, _)| at + len)
            .fold(self.head.len() as u64, u64::max);
        if written < self.total_bytes {
            w.seek(SeekFrom::Start(self.total_bytes - 1)).map_err(io)?;
            w.write_all(&[0]).map_err(io)?;
        }
        w.flush().map_err(io)
    }

    /// The whole image in memory (extents as zeros).
    pub fn to_vec(&self) -> Result<Vec<u8>, ImageError> {
        let mut c = std::io::Cursor::new(Vec::with_capacity(self.total_bytes as usize));
        self.write_to(&mut c)?;
        Ok(c.into_inner())
    }
}

/// Lays out an image holding `files` (paths with `/`, directories implied).
pub fn plan<'a>(opts: &Options<'_>, files: &[(&str, Data<'a>)]) -> Result<Plan<'a>, ImageError> {
    let label = opts.label;
    if label.is_empty() || label.len() > 16 || !label.is_ascii() {
        return Err(ImageError::Iso(format!("bad volume label {label:?}")));
    }
    let mut tree = Tree::default();
    for (path, data) in files {
        tree.add(path, *data)?;
    }
    let boot = match opts.efi_image {
        None => None,
        Some(p) => Some(
            files
                .iter()
                .position(|(f, _)| f == &p)
                .ok_or_else(|| ImageError::Iso(format!("no file {p:?} for the boot image")))?,
        ),
    };
    tree.write(opts, boot)
}

/// A data-only image in memory, as config drives are.
pub fn build(
    label: &str,
    files: &[(&str, &[u8])],
    stamp: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<u8>, ImageError> {
    let files: Vec<(&str, Data<'_>)> = files.iter().map(|(p, d)| (*p, Data::Bytes(d))).collect();
    let opts = Options {
        label,
        efi_image: None,
        stamp,
    };
    plan(&opts, &files)?.to_vec()
}

/// Directory node 0 is the root.
#[derive(Default)]
struct Tree<'a> {
    dirs: Vec<Dir>,
    files: Vec<(String, Data<'a>)>,
}

#[derive(Default, Clone)]
struct Dir {
    name: String,
    parent: usize,
    subdirs: Vec<usize>,
    files: Vec<usize>,
}

/// Which of the two directory hierarchies is being written.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// ISO9660 names plus Rock Ridge entries.
    Primary,
    /// UCS-2 names.
    Joliet,
}

impl<'a> Tree<'a> {
    fn add(&mut self, path: &str, data: Data<'a>) -> Result<(), ImageError> {
        if self.dirs.is_empty() {
            self.dirs.push(Dir::default());
        }
        let parts: Vec<&str> = path.split('/').collect();
        let ok = |p: &str| {
            !p.is_empty()
                && p.len() <= 64
                && p != "."
                && p != ".."
                && p.bytes().all(|b| b.is_ascii_graphic())
        };
        if !parts.iter().all(|p| ok(p)) {
            return Err(ImageError::Iso(format!("bad file path {path:?}")));
        }
        let (name, dirs) = parts.split_last().unwrap_or((&"", &[]));
        let mut cur = 0;
        for d in dirs {
            let found = self
                .dir(cur)?
                .subdirs
                .iter()
                .copied()
                .find(|&s| self.dirs.get(s).is_some_and(|x| x.name == *d));
            cur = match found {
                Some(s) => s,
                None => {
                    self.dirs.push(Dir {
                        name: d.to_string(),
                        parent: cur,
                        ..Dir::default()
                    });
                    let id = self.dirs.len() - 1;
                    self.dir_mut(cur)?.subdirs.push(id);
                    id
                }
            };
        }
        self.files.push((name.to_string(), data));
        let id = self.files.len() - 1;
        self.dir_mut(cur)?.files.push(id);
        Ok(())
    }

    /// Directory `i`; the tree only hands out indices it created, so a miss is a bug
    /// reported as an error rather than a panic.
    fn dir(&self, i: usize) -> Result<&Dir, ImageError> {
        self.dirs.get(i).ok_or_else(internal)
    }

    fn dir_mut(&mut self, i: usize) -> Result<&mut Dir, ImageError> {
        self.dirs.get_mut(i).ok_or_else(internal)
    }

    fn file(&self, i: usize) -> Result<&(String, Data<'a>), ImageError> {
        self.files.get(i).ok_or_else(internal)
    }

    /// The identifier of a child in `kind`'s hierarchy.
    fn ident(kind: Kind, name: &str, is_dir: bool) -> Vec<u8> {
        match kind {
            // d-characters only; files get the ";1" version suffix.
            Kind::Primary => {
                let mut s: String = name
                    .chars()
                    .map(|c| match c.to_ascii_uppercase() {
                        c @ ('A'..='Z' | '0'..='9' | '_') => c,
                        '.' if !is_dir => '.',
                        _ => '_',
                    })
                    .take(30)
                    .collect();
                if !is_dir {
                    if !s.contains('.') {
                        s.push('.');
                    }
                    s.push_str(";1");
                }
                s.into_bytes()
            }
            Kind::Joliet => {
                let full = if is_dir {
                    name.to_string()
                } else {
                    format!("{name};1")
                };
                full.encode_utf16().flat_map(u16::to_be_bytes).collect()
            }
        }
    }

    /// Children of a directory in on-disc order: (identifier, is_dir, index).
    fn children(&self, kind: Kind, dir: usize) -> Result<Vec<(Vec<u8>, bool, usize)>, ImageError> {
        let d = self.dir(dir)?;
        let mut out = Vec::with_capacity(d.subdirs.len() + d.files.len());
        for &s in &d.subdirs {
            out.push((Self::ident(kind, &self.dir(s)?.name, true), true, s));
        }
        for &f in &d.files {
            out.push((Self::ident(kind, &self.file(f)?.0, false), false, f));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Directories in path table order: by depth, then parent's number, then name.
    fn order(&self, kind: Kind) -> Result<Vec<usize>, ImageError> {
        let mut order = vec![0];
        let mut i = 0;
        while let Some(&d) = order.get(i) {
            for (_, is_dir, idx) in self.children(kind, d)? {
                if is_dir {
                    order.push(idx);
                }
            }
            i += 1;
        }
        Ok(order)
    }

    /// Lays the image out; `boot` is the index of the file that is the UEFI boot image.
    fn write(&self, opts: &Options<'_>, boot: Option<usize>) -> Result<Plan<'a>, ImageError> {
        let orders = ByKind::try_from_fn(|k| self.order(k))?;
        let path_tables = ByKind::try_from_fn(|k| self.path_table(k, orders.get(k), &[], false))?;
        let mut lay = Layout::default();
        // 16 PVD, [17 El Torito boot record], Joliet SVD, terminator, [boot catalog].
        let terminator = Kind::Joliet.descriptor_sector(boot.is_some()) + 1;
        let catalog = terminator + 1;
        let mut next = if boot.is_some() { catalog + 1 } else { catalog };
        for k in Kind::ALL {
            let sectors = path_tables.get(k).len().div_ceil(SECTOR);
            *lay.path_tables.get_mut(k) = (next, next + sectors);
            next += 2 * sectors;
        }
        // Sizes first (records do not depend on addresses), then addresses.
        for k in Kind::ALL {
            let mut dirs = vec![(0, 0); self.dirs.len()];
            for &d in orders.get(k) {
                let sectors = pack(&self.dir_records(k, d, &Layout::default())?).len() / SECTOR;
                *dirs.get_mut(d).ok_or_else(internal)? = (next, sectors * SECTOR);
                next += sectors;
            }
            *lay.dirs.get_mut(k) = dirs;
        }
        let head_sectors = next;
        let mut files = Vec::with_capacity(self.files.len());
        for (name, data) in &self.files {
            let len = data.len();
            if len > u64::from(u32::MAX) {
                return Err(ImageError::Iso(format!(
                    "{name} is {len} bytes; ISO9660 files stop at 4 GiB"
                )));
            }
            let at = if len == 0 { 0 } else { next };
            next += (len as usize).div_ceil(SECTOR);
            lay.files.push(at);
            files.push(((at * SECTOR) as u64, len, *data));
        }
        let total = next;
        if total > u32::MAX as usize {
            return Err(ImageError::Iso("the image is too big for ISO9660".into()));
        }

        let mut img = vec![0u8; head_sectors * SECTOR];
        let put = |img: &mut Vec<u8>, lba: usize, bytes: &[u8]| put_at(img, lba * SECTOR, bytes);
        for k in Kind::ALL {
            let order = orders.get(k);
            let dirs = lay.dirs.get(k);
            let (l, m) = *lay.path_tables.get(k);
            let dir_lbas = order
                .iter()
                .map(|&d| dirs.get(d).map(|loc| loc.0).ok_or_else(internal))
                .collect::<Result<Vec<usize>, ImageError>>()?;
            put(&mut img, l, &self.path_table(k, order, &dir_lbas, false)?)?;
            put(&mut img, m, &self.path_table(k, order, &dir_lbas, true)?)?;
            for (d, &(lba, _)) in dirs.iter().enumerate() {
                put(&mut img, lba, &pack(&self.dir_records(k, d, &lay)?))?;
            }
            let &(root_lba, root_size) = dirs.first().ok_or_else(internal)?;
            let root = record(&[0], root_lba as u32, root_size as u32, true, &[]);
            let desc = volume_descriptor(
                k,
                opts.label,
                total as u32,
                path_tables.get(k).len() as u32,
                (l as u32, m as u32),
                &root,
                &opts.stamp,
            )?;
            put(&mut img, k.descriptor_sector(boot.is_some()), &desc)?;
        }
        if let Some(b) = boot {
            let (at, len, _) = files.get(b).ok_or_else(internal)?;
            let last = b + 1 == files.len();
            put(&mut img, 17, &boot_record(catalog as u32))?;
            put(
                &mut img,
                catalog,
                &boot_catalog(at / SECTOR as u64, *len, last)?,
            )?;
        }
        let mut term = [0u8; SECTOR];
        term[0] = 255;
        term[1..6].copy_from_slice(b"CD001");
        term[6] = 1;
        put(&mut img, terminator, &term)?;
        Ok(Plan {
            head: img,
            files,
            total_bytes: (total * SECTOR) as u64,
        })
    }

    /// One path table; `lbas` follow `order` (empty while only sizing).
    fn path_table(
        &self,
        kind: Kind,
        order: &[usize],
        lbas: &[usize],
        big_endian: bool,
    ) -> Result<Vec<u8>, ImageError> {
        let number = |d: usize| order.iter().position(|&x| x == d).map_or(1, |p| p + 1) as u16;
        let mut out = Vec::new();
        for (i, &d) in order.iter().enumerate() {
            let dir = self.dir(d)?;
            let ident = if d == 0 {
                vec![0]
            } else {
                Self::ident(kind, &dir.name, true)
            };
            let lba = lbas.get(i).copied().unwrap_or(0) as u32;
            out.push(ident.len() as u8);
            out.push(0);
            let parent = number(dir.parent);
            if big_endian {
                out.extend_from_slice(&lba.to_be_bytes());
                out.extend_from_slice(&parent.to_be_bytes());
            } else {
                out.extend_from_slice(&lba.to_le_bytes());
                out.extend_from_slice(&parent.to_le_bytes());
            }
            out.extend_from_slice(&ident);
            if ident.len() % 2 == 1 {
                out.push(0);
            }
        }
        Ok(out)
    }

    /// The records of one directory: ".", "..", then its children.
    fn dir_records(
        &self,
        kind: Kind,
        dir: usize,
        lay: &Layout,
    ) -> Result<Vec<Vec<u8>>, ImageError> {
        let loc = |d: usize| lay.dirs.get(kind).get(d).copied().unwrap_or((0, 0));
        let rr = kind == Kind::Primary;
        let nlink = |d: &Dir| 2 + d.subdirs.len() as u32;
        let this = self.dir(dir)?;
        let mut out = Vec::new();
        let (lba, size) = loc(dir);
        let mut su = Vec::new();
        if rr {
            if dir == 0 {
                // SUSP in use, no bytes skipped; then which extension: Rock Ridge 1.09.
                su.extend_from_slice(&[b'S', b'P', 7, 1, 0xbe, 0xef, 0]);
                su.extend_from_slice(&er_entry());
            }
            su.extend_from_slice(&px_entry(0o040555, nlink(this)));
        }
        out.push(record(&[0], lba as u32, size as u32, true, &su));
        let (plba, psize) = loc(this.parent);
        let su = if rr {
            px_entry(0o040555, nlink(self.dir(this.parent)?))
        } else {
            Vec::new()
        };
        out.push(record(&[1], plba as u32, psize as u32, true, &su));
        for (ident, is_dir, idx) in self.children(kind, dir)? {
            let (name, lba, size, mode, links) = if is_dir {
                let (l, s) = loc(idx);
                let sub = self.dir(idx)?;
                (&sub.name, l, s, 0o040555, nlink(sub))
            } else {
                let (name, data) = self.file(idx)?;
                let lba = lay.files.get(idx).copied().unwrap_or(0);
                (name, lba, data.len() as usize, 0o100444, 1)
            };
            let mut su = Vec::new();
            if rr {
                su.extend_from_slice(&px_entry(mode, links));
                su.extend_from_slice(&[b'N', b'M', 5 + name.len() as u8, 1, 0]);
                su.extend_from_slice(name.as_bytes());
            }
            out.push(record(&ident, lba as u32, size as u32, is_dir, &su));
        }
        Ok(out)
    }
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Primary, Kind::Joliet];

    /// Where this hierarchy's volume descriptor goes: 16 PVD, then the Joliet SVD after
    /// the El Torito boot record (which must be at 17) when there is one.
    fn descriptor_sector(self, boot: bool) -> usize {
        match self {
            Kind::Primary => 16,
            Kind::Joliet if boot => 18,
            Kind::Joliet => 17,
        }
    }
}

/// One value per directory hierarchy.
#[derive(Default)]
struct ByKind<T> {
    primary: T,
    joliet: T,
}

impl<T> ByKind<T> {
    fn try_from_fn<E>(mut f: impl FnMut(Kind) -> Result<T, E>) -> Result<Self, E> {
        Ok(ByKind {
            primary: f(Kind::Primary)?,
            joliet: f(Kind::Joliet)?,
        })
    }

    fn get(&self, kind: Kind) -> &T {
        match kind {
            Kind::Primary => &self.primary,
            Kind::Joliet => &self.joliet,
        }
    }

    fn get_mut(&mut self, kind: Kind) -> &mut T {
        match kind {
            Kind::Primary => &mut self.primary,
            Kind::Joliet => &mut self.joliet,
        }
    }
}

#[derive(Default)]
struct Layout {
    /// (L, M) path table sectors per kind.
    path_tables: ByKind<(usize, usize)>,
    /// (sector, byte length) of each directory per kind.
    dirs: ByKind<Vec<(usize, usize)>>,
    files: Vec<usize>,
}

/// The writer sized every buffer itself, so a write that does not fit is a bug in it.
fn internal() -> ImageError {
    ImageError::Iso("internal error laying out the ISO9660 image".into())
}

/// Copies `bytes` into `buf` at byte `at`.
fn put_at(buf: &mut [u8], at: usize, bytes: &[u8]) -> Result<(), ImageError> {
    at.checked_add(bytes.len())
        .and_then(|end| buf.get_mut(at..end))
        .ok_or_else(internal)?
        .copy_from_slice(bytes);
    Ok(())
}

/// Packs directory records into whole sectors; a record never crosses a sector boundary.
fn pack(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let used = out.len() % SECTOR;
        if used + r.len() > SECTOR {
            out.resize(out.len() + SECTOR - used, 0);
        }
        out.extend_from_slice(r);
    }
    let len = out.len().div_ceil(SECTOR).max(1) * SECTOR;
    out.resize(len, 0);
    out
}

fn both32(v: u32) -> [u8; 8] {
    let [a, b, c, d] = v.to_le_bytes();
    [a, b, c, d, d, c, b, a]
}

fn both16(v: u16) -> [u8; 4] {
    let [a, b] = v.to_le_bytes();
    [a, b, b, a]
}

/// A directory record (ECMA-119 9.1) with `su` as its system use area.
fn record(ident: &[u8], lba: u32, size: u32, is_dir: bool, su: &[u8]) -> Vec<u8> {
    let mut head = [0u8; 33];
    head[2..10].copy_from_slice(&both32(lba));
    head[10..18].copy_from_slice(&both32(size));
    // Recording date: 2000-01-01 00:00 UTC (content, not time, matters here).
    head[18..25].copy_from_slice(&[100, 1, 1, 0, 0, 0, 0]);
    head[25] = if is_dir { 2 } else { 0 };
    head[28..32].copy_from_slice(&both16(1));
    head[32] = ident.len() as u8;
    let mut r = head.to_vec();
    r.extend_from_slice(ident);
    if r.len() % 2 == 1 {
        r.push(0);
    }
    r.extend_from_slice(su);
    if r.len() % 2 == 1 {
        r.push(0);
    }
    let len = r.len() as u8;
    if let Some(first) = r.first_mut() {
        *first = len;
    }
    r
}

/// The El Torito boot record volume descriptor pointing at the boot catalog.
fn boot_record(catalog_lba: u32) -> [u8; SECTOR] {
    let mut d = [0u8; SECTOR];
    d[1..6].copy_from_slice(b"CD001");
    d[6] = 1;
    d[7..30].copy_from_slice(b"EL TORITO SPECIFICATION");
    d[71..75].copy_from_slice(&catalog_lba.to_le_bytes());
    d
}

/// Platform ID of UEFI in El Torito catalogs.
pub const PLATFORM_EFI: u8 = 0xef;

/// A boot catalog of one no-emulation UEFI entry: the image at `lba`, `len` bytes long.
/// Its size is counted in 512-byte sectors in 16 bits; a larger image must be the last
/// thing on the disc and is given as 0 sectors, which UEFI firmware (edk2) reads as
/// "to the end of the disc".
fn boot_catalog(lba: u64, len: u64, last: bool) -> Result<[u8; SECTOR], ImageError> {
    let sectors = len.div_ceil(512);
    let count = match u16::try_from(sectors) {
        Ok(c) => c,
        Err(_) if last => 0,
        Err(_) => {
            return Err(ImageError::Iso(
                "a boot image over 32 MiB must be the last file of the image".into(),
            ))
        }
    };
    let lba = u32::try_from(lba).map_err(|_| internal())?;
    let mut c = [0u8; SECTOR];
    // Validation entry: header 1, platform, ID string, checksum, 55 AA.
    c[0] = 1;
    c[1] = PLATFORM_EFI;
    c[4..11].copy_from_slice(b"IRONBOX");
    c[30] = 0x55;
    c[31] = 0xaa;
    let sum = c[..32]
        .chunks_exact(2)
        .map(|w| u16::from_le_bytes(w.try_into().unwrap_or([0, 0])))
        .fold(0u16, u16::wrapping_add);
    c[28..30].copy_from_slice(&0u16.wrapping_sub(sum).to_le_bytes());
    // Default entry: bootable, no emulation, load segment 0, sector count, LBA.
    c[32] = 0x88;
    c[38..40].copy_from_slice(&count.to_le_bytes());
    c[40..44].copy_from_slice(&lba.to_le_bytes());
    Ok(c)
}

/// Rock Ridge POSIX attributes (RRIP 1.09 form).
fn px_entry(mode: u32, links: u32) -> Vec<u8> {
    let mut e = vec![b'P', b'X', 36, 1];
    for v in [mode, links, 0, 0] {
        e.extend_from_slice(&both32(v));
    }
    e
}

/// SUSP extension reference naming Rock Ridge (Linux uses Rock Ridge over Joliet once
/// it sees this).
fn er_entry() -> Vec<u8> {
    let (id, des, src): (&[u8], &[u8], &[u8]) = (
        b"RRIP_1991A",
        b"THE ROCK RIDGE INTERCHANGE PROTOCOL",
        b"IEEE P1282",
    );
    let mut e = vec![
        b'E',
        b'R',
        (8 + id.len() + des.len() + src.len()) as u8,
        1,
        id.len() as u8,
        des.len() as u8,
        src.len() as u8,
        1,
    ];
    e.extend_from_slice(id);
    e.extend_from_slice(des);
    e.extend_from_slice(src);
    e
}

/// The primary (type 1) or Joliet supplementary (type 2) volume descriptor.
fn volume_descriptor(
    kind: Kind,
    label: &str,
    total_sectors: u32,
    path_table_size: u32,
    (l_table, m_table): (u32, u32),
    root: &[u8],
    now: &chrono::DateTime<chrono::Utc>,
) -> Result<[u8; SECTOR], ImageError> {
    let mut d = [0u8; SECTOR];
    let text = |d: &mut [u8; SECTOR], at: usize, len: usize, s: &str| {
        put_at(d, at, &text_field(kind, len, s))
    };
    d[0] = if kind == Kind::Primary { 1 } else { 2 };
    d[1..6].copy_from_slice(b"CD001");
    d[6] = 1;
    text(&mut d, 8, 32, "")?;
    text(&mut d, 40, 32, label)?;
    d[80..88].copy_from_slice(&both32(total_sectors));
    if kind == Kind::Joliet {
        // UCS-2 level 3.
        d[88..91].copy_from_slice(b"%/E");
    }
    d[120..124].copy_from_slice(&both16(1));
    d[124..128].copy_from_slice(&both16(1));
    d[128..132].copy_from_slice(&both16(SECTOR as u16));
    d[132..140].copy_from_slice(&both32(path_table_size));
    d[140..144].copy_from_slice(&l_table.to_le_bytes());
    d[148..152].copy_from_slice(&m_table.to_be_bytes());
    put_at(&mut d, 156, root)?;
    text(&mut d, 190, 128, "")?;
    text(&mut d, 318, 128, "")?;
    text(&mut d, 446, 128, "")?;
    text(&mut d, 574, 128, "IRONBOX")?;
    text(&mut d, 702, 37, "")?;
    text(&mut d, 739, 37, "")?;
    text(&mut d, 776, 37, "")?;
    let stamp = now.format("%Y%m%d%H%M%S00").to_string();
    for at in [813, 830] {
        put_at(&mut d, at, stamp.as_bytes())?;
    }
    for at in [847, 864] {
        put_at(&mut d, at, &[b'0'; 16])?;
    }
    d[881] = 1;
    Ok(d)
}

/// A `len`-byte text field of a volume descriptor: `s` padded with spaces (UCS-2 spaces
/// for Joliet, whose odd last byte stays 0).
fn text_field(kind: Kind, len: usize, s: &str) -> Vec<u8> {
    match kind {
        Kind::Primary => {
            let mut f: Vec<u8> = s.bytes().take(len).collect();
            f.resize(len, b' ');
            f
        }
        Kind::Joliet => {
            let even = len & !1;
            let mut f: Vec<u8> = s
                .encode_utf16()
                .flat_map(u16::to_be_bytes)
                .take(even)
                .collect();
            while f.len() < even {
                f.extend_from_slice(&[0, b' ']);
            }
            f.resize(len, 0);
            f
        }
    }
}
