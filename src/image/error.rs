//! The one error type of the image module.

use std::io;

/// Everything that can go wrong reading, converting, verifying, caching or building images.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Reading the source (network body, cached file) failed.
    #[error("reading the image failed: {0}")]
    Read(#[source] io::Error),
    /// Writing the target (block device, cache file) failed.
    #[error("writing the image failed: {0}")]
    Write(#[source] io::Error),
    /// The input ended before a structure the image needs.
    #[error("image truncated: needed {needed} bytes at offset {offset}, input ended")]
    Truncated { offset: u64, needed: u64 },
    /// Not a qcow2 image (wrong magic).
    #[error("not a qcow2 image (bad magic)")]
    BadMagic,
    /// A qcow2 feature this converter refuses.
    #[error("unsupported image: {0}")]
    Unsupported(Unsupported),
    /// Header or table values that cannot be right.
    #[error("corrupt image: {0}")]
    Corrupt(String),
    /// Data clusters arrived before the table mapping them and did not fit the buffer.
    #[error("image layout needs more than {limit} bytes buffered (tables after data); convert it with qemu-img first")]
    OutOfOrder { limit: u64 },
    /// The checksum specification itself is unusable.
    #[error("bad checksum: {0}")]
    BadChecksum(String),
    /// md5 was asked for but the caller does not allow it.
    #[error("md5 checksums are disabled; give a sha256 or sha512 checksum")]
    Md5NotAllowed,
    /// The bytes do not hash to the expected value.
    #[error("{algo} checksum mismatch: expected {expected}, got {actual}")]
    ChecksumMismatch {
        algo: &'static str,
        expected: String,
        actual: String,
    },
    /// The image source is not a usable URL.
    #[error("bad image source {source_url:?}: {reason}")]
    BadSource { source_url: String, reason: String },
    /// The image server could not be reached or the transfer broke off.
    #[error("could not download {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The image server answered with an error status.
    #[error("{url} answered HTTP {status}")]
    HttpStatus { url: String, status: u16 },
    /// The image does not fit the cache (or the given limit).
    #[error("image is too big: {size} bytes, limit {limit}")]
    TooBig { size: u64, limit: u64 },
    /// The image format cannot be served as asked (e.g. vmdk when raw is wanted).
    #[error("image format {0} cannot be converted to raw")]
    Format(&'static str),
    /// An ISO9660 image cannot be laid out as asked.
    #[error("cannot build the ISO image: {0}")]
    Iso(String),
    /// A boot ISO cannot be built from what was given.
    #[error("cannot build the boot ISO: {0}")]
    BootIso(String),
    /// Config drive JSON or encoded config drive is unusable.
    #[error("bad config drive: {0}")]
    ConfigDrive(String),
}

/// qcow2 features the converter refuses, each named so the user knows what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsupported {
    Version(u32),
    BackingFile(String),
    Encryption(u32),
    ExternalDataFile,
    ExtendedL2,
    CorruptFlag,
    ZstdCompression,
    CompressionType(u8),
    IncompatibleFeatures(u64),
    ClusterBits(u32),
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Version(v) => write!(f, "qcow2 version {v} (only 2 and 3)"),
            Self::BackingFile(name) => write!(
                f,
                "qcow2 with a backing file ({name:?}); flatten it with qemu-img convert"
            ),
            Self::Encryption(m) => write!(f, "encrypted qcow2 (method {m})"),
            Self::ExternalDataFile => write!(f, "qcow2 with an external data file"),
            Self::ExtendedL2 => write!(f, "qcow2 with extended L2 entries (subclusters)"),
            Self::CorruptFlag => write!(f, "qcow2 marked corrupt by qemu"),
            Self::ZstdCompression => write!(f, "zstd-compressed qcow2 clusters"),
            Self::CompressionType(t) => write!(f, "qcow2 compression type {t}"),
            Self::IncompatibleFeatures(bits) => {
                write!(f, "unknown qcow2 incompatible features {bits:#x}")
            }
            Self::ClusterBits(b) => write!(f, "qcow2 cluster_bits {b} (9..=21 allowed)"),
        }
    }
}
