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
//!
//! This file reads and checks the header; `convert` walks the tables and writes the
//! target, `input` is the forward-only reader under both.

use std::io::{Read, Seek, Write};

use super::{ImageError, Unsupported};

mod convert;
mod input;

use input::Input;

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
        if !head.starts_with(MAGIC) {
            return Err(ImageError::BadMagic);
        }
        let version = be32(&head, 4)?;
        if version != 2 && version != 3 {
            return Err(ImageError::Unsupported(Unsupported::Version(version)));
        }
        let cluster_bits = be32(&head, 20)?;
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

        let backing_offset = be64(&hdr, 8)?;
        if backing_offset != 0 {
            let len = be32(&hdr, 16)? as usize;
            let name = usize::try_from(backing_offset)
                .ok()
                .and_then(|o| hdr.get(o..o.checked_add(len.min(1023))?))
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            return Err(ImageError::Unsupported(Unsupported::BackingFile(name)));
        }
        let crypt = be32(&hdr, 32)?;
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
            let incompat = be64(&hdr, 72)?;
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
            let header_length = u64::from(be32(&hdr, 100)?);
            if !(104..=cluster_size).contains(&header_length) {
                return Err(ImageError::Corrupt(format!(
                    "header length {header_length}"
                )));
            }
            if header_length > 104 {
                if let Some(&t) = hdr.get(104) {
                    compression_type = t;
                }
            }
            if compression_type > 1 {
                return Err(ImageError::Unsupported(Unsupported::CompressionType(
                    compression_type,
                )));
            }
        }

        let virtual_size = be64(&hdr, 24)?;
        let l1_entries = u64::from(be32(&hdr, 36)?);
        let l1_offset = be64(&hdr, 40)?;
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
        if l1_entries > 0
            && (!l1_offset.is_multiple_of(cluster_size) || l1_offset & !OFFSET_MASK != 0)
        {
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
}

/// The big-endian field of `N` bytes at `at`; past the end of `b` is a corrupt image.
fn field<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], ImageError> {
    b.get(at..)
        .and_then(|s| s.first_chunk::<N>())
        .copied()
        .ok_or_else(|| {
            ImageError::Corrupt(format!(
                "{N}-byte field at {at} is past the end of a {}-byte table",
                b.len()
            ))
        })
}

fn be32(b: &[u8], at: usize) -> Result<u32, ImageError> {
    field(b, at).map(u32::from_be_bytes)
}

fn be64(b: &[u8], at: usize) -> Result<u64, ImageError> {
    field(b, at).map(u64::from_be_bytes)
}

#[cfg(test)]
mod tests;
