//! The conversion proper: the L1 and L2 tables as the stream reaches them, data
//! buffered (within `max_buffer`) until its table arrives, compressed clusters inflated,
//! and the raw target written with holes as zeros or skipped.

use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom, Write};

use flate2::{Decompress, FlushDecompress, Status};

use super::*;

impl<R: Read> Qcow2Reader<R> {
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
                    let entry = be64(&table, index as usize * 8)?;
                    let l2 = entry & OFFSET_MASK;
                    let first = index * (cs / 8) * cs;
                    if l2 == 0 {
                        let end = (first + (cs / 8) * cs).min(self.h.virtual_size);
                        self.target.hole(first, end)?;
                        continue;
                    }
                    if !l2.is_multiple_of(cs) {
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
                let data = cluster.get(..len).ok_or_else(|| {
                    ImageError::Corrupt(format!(
                        "compressed cluster for guest offset {guest} inflated short"
                    ))
                })?;
                self.target.data(guest, data)?;
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
            let entry = be64(table, j as usize * 8)? & !COPIED_FLAG;
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
                } else if !offset.is_multiple_of(cs) {
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
            // In bounds (off <= at < end), but a miss ends the copy like a gap would.
            let Some(piece) = chunk.get(from..from + take) else {
                break;
            };
            out.extend_from_slice(piece);
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
                .decompress(
                    avail.get(..take).unwrap_or_default(),
                    out.get_mut(produced..)
                        .ok_or_else(|| bad("inflated past the cluster".into()))?,
                    FlushDecompress::None,
                )
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
                // zeros is ZERO_CHUNK long (made so above), so this never misses.
                let chunk = zeros.get(..n).ok_or_else(|| {
                    ImageError::Write(std::io::Error::other("zero buffer shorter than a chunk"))
                })?;
                self.write_at(at, chunk)?;
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
