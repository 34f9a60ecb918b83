//! Disk images: format sniffing, streaming qcow2 → raw conversion, checksums by Ironic's
//! rules, the appliance's image cache and config drive building.
//!
//! A leaf library: it names no other ironbox module, so both the appliance (conductor, image
//! cache) and the in-ramdisk agent can use it. Everything except [`cache`] is synchronous
//! `std::io` code; async callers wrap it in `spawn_blocking`.
//!
//! # Public API
//!
//! - [`sniff`]`(header: &[u8]) -> Format` — what the first bytes of an image are (pass at
//!   least [`SNIFF_LEN`] bytes so ISO9660 can be recognised).
//! - [`qcow2`]: [`qcow2::Qcow2Reader::open`]`(reader)` parses the header from any `Read`
//!   (an HTTP body) and exposes [`qcow2::Qcow2Reader::virtual_size`] before any data is
//!   written; [`qcow2::Qcow2Reader::convert`]`(target, &ConvertOptions)` then streams the
//!   guest image onto a `Write + Seek` target (block device or file), reading the input
//!   strictly sequentially and to its end (so a hashing wrapper around the input sees every
//!   byte). [`qcow2::convert`] does both in one call.
//! - [`checksum`]: [`checksum::ChecksumSpec`] (from Ironic's `image_os_hash_algo` +
//!   `image_os_hash_value` or legacy `image_checksum`), [`checksum::HashingReader`] /
//!   [`checksum::HashingWriter`] that hash what passes through, and
//!   [`checksum::ChecksumSpec::verify`] giving [`ImageError::ChecksumMismatch`].
//! - [`cache`]: [`cache::ImageCache`] — async, downloads `http(s)://` and `file://` images
//!   once, verifies, optionally converts qcow2 to raw, evicts by LRU / TTL, and hands out
//!   [`cache::CachedImage`] guards (an entry is never evicted while a guard lives).
//! - [`configdrive`]: [`configdrive::build`] makes an ISO9660 (Rock Ridge + Joliet) image
//!   labelled `config-2` from Ironic's JSON form; [`configdrive::encode`] /
//!   [`configdrive::decode`] are gzip+base64 as stored in `instance_info.configdrive`.
//!
//! All fallible functions return the one [`ImageError`].

pub mod cache;
pub mod checksum;
pub mod configdrive;
mod error;
pub mod qcow2;
mod sniff;

pub use error::{ImageError, Unsupported};
pub use sniff::{sniff, Format, SNIFF_LEN};
