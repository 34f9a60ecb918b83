//! Disk images: format sniffing, streaming qcow2 → raw conversion, checksums by Ironic's
//! rules, the appliance's image cache and config drive building.
//!
//! A leaf library: it names no other ironbox module, so both the appliance (conductor, image
//! cache) and the in-ramdisk agent can use it. Everything except [`cache`] is synchronous
//! `std::io` code; async callers wrap it in `spawn_blocking`.
//!
//! # Public API
//!
//! - [`sniff`]`(header: &[u8]) -> Format` — what the first bytes of an image are (pass
//!   [`SNIFF_LEN`] bytes when the image is that long, so ISO9660 is recognised). A caller
//!   that sniffed the head of a stream can hand the converter
//!   `Cursor::new(head).chain(rest)`.
//! - [`qcow2`]: `Qcow2Reader::open(reader: impl Read) -> Result<Qcow2Reader, ImageError>`
//!   reads and checks the header, so `virtual_size()` is known before anything is written;
//!   `Qcow2Reader::convert(self, target: &mut impl Write + Seek, &ConvertOptions) ->
//!   Result<ConvertStats, ImageError>` then streams the guest image onto a block device or
//!   file. The input is read strictly sequentially and to its end, so a
//!   [`checksum::HashingReader`] around it sees every byte. `qcow2::convert(reader,
//!   target, opts)` does both. `ConvertOptions { target_is_zeroed, max_buffer }` (default:
//!   write zeros for holes, buffer at most 256 MiB of out-of-order data).
//! - [`checksum`]: `ChecksumSpec::from_instance_info(os_hash_algo, os_hash_value,
//!   image_checksum, allow_md5) -> Result<Option<ChecksumSpec>, ImageError>` applies
//!   Ironic's precedence; `ChecksumSpec::new(algo, hex, allow_md5)`,
//!   `ChecksumSpec::from_legacy(value, allow_md5)`, `ChecksumSpec::verify(&self,
//!   actual_hex) -> Result<(), ImageError>` ([`ImageError::ChecksumMismatch`] names both).
//!   `HashingReader::new(r, HashAlgo)` / `HashingWriter::new(w, HashAlgo)` hash what passes
//!   through; `.finish() -> (hex, inner)`, `HashingReader::verify(self, &spec)`.
//! - [`cache`]: `ImageCache::new(dir, max_bytes, ttl) -> Result<ImageCache, ImageError>`;
//!   `async fn fetch(&self, source: &str, checksum: Option<ChecksumSpec>, convert_to_raw:
//!   bool) -> Result<CachedImage, ImageError>` for `http://`, `https://` and `file:///`
//!   sources; `CachedImage { path, size, format, sha256 }` is also a lease: its entry is
//!   not evicted while it lives. `clean(&self) -> usize` evicts by TTL and LRU (also run
//!   after each fetch).
//! - [`configdrive`]: `build(json: &serde_json::Value) -> Result<Vec<u8>, ImageError>`
//!   makes the ISO9660 (Rock Ridge + Joliet) image labelled `config-2` from Ironic's JSON
//!   form; `encode(image: &[u8]) -> String` (gzip + base64, as in
//!   `instance_info.configdrive`) and `decode(encoded: &str) -> Result<Vec<u8>,
//!   ImageError>` (gzip+base64 or plain base64 of an ISO9660/vfat image).
//! - [`iso9660`]: `plan(&Options { label, efi_image, stamp }, &[(path, Data)]) -> Plan`
//!   lays out an ISO9660 image (Rock Ridge + Joliet, optionally an El Torito UEFI entry);
//!   `Plan::write_to` / `to_vec` write it, leaving `Data::Extent` files for the caller to
//!   stream into place. Config drives and boot ISOs both use it.
//! - [`bootiso`]: `build(&BootIso { arch, loader, kernel, ramdisk, cmdline }, out) -> u64`
//!   writes a UEFI boot ISO (FAT ESP with iPXE, `autoexec.ipxe`, kernel, ramdisk).
//! - `ImageCache::produce(source, make)` caches an image ironbox makes itself (a boot
//!   ISO); `ImageCache::remove(source)` deletes an entry no one holds.
//!
//! # Example: writing a downloaded image to a disk (the agent's path)
//!
//! ```no_run
//! use std::io::{Cursor, Read};
//! use ironbox::image::checksum::{ChecksumSpec, HashingReader};
//! use ironbox::image::{qcow2, sniff, Format, ImageError, SNIFF_LEN};
//!
//! fn write_image(
//!     body: impl Read,
//!     disk: &mut std::fs::File,
//!     disk_size: u64,
//!     spec: &ChecksumSpec,
//! ) -> Result<(), ImageError> {
//!     let mut body = HashingReader::new(body, spec.algo);
//!     let mut head = Vec::new();
//!     (&mut body).take(SNIFF_LEN as u64).read_to_end(&mut head).map_err(ImageError::Read)?;
//!     {
//!         let mut stream = Cursor::new(head.clone()).chain(&mut body);
//!         match sniff(&head) {
//!             Format::Qcow2 => {
//!                 let image = qcow2::Qcow2Reader::open(stream)?;
//!                 if image.virtual_size() > disk_size {
//!                     return Err(ImageError::TooBig { size: image.virtual_size(), limit: disk_size });
//!                 }
//!                 image.convert(disk, &qcow2::ConvertOptions::default())?;
//!             }
//!             Format::Raw | Format::Iso => {
//!                 std::io::copy(&mut stream, disk).map_err(ImageError::Write)?;
//!             }
//!             other => return Err(ImageError::Format(other.name())),
//!         }
//!     }
//!     // The converter read the body to its end, so the digest covers every byte.
//!     body.verify(spec)?;
//!     Ok(())
//! }
//! ```
//!
//! All fallible functions return the one [`ImageError`]; qcow2 features that are refused
//! are named by [`Unsupported`].

pub mod bootiso;
pub mod cache;
pub mod checksum;
pub mod configdrive;
mod error;
pub mod iso9660;
pub mod qcow2;
mod sniff;

pub use error::{ImageError, Unsupported};
pub use sniff::{sniff, Format, SNIFF_LEN};
