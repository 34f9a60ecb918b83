//! Config drives: the ISO9660 image labelled `config-2` that cloud-init, glean and
//! cloudbase-init read instance metadata from.
//!
//! Ironic accepts a config drive either as an encoded image or in JSON form
//! (`{"meta_data": {...}, "user_data": "..." | {...} | [...], "network_data": {...},
//! "vendor_data": {...}}`) and builds the image itself. We lay it out as Ironic's builder
//! does: `openstack/{2012-08-10,latest}/` holding `meta_data.json`, `user_data`,
//! `network_data.json` and `vendor_data2.json` (each only when given; `meta_data.json`
//! always). The filesystem is ISO9660 with Rock Ridge (Linux) and Joliet (Windows) names,
//! like `genisoimage -J -r -V config-2`.
//!
//! [`encode`] / [`decode`] are the gzip + base64 form stored in
//! `instance_info.configdrive` and sent to the agent.

use std::io::{Read, Write};

use base64::Engine as _;
use serde_json::Value;

use super::{sniff, Format, ImageError};

/// The volume label cloud-init looks for.
pub const LABEL: &str = "config-2";
/// Ironic's limit on a config drive (it must fit a partition the agent creates).
pub const MAX_SIZE: usize = 64 << 20;
const VERSIONS: [&str; 2] = ["2012-08-10", "latest"];

/// Builds the config drive image from Ironic's JSON form.
pub fn build(json: &Value) -> Result<Vec<u8>, ImageError> {
    let bad = |m: String| ImageError::ConfigDrive(m);
    let obj = json
        .as_object()
        .ok_or_else(|| bad("the config drive must be a JSON object or an encoded image".into()))?;
    for key in obj.keys() {
        if !["meta_data", "user_data", "network_data", "vendor_data"].contains(&key.as_str()) {
            return Err(bad(format!("unknown config drive key {key:?}")));
        }
    }
    let object = |key: &str| -> Result<Option<Vec<u8>>, ImageError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v.to_string().into_bytes())),
            Some(_) => Err(bad(format!("{key} must be a JSON object"))),
        }
    };
    let meta = object("meta_data")?.unwrap_or_else(|| b"{}".to_vec());
    let network = object("network_data")?;
    let vendor = object("vendor_data")?;
    let user = match obj.get("user_data") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone().into_bytes()),
        Some(v @ (Value::Object(_) | Value::Array(_))) => Some(v.to_string().into_bytes()),
        Some(_) => return Err(bad("user_data must be a string, object or list".into())),
    };
    let mut files: Vec<(String, &[u8])> = Vec::new();
    for version in VERSIONS {
        let dir = format!("openstack/{version}");
        files.push((format!("{dir}/meta_data.json"), &meta));
        if let Some(u) = &user {
            files.push((format!("{dir}/user_data"), u));
        }
        if let Some(n) = &network {
            files.push((format!("{dir}/network_data.json"), n));
        }
        if let Some(v) = &vendor {
            files.push((format!("{dir}/vendor_data2.json"), v));
        }
    }
    let content: usize = files.iter().map(|(_, d)| d.len()).sum();
    if content > MAX_SIZE {
        return Err(ImageError::TooBig {
            size: content as u64,
            limit: MAX_SIZE as u64,
        });
    }
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, d)| (p.as_str(), *d)).collect();
    let iso = iso9660(LABEL, &refs)?;
    if iso.len() > MAX_SIZE {
        return Err(ImageError::TooBig {
            size: iso.len() as u64,
            limit: MAX_SIZE as u64,
        });
    }
    Ok(iso)
}

/// gzip + base64, as Ironic stores and sends a config drive.
pub fn encode(image: &[u8]) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(image);
    let compressed = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(compressed)
}

/// The image inside an encoded config drive: base64 of a gzipped or plain ISO9660 (or
/// vfat) image. Anything else is refused.
pub fn decode(encoded: &str) -> Result<Vec<u8>, ImageError> {
    let bad = |m: &str| ImageError::ConfigDrive(m.to_string());
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
        .map_err(|_| bad("not base64"))?;
    let image = if sniff(&raw) == Format::Gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_SIZE as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| ImageError::ConfigDrive(format!("bad gzip data: {e}")))?;
        out
    } else {
        raw
    };
    if image.len() > MAX_SIZE {
        return Err(ImageError::TooBig {
            size: image.len() as u64,
            limit: MAX_SIZE as u64,
        });
    }
    let is_fat = image.get(510..512) == Some(&[0x55, 0xaa][..])
        && (image.get(54..57) == Some(&b"FAT"[..]) || image.get(82..85) == Some(&b"FAT"[..]));
    if sniff(&image) != Format::Iso && !is_fat {
        return Err(bad(
            "the decoded data is neither an ISO9660 nor a vfat image",
        ));
    }
    Ok(image)
}

const SECTOR: usize = 2048;

/// A minimal ISO9660 image with Rock Ridge and Joliet names holding `files` (paths with
/// `/`, directories implied), labelled `label`.
pub fn iso9660(label: &str, files: &[(&str, &[u8])]) -> Result<Vec<u8>, ImageError> {
    let mut tree = Tree::default();
    for (path, data) in files {
        tree.add(path, data)?;
    }
    if label.is_empty() || label.len() > 16 || !label.is_ascii() {
        return Err(ImageError::ConfigDrive(format!(
            "bad volume label {label:?}"
        )));
    }
    tree.write(label)
}

/// Directory node 0 is the root.
#[derive(Default)]
struct Tree<'a> {
    dirs: Vec<Dir>,
    files: Vec<(String, &'a [u8])>,
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
    fn add(&mut self, path: &str, data: &'a [u8]) -> Result<(), ImageError> {
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
            return Err(ImageError::ConfigDrive(format!("bad file path {path:?}")));
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

    fn file(&self, i: usize) -> Result<&(String, &'a [u8]), ImageError> {
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

    fn write(&self, label: &str) -> Result<Vec<u8>, ImageError> {
        let orders = ByKind::try_from_fn(|k| self.order(k))?;
        let path_tables = ByKind::try_from_fn(|k| self.path_table(k, orders.get(k), &[], false))?;
        let mut lay = Layout::default();
        let mut next = 19; // 16 PVD, 17 Joliet SVD, 18 terminator
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
        lay.files = self
            .files
            .iter()
            .map(|(_, data)| {
                let at = if data.is_empty() { 0 } else { next };
                next += data.len().div_ceil(SECTOR);
                at
            })
            .collect();
        let total = next;

        let mut img = vec![0u8; total * SECTOR];
        let put = |img: &mut Vec<u8>, lba: usize, bytes: &[u8]| put_at(img, lba * SECTOR, bytes);
        let now = chrono::Utc::now();
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
                label,
                total as u32,
                path_tables.get(k).len() as u32,
                (l as u32, m as u32),
                &root,
                &now,
            )?;
            put(&mut img, k.descriptor_sector(), &desc)?;
        }
        let mut term = [0u8; SECTOR];
        term[0] = 255;
        term[1..6].copy_from_slice(b"CD001");
        term[6] = 1;
        put(&mut img, 18, &term)?;
        for ((_, data), &lba) in self.files.iter().zip(&lay.files) {
            if !data.is_empty() {
                put(&mut img, lba, data)?;
            }
        }
        Ok(img)
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
                (name, lba, data.len(), 0o100444, 1)
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

    /// Where this hierarchy's volume descriptor goes (16 PVD, 17 Joliet SVD).
    fn descriptor_sector(self) -> usize {
        match self {
            Kind::Primary => 16,
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
    ImageError::ConfigDrive("internal error laying out the ISO9660 image".into())
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

#[cfg(test)]
mod tests;
