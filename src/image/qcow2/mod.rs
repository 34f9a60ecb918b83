//! Streaming qcow2 → raw conversion.
//!
//! The input is read strictly front to back (an HTTP body works), never held whole in
//! memory. qcow2 keeps its tables (L1, L2) and data clusters anywhere in the file; every
//! structure is handled when the stream reaches it. Data that arrives before the L2 table
//! mapping it is kept in a bounded buffer ([`ConvertOptions::max_buffer`]) until the table
//! shows up; once every L2 table has been read, unreferenced bytes are skipped. qemu-img
//! writes tables before the data they map, so its output needs almost no buffering.
//!
//! Guest ranges without data (unallocated, zero clusters) read back as zeros: they are
//! written as zeros unless the caller says the target is already zeroed
//! ([`ConvertOptions::target_is_zeroed`], e.g. a fresh sparse file), in which case they are
//! skipped and the target is only extended to the virtual size.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom, Write};

use flate2::{Decompress, FlushDecompress, Status};

use super::{ImageError, Unsupported};

const MAGIC: &[u8; 4] = b"QFI\xfb";
/// Host offsets live in bits 9..=55 of table entries.
const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const COPIED_FLAG: u64 = 1 << 63;
const COMPRESSED_FLAG: u64 = 1 << 62;
const ZERO_FLAG: u64 = 1;
/// qemu refuses L1 tables above 32 MiB; so do we (it bounds memory and virtual size).
const MAX_L1_BYTES: u64 = 32 << 20;
const INCOMPAT_DIRTY: u64 = 1;
const INCOMPAT_CORRUPT: u64 = 1 << 1;
const INCOMPAT_DATA_FILE: u64 = 1 << 2;
const INCOMPAT_COMPRESSION: u64 = 1 << 3;
const INCOMPAT_EXTL2: u64 = 1 << 4;
const READ_BUF: usize = 256 << 10;
const ZERO_CHUNK: usize = 1 << 20;

/// How to write the raw image.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// The target already reads as zeros everywhere (a fresh or truncated file): holes and
    /// all-zero clusters are skipped, leaving a sparse file. Otherwise holes are written.
    pub target_is_zeroed: bool,
    /// Most bytes kept in memory for data that arrives before its L2 table.
    pub max_buffer: u64,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        Self {
            target_is_zeroed: false,
            max_buffer: 256 << 20,
        }
    }
}

/// The parts of a qcow2 header the conversion uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qcow2Header {
    /// 2 or 3.
    pub version: u32,
    /// Size of the guest disk in bytes: the raw output's length.
    pub virtual_size: u64,
    pub cluster_size: u64,
    l1_offset: u64,
    l1_entries: u64,
    /// 0 = zlib (deflate), 1 = zstd.
    compression_type: u8,
}

/// What a conversion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertStats {
    pub virtual_size: u64,
    /// Bytes read from the input (all of it: the input is drained to its end).
    pub input_bytes: u64,
    /// Bytes of guest data written (zeros for holes included).
    pub written_bytes: u64,
    /// Most input bytes held at once while waiting for their tables.
    pub peak_buffered: u64,
}

/// A qcow2 stream whose header has been read and checked.
pub struct Qcow2Reader<R> {
    input: Input<R>,
    header: Qcow2Header,
}

/// Converts the qcow2 image read from `reader` into raw on `target`; see [`Qcow2Reader`]
/// to learn the virtual size first.
pub fn convert<R: Read, W: Write + Seek>(
    reader: R,
    target: &mut W,
    opts: &ConvertOptions,
) -> Result<ConvertStats, ImageError> {
    Qcow2Reader::open(reader)?.convert(target, opts)
}

impl<R: Read> Qcow2Reader<R> {
    /// Reads and validates the header (the first cluster). Refuses backing files,
    /// encryption, external data files, extended L2 entries and absurd geometry.
    pub fn open(reader: R) -> Result<Self, ImageError> {
        let mut input = Input::new(reader);
        let mut head = [0u8; 72];
        input.read_exact_at(0, &mut head)?;
        if &head[..4] != MAGIC {
            return Err(ImageError::BadMagic);
        }
        let version = be32(&head, 4);
        if version != 2 && version != 3 {
            return Err(ImageError::Unsupported(Unsupported::Version(version)));
        }
        let cluster_bits = be32(&head, 20);
        if !(9..=21).contains(&cluster_bits) {
            return Err(ImageError::Unsupported(Unsupported::ClusterBits(
                cluster_bits,
            )));
        }
        let cluster_size = 1u64 << cluster_bits;
        // The rest of the header cluster holds v3 fields, extensions and the backing name.
        let mut rest = vec![0u8; cluster_size as usize - head.len()];
        let got = input.read_some(&mut rest)?;
        rest.truncate(got);
        let mut hdr = head.to_vec();
        hdr.extend_from_slice(&rest);

        let backing_offset = be64(&hdr, 8);
        if backing_offset != 0 {
            let len = be32(&hdr, 16) as usize;
            let name = usize::try_from(backing_offset)
                .ok()
                .and_then(|o| hdr.get(o..o.checked_add(len.min(1023))?))
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            return Err(ImageError::Unsupported(Unsupported::BackingFile(name)));
        }
        let crypt = be32(&hdr, 32);
        if crypt != 0 {
            return Err(ImageError::Unsupported(Unsupported::Encryption(crypt)));
        }
        let mut compression_type = 0u8;
        if version >= 3 {
            if hdr.len() < 104 {
                return Err(ImageError::Truncated {
                    offset: 0,
                    needed: 104,
                });
            }
            let incompat = be64(&hdr, 72);
            let known = INCOMPAT_DIRTY
                | INCOMPAT_CORRUPT
                | INCOMPAT_DATA_FILE
                | INCOMPAT_COMPRESSION
                | INCOMPAT_EXTL2;
            if incompat & !known != 0 {
                return Err(ImageError::Unsupported(Unsupported::IncompatibleFeatures(
                    incompat & !known,
                )));
            }
            if incompat & INCOMPAT_CORRUPT != 0 {
                return Err(ImageError::Unsupported(Unsupported::CorruptFlag));
            }
            if incompat & INCOMPAT_DATA_FILE != 0 {
                return Err(ImageError::Unsupported(Unsupported::ExternalDataFile));
            }
            if incompat & INCOMPAT_EXTL2 != 0 {
                return Err(ImageError::Unsupported(Unsupported::ExtendedL2));
            }
            let header_length = u64::from(be32(&hdr, 100));
            if !(104..=cluster_size).contains(&header_length) {
                return Err(ImageError::Corrupt(format!(
                    "header length {header_length}"
                )));
            }
            if header_length > 104 && hdr.len() > 104 {
                compression_type = hdr[104];
            }
            if compression_type > 1 {
                return Err(ImageError::Unsupported(Unsupported::CompressionType(
                    compression_type,
                )));
            }
        }

        let virtual_size = be64(&hdr, 24);
        let l1_entries = u64::from(be32(&hdr, 36));
        let l1_offset = be64(&hdr, 40);
        let l2_entries = cluster_size / 8;
        let needed = virtual_size.div_ceil(cluster_size).div_ceil(l2_entries);
        if l1_entries * 8 > MAX_L1_BYTES {
            return Err(ImageError::Corrupt(format!(
                "L1 table of {l1_entries} entries"
            )));
        }
        if l1_entries < needed {
            return Err(ImageError::Corrupt(format!(
                "L1 table of {l1_entries} entries is too small for virtual size {virtual_size}"
            )));
        }
        if l1_entries > 0 && (l1_offset % cluster_size != 0 || l1_offset & !OFFSET_MASK != 0) {
            return Err(ImageError::Corrupt(format!("L1 table offset {l1_offset}")));
        }
        Ok(Self {
            input,
            header: Qcow2Header {
                version,
                virtual_size,
                cluster_size,
                l1_offset,
                // Entries past the virtual size map nothing the guest can see.
                l1_entries: needed,
                compression_type,
            },
        })
    }

    pub fn header(&self) -> &Qcow2Header {
        &self.header
    }

    /// Size of the raw image this conversion will produce.
    pub fn virtual_size(&self) -> u64 {
        self.header.virtual_size
    }

    /// Streams the rest of the input, writing the guest image to `target` at offsets
    /// 0..virtual_size. Reads the input to its end.
    pub fn convert<W: Write + Seek>(
        self,
        target: &mut W,
        opts: &ConvertOptions,
    ) -> Result<ConvertStats, ImageError> {
        let mut conv = Converter {
            input: self.input,
            h: self.header,
            target: Target {
                inner: target,
                pos: None,
                written_end: 0,
                written: 0,
                zeroed: opts.target_is_zeroed,
                zeros: Vec::new(),
            },
            max_buffer: opts.max_buffer,
            wanted: BTreeMap::new(),
            ready: Vec::new(),
            pending: BTreeMap::new(),
            pending_bytes: 0,
            peak_buffered: 0,
            l1_done: false,
            l2_outstanding: 0,
            inflate: Decompress::new(false),
        };
        conv.run()
    }
}

/// One structure the stream must deliver, by its host offset.
#[derive(Debug, Clone, Copy)]
enum Item {
    L1,
    L2 { index: u64 },
    Data { guest: u64 },
    Compressed { guest: u64, max_len: u64 },
}

struct Converter<'a, R, W> {
    input: Input<R>,
    h: Qcow2Header,
    target: Target<'a, W>,
    max_buffer: u64,
    /// Structures not reached yet, by host offset.
    wanted: BTreeMap<u64, Vec<Item>>,
    /// Structures whose bytes are already behind the stream (served from `pending`).
    ready: Vec<(u64, Item)>,
    /// Bytes read before anything claimed them, kept while tables are still unread.
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: u64,
    peak_buffered: u64,
    l1_done: bool,
    l2_outstanding: u64,
    inflate: Decompress,
}

impl<R: Read, W: Write + Seek> Converter<'_, R, W> {
    fn run(&mut self) -> Result<ConvertStats, ImageError> {
        if self.h.l1_entries == 0 {
            self.l1_done = true;
        } else {
            self.add(self.h.l1_offset, Item::L1);
        }
        loop {
            while let Some((start, item)) = self.ready.pop() {
                self.process(start, item)?;
            }
            if self.tables_known() && !self.pending.is_empty() {
                self.pending.clear();
                self.pending_bytes = 0;
            }
            let Some((start, items)) = self.wanted.pop_first() else {
                break;
            };
            for item in items {
                self.process(start, item)?;
            }
        }
        self.input.skip(u64::MAX, |_, _| Ok(()))?;
        self.target.finish(self.h.virtual_size)?;
        Ok(ConvertStats {
            virtual_size: self.h.virtual_size,
            input_bytes: self.input.pos,
            written_bytes: self.target.written,
            peak_buffered: self.peak_buffered,
        })
    }

    fn tables_known(&self) -> bool {
        self.l1_done && self.l2_outstanding == 0
    }

    /// Queues a structure: for later if the stream has not reached it, now if it has.
    fn add(&mut self, start: u64, item: Item) {
        if start < self.input.pos {
            self.ready.push((start, item));
        } else {
            self.wanted.entry(start).or_default().push(item);
        }
    }

    fn process(&mut self, start: u64, item: Item) -> Result<(), ImageError> {
        let cs = self.h.cluster_size;
        match item {
            Item::L1 => {
                let table = self.fetch(start, self.h.l1_entries * 8)?;
                self.l1_done = true;
                for index in 0..self.h.l1_entries {
                    let entry = be64(&table, index as usize * 8);
                    let l2 = entry & OFFSET_MASK;
                    let first = index * (cs / 8) * cs;
                    if l2 == 0 {
                        let end = (first + (cs / 8) * cs).min(self.h.virtual_size);
                        self.target.hole(first, end)?;
                        continue;
                    }
                    if l2 % cs != 0 {
                        return Err(ImageError::Corrupt(format!(
                            "L2 table offset {l2:#x} is not cluster aligned"
                        )));
                    }
                    self.l2_outstanding += 1;
                    self.add(l2, Item::L2 { index });
                }
            }
            Item::L2 { index } => {
                let table = self.fetch(start, cs)?;
                self.l2_outstanding -= 1;
                self.parse_l2(index, &table)?;
            }
            Item::Data { guest } => {
                let len = cs.min(self.h.virtual_size - guest);
                let data = self.fetch(start, len)?;
                self.target.data(guest, &data)?;
            }
            Item::Compressed { guest, max_len } => {
                if self.h.compression_type == 1 {
                    return Err(ImageError::Unsupported(Unsupported::ZstdCompression));
                }
                let cluster = self.inflate_at(start, max_len)?;
                let len = cs.min(self.h.virtual_size - guest) as usize;
                self.target.data(guest, &cluster[..len])?;
            }
        }
        Ok(())
    }

    fn parse_l2(&mut self, index: u64, table: &[u8]) -> Result<(), ImageError> {
        let cs = self.h.cluster_size;
        let per_table = cs / 8;
        let cluster_bits = u64::from(cs.trailing_zeros());
        let mut hole: Option<(u64, u64)> = None;
        for j in 0..per_table {
            let guest = (index * per_table + j) * cs;
            if guest >= self.h.virtual_size {
                break;
            }
            let end = (guest + cs).min(self.h.virtual_size);
            let entry = be64(table, j as usize * 8) & !COPIED_FLAG;
            let is_hole = if entry & COMPRESSED_FLAG != 0 {
                // Compressed: byte offset in the low bits, then extra 512-byte sectors.
                let shift = 62 - (cluster_bits - 8);
                let offset = entry & ((1u64 << shift) - 1);
                let sectors = ((entry & !COMPRESSED_FLAG) >> shift) + 1;
                let max_len = sectors * 512 - (offset & 511);
                if offset == 0 {
                    return Err(ImageError::Corrupt(format!(
                        "compressed cluster for guest offset {guest} at host offset 0"
                    )));
                }
                self.add(offset, Item::Compressed { guest, max_len });
                false
            } else if self.h.version >= 3 && entry & ZERO_FLAG != 0 {
                true
            } else {
                let offset = entry & OFFSET_MASK;
                if offset == 0 {
                    true
                } else if offset % cs != 0 {
                    return Err(ImageError::Corrupt(format!(
                        "data cluster offset {offset:#x} is not cluster aligned"
                    )));
                } else {
                    self.add(offset, Item::Data { guest });
                    false
                }
            };
            hole = match (hole, is_hole) {
                (Some((s, _)), true) => Some((s, end)),
                (None, true) => Some((guest, end)),
                (Some((s, e)), false) => {
                    self.target.hole(s, e)?;
                    None
                }
                (None, false) => None,
            };
        }
        if let Some((s, e)) = hole {
            self.target.hole(s, e)?;
        }
        Ok(())
    }

    /// Bytes `start..start+len` of the input, from the stream or from the buffer.
    fn fetch(&mut self, start: u64, len: u64) -> Result<Vec<u8>, ImageError> {
        if start < self.input.pos {
            let bytes = self.buffered(start, len);
            if bytes.len() as u64 == len {
                return Ok(bytes);
            }
            return Err(self.overlap(start));
        }
        self.advance_to(start)?;
        let mut buf = vec![0u8; len as usize];
        self.input.read_exact_at(start, &mut buf)?;
        Ok(buf)
    }

    fn overlap(&self, start: u64) -> ImageError {
        ImageError::Corrupt(format!(
            "structure at host offset {start:#x} overlaps another or lies in the header"
        ))
    }

    /// Consumes the stream up to `target`, buffering the bytes while tables are unread.
    fn advance_to(&mut self, target: u64) -> Result<(), ImageError> {
        if self.tables_known() {
            self.input.skip(target - self.input.pos, |_, _| Ok(()))?;
        } else {
            let cs = self.h.cluster_size;
            let limit = self.max_buffer;
            let pending = &mut self.pending;
            let used = &mut self.pending_bytes;
            let peak = &mut self.peak_buffered;
            self.input
                .skip_chunked(target - self.input.pos, cs, |off, bytes| {
                    *used += bytes.len() as u64;
                    if *used > limit {
                        return Err(ImageError::OutOfOrder { limit });
                    }
                    *peak = (*peak).max(*used);
                    pending.insert(off, bytes.to_vec());
                    Ok(())
                })?;
        }
        if self.input.pos < target {
            return Err(ImageError::Truncated {
                offset: self.input.pos,
                needed: target - self.input.pos,
            });
        }
        Ok(())
    }

    /// The longest buffered run of bytes starting at `start`, at most `len` long.
    fn buffered(&self, start: u64, len: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = start;
        while (out.len() as u64) < len {
            let Some((&off, chunk)) = self.pending.range(..=at).next_back() else {
                break;
            };
            let end = off + chunk.len() as u64;
            if at >= end {
                break;
            }
            let from = (at - off) as usize;
            let take = (end - at).min(len - out.len() as u64) as usize;
            out.extend_from_slice(&chunk[from..from + take]);
            at += take as u64;
        }
        out
    }

    /// Inflates one compressed cluster (raw deflate) whose data starts at `start`.
    fn inflate_at(&mut self, start: u64, max_len: u64) -> Result<Vec<u8>, ImageError> {
        let cs = self.h.cluster_size as usize;
        let mut out = vec![0u8; cs];
        self.inflate.reset(false);
        let bad =
            |why: String| ImageError::Corrupt(format!("compressed cluster at {start:#x}: {why}"));
        if start < self.input.pos {
            let src = self.buffered(start, max_len);
            if src.is_empty() {
                return Err(self.overlap(start));
            }
            let status = self
                .inflate
                .decompress(&src, &mut out, FlushDecompress::Finish)
                .map_err(|e| bad(e.to_string()))?;
            if self.inflate.total_out() as usize != cs {
                return Err(bad(format!(
                    "{status:?} after {} bytes",
                    self.inflate.total_out()
                )));
            }
            return Ok(out);
        }
        self.advance_to(start)?;
        // Feed only what the decompressor takes, so the next structure (often packed right
        // behind this one) is still in the stream.
        let mut left = max_len;
        loop {
            let avail = self.input.fill()?;
            let take = avail.len().min(left as usize);
            if take == 0 {
                return Err(if avail.is_empty() && left > 0 {
                    ImageError::Truncated {
                        offset: self.input.pos,
                        needed: left,
                    }
                } else {
                    bad("data ends before the cluster is complete".into())
                });
            }
            let (before_in, produced) =
                (self.inflate.total_in(), self.inflate.total_out() as usize);
            let status = self
                .inflate
                .decompress(&avail[..take], &mut out[produced..], FlushDecompress::None)
                .map_err(|e| bad(e.to_string()))?;
            let used = self.inflate.total_in() - before_in;
            self.input.consume(used as usize);
            left -= used;
            let total = self.inflate.total_out() as usize;
            if total == cs {
                return Ok(out);
            }
            if status == Status::StreamEnd {
                return Err(bad(format!("inflates to {total} bytes, not {cs}")));
            }
            if used == 0 && total == produced {
                return Err(bad("decompressor made no progress".into()));
            }
        }
    }
}

/// The raw output: seeks only when needed, writes zeros for holes unless pre-zeroed.
struct Target<'a, W> {
    inner: &'a mut W,
    pos: Option<u64>,
    written_end: u64,
    written: u64,
    zeroed: bool,
    zeros: Vec<u8>,
}

impl<W: Write + Seek> Target<'_, W> {
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> Result<(), ImageError> {
        if self.pos != Some(offset) {
            self.inner
                .seek(SeekFrom::Start(offset))
                .map_err(ImageError::Write)?;
        }
        self.inner.write_all(bytes).map_err(ImageError::Write)?;
        let end = offset + bytes.len() as u64;
        self.pos = Some(end);
        self.written_end = self.written_end.max(end);
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn data(&mut self, offset: u64, bytes: &[u8]) -> Result<(), ImageError> {
        if self.zeroed && bytes.iter().all(|&b| b == 0) {
            return Ok(());
        }
        self.write_at(offset, bytes)
    }

    fn hole(&mut self, start: u64, end: u64) -> Result<(), ImageError> {
        if self.zeroed {
            return Ok(());
        }
        if self.zeros.is_empty() {
            self.zeros = vec![0u8; ZERO_CHUNK];
        }
        let zeros = std::mem::take(&mut self.zeros);
        let mut at = start;
        let result = (|| {
            while at < end {
                let n = (end - at).min(ZERO_CHUNK as u64) as usize;
                self.write_at(at, &zeros[..n])?;
                at += n as u64;
            }
            Ok(())
        })();
        self.zeros = zeros;
        result
    }

    /// Makes the output reach the virtual size (a sparse extension for a zeroed file).
    fn finish(&mut self, size: u64) -> Result<(), ImageError> {
        if self.written_end < size {
            self.inner
                .seek(SeekFrom::Start(size - 1))
                .map_err(ImageError::Write)?;
            self.inner.write_all(&[0]).map_err(ImageError::Write)?;
        }
        self.inner.flush().map_err(ImageError::Write)
    }
}

/// A buffered, strictly forward reader that knows its position.
struct Input<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Offset of the next unconsumed byte.
    pos: u64,
}

impl<R: Read> Input<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0u8; READ_BUF],
            start: 0,
            end: 0,
            pos: 0,
        }
    }

    /// The buffered unconsumed bytes, refilled when empty; empty only at end of input.
    fn fill(&mut self) -> Result<&[u8], ImageError> {
        if self.start == self.end {
            self.start = 0;
            self.end = loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(ImageError::Read(e)),
                }
            };
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.pos += n as u64;
    }

    /// Fills `out` as far as the input goes; returns how much was read.
    fn read_some(&mut self, out: &mut [u8]) -> Result<usize, ImageError> {
        let mut done = 0;
        while done < out.len() {
            let avail = self.fill()?;
            if avail.is_empty() {
                break;
            }
            let n = avail.len().min(out.len() - done);
            out[done..done + n].copy_from_slice(&avail[..n]);
            self.consume(n);
            done += n;
        }
        Ok(done)
    }

    fn read_exact_at(&mut self, offset: u64, out: &mut [u8]) -> Result<(), ImageError> {
        let n = self.read_some(out)?;
        if n < out.len() {
            return Err(ImageError::Truncated {
                offset,
                needed: out.len() as u64,
            });
        }
        Ok(())
    }

    /// Consumes up to `n` bytes (fewer at end of input), showing them to `sink`.
    fn skip(
        &mut self,
        n: u64,
        sink: impl FnMut(u64, &[u8]) -> Result<(), ImageError>,
    ) -> Result<(), ImageError> {
        self.skip_chunked(n, u64::MAX, sink)
    }

    /// Like [`Input::skip`], but never hands `sink` a piece crossing a multiple of `align`.
    fn skip_chunked(
        &mut self,
        n: u64,
        align: u64,
        mut sink: impl FnMut(u64, &[u8]) -> Result<(), ImageError>,
    ) -> Result<(), ImageError> {
        let end = self.pos.saturating_add(n);
        while self.pos < end {
            let pos = self.pos;
            let boundary = if align == u64::MAX {
                end
            } else {
                ((pos / align) + 1).saturating_mul(align).min(end)
            };
            let avail = self.fill()?;
            if avail.is_empty() {
                break;
            }
            let take = avail
                .len()
                .min((boundary - pos).min(usize::MAX as u64) as usize);
            sink(pos, &avail[..take])?;
            self.consume(take);
        }
        Ok(())
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(x)
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngCore, SeedableRng};
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn qemu_img(args: &[&str]) {
        let out = Command::new("qemu-img")
            .args(args)
            .output()
            .expect("qemu-img runs");
        assert!(
            out.status.success(),
            "qemu-img {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A raw disk of random data with holes, zero runs and a tail that is not cluster
    /// aligned.
    fn random_raw(dir: &Path, size: u64, seed: u64) -> PathBuf {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut data = vec![0u8; size as usize];
        let mut at = 0usize;
        while at < data.len() {
            let run = rng.gen_range(1..64) * 4096usize;
            let end = (at + run).min(data.len());
            match rng.gen_range(0..3) {
                0 => rng.fill_bytes(&mut data[at..end]),
                1 => data[at..end].fill(0),
                _ => {
                    // Mostly zero with a few bytes set: not detectable as a hole.
                    data[at] = 1;
                    data[end - 1] = 2;
                }
            }
            at = end;
        }
        let path = dir.join("disk.raw");
        fs::write(&path, &data).expect("write raw");
        path
    }

    fn to_qcow2(dir: &Path, raw: &Path, name: &str, opts: &[&str]) -> PathBuf {
        let out = dir.join(name);
        let mut args = vec!["convert", "-q", "-f", "raw", "-O", "qcow2"];
        args.extend_from_slice(opts);
        args.push(raw.to_str().expect("utf8"));
        args.push(out.to_str().expect("utf8"));
        qemu_img(&args);
        out
    }

    /// qemu-img's own raw conversion of `qcow2`.
    fn reference(dir: &Path, qcow2: &Path) -> Vec<u8> {
        let out = dir.join("reference.raw");
        qemu_img(&[
            "convert",
            "-q",
            "-f",
            "qcow2",
            "-O",
            "raw",
            qcow2.to_str().expect("utf8"),
            out.to_str().expect("utf8"),
        ]);
        fs::read(out).expect("read reference")
    }

    /// Converts with both target modes and compares with qemu-img byte for byte.
    fn check(dir: &Path, qcow2: &Path, max_buffer: u64) {
        let want = reference(dir, qcow2);
        for zeroed in [false, true] {
            let target_path = dir.join(format!("ours-{zeroed}.raw"));
            if zeroed {
                fs::File::create(&target_path).expect("create");
            } else {
                // Old contents everywhere: holes must still read back as zeros.
                fs::write(&target_path, vec![0xaa; want.len()]).expect("garbage");
            }
            let mut target = fs::OpenOptions::new()
                .write(true)
                .open(&target_path)
                .expect("open");
            // Short, uneven reads (as from a network body) in one of the two runs.
            let input = Dribble {
                inner: fs::File::open(qcow2).expect("open qcow2"),
                rng: rand::rngs::StdRng::seed_from_u64(u64::from(zeroed)),
                max: if zeroed { 7000 } else { usize::MAX },
            };
            let reader = Qcow2Reader::open(input).expect("header");
            assert_eq!(reader.virtual_size(), want.len() as u64);
            let cluster = reader.header().cluster_size;
            let stats = reader
                .convert(
                    &mut target,
                    &ConvertOptions {
                        target_is_zeroed: zeroed,
                        max_buffer,
                    },
                )
                .unwrap_or_else(|e| panic!("{}: {e}", qcow2.display()));
            assert_eq!(stats.input_bytes, fs::metadata(qcow2).expect("md").len());
            // qemu-img puts only the refcount table and block (and the L1 cluster's
            // slack) before the first L2 table; tiny clusters add refcount blocks later.
            assert!(
                stats.peak_buffered <= (3 * cluster).max(64 << 10),
                "{stats:?}"
            );
            let got = fs::read(&target_path).expect("read ours");
            assert_eq!(got.len(), want.len(), "{} zeroed={zeroed}", qcow2.display());
            assert!(got == want, "{} differs (zeroed={zeroed})", qcow2.display());
        }
    }

    const SIZE: u64 = 6 * 1024 * 1024 + 3 * 4096 + 512;

    #[test]
    fn matches_qemu_img_for_common_layouts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let raw = random_raw(dir.path(), SIZE, 7);
        let cases: &[(&str, &[&str])] = &[
            ("v3.qcow2", &[]),
            ("compressed.qcow2", &["-c"]),
            ("v2.qcow2", &["-o", "compat=0.10"]),
            ("v2c.qcow2", &["-c", "-o", "compat=0.10"]),
            ("small.qcow2", &["-o", "cluster_size=4096"]),
            ("smallc.qcow2", &["-c", "-o", "cluster_size=4096"]),
            ("tiny.qcow2", &["-o", "cluster_size=512"]),
            ("big.qcow2", &["-o", "cluster_size=2M"]),
            ("bigc.qcow2", &["-c", "-o", "cluster_size=2M"]),
        ];
        for (name, opts) in cases {
            let q = to_qcow2(dir.path(), &raw, name, opts);
            check(dir.path(), &q, 16 << 20);
        }
    }

    #[test]
    fn zero_clusters_and_empty_images() {
        let dir = tempfile::tempdir().expect("tempdir");
        let raw = random_raw(dir.path(), SIZE, 11);
        let q = to_qcow2(dir.path(), &raw, "z.qcow2", &[]);
        // Zero flags (v3) over allocated and unallocated ranges.
        let out = Command::new("qemu-io")
            .args([
                "-f",
                "qcow2",
                "-c",
                "write -z 0 1M",
                "-c",
                "write -z 3M 64k",
            ])
            .arg(&q)
            .output()
            .expect("qemu-io runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        check(dir.path(), &q, 16 << 20);
        let empty = dir.path().join("empty.qcow2");
        qemu_img(&[
            "create",
            "-q",
            "-f",
            "qcow2",
            empty.to_str().expect("utf8"),
            "10M",
        ]);
        check(dir.path(), &empty, 16 << 20);
    }

    #[test]
    fn tables_after_data_are_buffered_within_the_bound() {
        let dir = tempfile::tempdir().expect("tempdir");
        let raw = random_raw(dir.path(), SIZE, 3);
        for (name, opts) in [("r.qcow2", &[][..]), ("rc.qcow2", &["-c"][..])] {
            let q = to_qcow2(dir.path(), &raw, name, opts);
            // Growing the disk moves the L1 table behind all data.
            qemu_img(&["resize", "-q", q.to_str().expect("utf8"), "+600G"]);
            let err = convert(
                fs::File::open(&q).expect("open"),
                &mut Discard::default(),
                &ConvertOptions {
                    target_is_zeroed: true,
                    max_buffer: 64 << 10,
                },
            )
            .expect_err("bound");
            assert!(matches!(err, ImageError::OutOfOrder { .. }), "{err}");
            // With room, the result is right. (Sparse target: 600 GiB of holes.)
            let out = dir.path().join("grown.raw");
            let mut f = fs::File::create(&out).expect("create");
            let input = Dribble {
                inner: fs::File::open(&q).expect("open"),
                rng: rand::rngs::StdRng::seed_from_u64(1),
                max: 5000,
            };
            let stats = convert(
                input,
                &mut f,
                &ConvertOptions {
                    target_is_zeroed: true,
                    max_buffer: 256 << 20,
                },
            )
            .expect("convert");
            assert_eq!(stats.virtual_size, SIZE + (600 << 30));
            assert_eq!(f.metadata().expect("md").len(), stats.virtual_size);
            let mut head = vec![0u8; SIZE as usize];
            fs::File::open(&out)
                .expect("open")
                .read_exact(&mut head)
                .expect("read");
            assert!(head == fs::read(&raw).expect("raw"), "{name} differs");
        }
    }

    #[test]
    fn refuses_backing_files_and_non_qcow2() {
        let dir = tempfile::tempdir().expect("tempdir");
        let raw = random_raw(dir.path(), 1 << 20, 5);
        let base = to_qcow2(dir.path(), &raw, "base.qcow2", &[]);
        let overlay = dir.path().join("overlay.qcow2");
        qemu_img(&[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-F",
            "qcow2",
            "-b",
            base.to_str().expect("utf8"),
            overlay.to_str().expect("utf8"),
        ]);
        match Qcow2Reader::open(fs::File::open(&overlay).expect("open")) {
            Err(ImageError::Unsupported(Unsupported::BackingFile(name))) => {
                assert!(name.ends_with("base.qcow2"), "{name}")
            }
            other => panic!("{:?}", other.map(|r| r.header().clone())),
        }
        assert!(matches!(
            Qcow2Reader::open(
                &b"\x7fELF and then some more bytes to fill a header of 72 bytes......"[..]
            ),
            Err(ImageError::BadMagic | ImageError::Truncated { .. })
        ));
        // Real images with features we refuse.
        let extl2 = to_qcow2(dir.path(), &raw, "extl2.qcow2", &["-o", "extended_l2=on"]);
        assert!(matches!(
            Qcow2Reader::open(fs::File::open(&extl2).expect("open")),
            Err(ImageError::Unsupported(Unsupported::ExtendedL2))
        ));
        let zstd = to_qcow2(
            dir.path(),
            &raw,
            "zstd.qcow2",
            &["-c", "-o", "compression_type=zstd"],
        );
        let err = convert(
            fs::File::open(&zstd).expect("open"),
            &mut Discard::default(),
            &ConvertOptions::default(),
        )
        .expect_err("zstd");
        assert!(
            matches!(err, ImageError::Unsupported(Unsupported::ZstdCompression)),
            "{err}"
        );
        // zstd as the header's type but no compressed cluster converts fine.
        let zplain = to_qcow2(
            dir.path(),
            &raw,
            "zplain.qcow2",
            &["-o", "compression_type=zstd"],
        );
        check(dir.path(), &zplain, 16 << 20);
        let mut v4 = fs::read(&base).expect("read");
        v4[7] = 4;
        assert!(matches!(
            Qcow2Reader::open(&v4[..]),
            Err(ImageError::Unsupported(Unsupported::Version(4)))
        ));
        let mut enc = fs::read(&base).expect("read");
        enc[35] = 2;
        assert!(matches!(
            Qcow2Reader::open(&enc[..]),
            Err(ImageError::Unsupported(Unsupported::Encryption(2)))
        ));
        let mut extl2 = fs::read(&base).expect("read");
        extl2[79] |= 1 << 4;
        assert!(matches!(
            Qcow2Reader::open(&extl2[..]),
            Err(ImageError::Unsupported(Unsupported::ExtendedL2))
        ));
        let mut datafile = fs::read(&base).expect("read");
        datafile[79] |= 1 << 2;
        assert!(matches!(
            Qcow2Reader::open(&datafile[..]),
            Err(ImageError::Unsupported(Unsupported::ExternalDataFile))
        ));
    }

    #[test]
    fn truncated_input_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let raw = random_raw(dir.path(), SIZE, 9);
        // A compressed image ends in sector padding; cut into the last cluster's data.
        for (opts, tail) in [(&[][..], 1), (&["-c"][..], 1024)] {
            let q = fs::read(to_qcow2(dir.path(), &raw, "t.qcow2", opts)).expect("read");
            for cut in [10, 100, q.len() / 3, q.len() / 2, q.len() - tail] {
                let r = convert(
                    &q[..cut],
                    &mut Discard::default(),
                    &ConvertOptions::default(),
                );
                assert!(
                    matches!(r, Err(ImageError::Truncated { .. })),
                    "cut at {cut} of {}: {r:?}",
                    q.len()
                );
            }
        }
    }

    /// Random corruption of small images must give errors or output, never a panic or a
    /// runaway allocation.
    #[test]
    fn mutations_never_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let raw = random_raw(dir.path(), 256 << 10, 13);
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        for opts in [
            &["-o", "cluster_size=4096"][..],
            &["-c", "-o", "cluster_size=4096"][..],
            &["-o", "compat=0.10,cluster_size=4096"][..],
        ] {
            let good = fs::read(to_qcow2(dir.path(), &raw, "m.qcow2", opts)).expect("read");
            for round in 0..700 {
                let mut bad = good.clone();
                for _ in 0..rng.gen_range(1..6) {
                    // Mostly the header and tables, where corruption is interesting.
                    let at = if round % 3 == 0 {
                        rng.gen_range(0..bad.len())
                    } else {
                        rng.gen_range(0..bad.len().min(5 * 4096))
                    };
                    bad[at] = rng.gen();
                }
                if round % 5 == 0 {
                    bad.truncate(rng.gen_range(0..bad.len()));
                }
                let _ = convert(
                    &bad[..],
                    &mut Discard::default(),
                    &ConvertOptions {
                        target_is_zeroed: round % 2 == 0,
                        max_buffer: 1 << 20,
                    },
                );
            }
        }
    }

    /// A reader returning at most a random `max` bytes per call.
    struct Dribble<R> {
        inner: R,
        rng: rand::rngs::StdRng,
        max: usize,
    }

    impl<R: Read> Read for Dribble<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.rng.gen_range(1..=self.max.min(1 << 30)));
            self.inner.read(&mut buf[..n])
        }
    }

    /// A target that only tracks its position (holes of corrupt images may be huge).
    #[derive(Default)]
    struct Discard {
        pos: u64,
        written: u64,
    }

    impl Write for Discard {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written += buf.len() as u64;
            if self.written > 1 << 34 {
                return Err(io::Error::other("runaway output"));
            }
            self.pos += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Seek for Discard {
        fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
            if let SeekFrom::Start(p) = to {
                self.pos = p;
            }
            Ok(self.pos)
        }
    }
}
