//! Image checksums by Ironic's rules, and readers/writers that hash what passes through.
//!
//! Ironic takes `image_os_hash_algo` + `image_os_hash_value` when the value is set;
//! otherwise the legacy `image_checksum`, which is either `<algo>:<hex>` or bare hex whose
//! length names the algorithm (32 md5, 64 sha256, 128 sha512). md5 is refused unless the
//! caller allows it (Ironic's `[agent]allow_md5_checksum`). Checksum URLs (a checksum file
//! to download) are not handled here.

use std::io::{self, Read, Write};

use md5::Md5;
use sha2::{Digest, Sha256, Sha512};

use super::ImageError;

/// A digest algorithm Ironic accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgo {
    Md5,
    Sha256,
    Sha512,
}

impl HashAlgo {
    /// The name as Glance and Ironic spell it (`md5`, `sha256`, `sha512`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Parses a name (case-insensitive; `sha-256` style accepted).
    pub fn from_name(name: &str) -> Result<Self, ImageError> {
        match name.trim().to_ascii_lowercase().replace('-', "").as_str() {
            "md5" => Ok(Self::Md5),
            "sha256" => Ok(Self::Sha256),
            "sha512" => Ok(Self::Sha512),
            other => Err(ImageError::BadChecksum(format!(
                "unsupported algorithm {other:?} (md5, sha256, sha512)"
            ))),
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Self::Md5 => 32,
            Self::Sha256 => 64,
            Self::Sha512 => 128,
        }
    }
}

/// An expected digest: algorithm and lower-case hex value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChecksumSpec {
    pub algo: HashAlgo,
    pub hex: String,
}

impl ChecksumSpec {
    /// An explicit algorithm and hex value (`image_os_hash_algo` + `image_os_hash_value`).
    pub fn new(algo: &str, hex: &str, allow_md5: bool) -> Result<Self, ImageError> {
        Self::checked(HashAlgo::from_name(algo)?, hex, allow_md5)
    }

    /// Ironic's legacy `image_checksum`: `<algo>:<hex>`, or bare hex named by its length.
    pub fn from_legacy(value: &str, allow_md5: bool) -> Result<Self, ImageError> {
        let value = value.trim();
        if value.starts_with("http://") || value.starts_with("https://") {
            return Err(ImageError::BadChecksum(
                "checksum URLs are not supported; give the digest itself".into(),
            ));
        }
        if let Some((algo, hex)) = value.split_once(':') {
            return Self::new(algo, hex, allow_md5);
        }
        let algo = match value.len() {
            32 => HashAlgo::Md5,
            64 => HashAlgo::Sha256,
            128 => HashAlgo::Sha512,
            n => {
                return Err(ImageError::BadChecksum(format!(
                    "a bare checksum of {n} characters names no algorithm (32 md5, 64 sha256, 128 sha512)"
                )))
            }
        };
        Self::checked(algo, value, allow_md5)
    }

    /// What to verify for an instance: `image_os_hash_value` (with `image_os_hash_algo`,
    /// or its length naming the algorithm) wins over `image_checksum`; `None` when
    /// neither is set.
    pub fn from_instance_info(
        os_hash_algo: Option<&str>,
        os_hash_value: Option<&str>,
        image_checksum: Option<&str>,
        allow_md5: bool,
    ) -> Result<Option<Self>, ImageError> {
        fn nonempty(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        match (nonempty(os_hash_value), nonempty(os_hash_algo)) {
            (Some(value), Some(algo)) => Self::new(algo, value, allow_md5).map(Some),
            (Some(value), None) => Self::from_legacy(value, allow_md5).map(Some),
            (None, _) => nonempty(image_checksum)
                .map(|c| Self::from_legacy(c, allow_md5))
                .transpose(),
        }
    }

    fn checked(algo: HashAlgo, hex: &str, allow_md5: bool) -> Result<Self, ImageError> {
        if algo == HashAlgo::Md5 && !allow_md5 {
            return Err(ImageError::Md5NotAllowed);
        }
        let hex = hex.trim().to_ascii_lowercase();
        if hex.len() != algo.hex_len() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ImageError::BadChecksum(format!(
                "{hex:?} is not a {} digest ({} hex digits)",
                algo.name(),
                algo.hex_len()
            )));
        }
        Ok(Self { algo, hex })
    }

    /// Compares with a computed hex digest.
    pub fn verify(&self, actual_hex: &str) -> Result<(), ImageError> {
        if actual_hex.eq_ignore_ascii_case(&self.hex) {
            Ok(())
        } else {
            Err(ImageError::ChecksumMismatch {
                algo: self.algo.name(),
                expected: self.hex.clone(),
                actual: actual_hex.to_ascii_lowercase(),
            })
        }
    }
}

impl std::fmt::Display for ChecksumSpec {
    /// `<algo>:<hex>`, the form [`ChecksumSpec::from_legacy`] reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algo.name(), self.hex)
    }
}

/// An incremental digest of one of the [`HashAlgo`]s.
#[derive(Clone)]
pub enum Hasher {
    Md5(Md5),
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub fn new(algo: HashAlgo) -> Self {
        match algo {
            HashAlgo::Md5 => Self::Md5(Md5::new()),
            HashAlgo::Sha256 => Self::Sha256(Sha256::new()),
            HashAlgo::Sha512 => Self::Sha512(Sha512::new()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Md5(h) => h.update(bytes),
            Self::Sha256(h) => h.update(bytes),
            Self::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest as lower-case hex.
    pub fn finish_hex(self) -> String {
        match self {
            Self::Md5(h) => hex(&h.finalize()),
            Self::Sha256(h) => hex(&h.finalize()),
            Self::Sha512(h) => hex(&h.finalize()),
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A reader that hashes every byte read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, algo: HashAlgo) -> Self {
        Self {
            inner,
            hasher: Hasher::new(algo),
            bytes: 0,
        }
    }

    /// Bytes read so far.
    pub fn byte_count(&self) -> u64 {
        self.bytes
    }

    /// The hex digest of everything read, and the inner reader.
    pub fn finish(self) -> (String, R) {
        (self.hasher.finish_hex(), self.inner)
    }

    /// Checks everything read against `spec` (which must use this reader's algorithm).
    pub fn verify(self, spec: &ChecksumSpec) -> Result<R, ImageError> {
        let (digest, inner) = self.finish();
        spec.verify(&digest)?;
        Ok(inner)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        self.bytes += n as u64;
        Ok(n)
    }
}

/// A writer that hashes every byte written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W, algo: HashAlgo) -> Self {
        Self {
            inner,
            hasher: Hasher::new(algo),
            bytes: 0,
        }
    }

    /// Bytes written so far.
    pub fn byte_count(&self) -> u64 {
        self.bytes
    }

    /// The hex digest of everything written, and the inner writer.
    pub fn finish(self) -> (String, W) {
        (self.hasher.finish_hex(), self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const MD5_ABC: &str = "900150983cd24fb0d6963f7d28e17f72";
    const SHA512_ABC: &str = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

    #[test]
    fn readers_and_writers_hash_known_vectors() {
        for (algo, want) in [
            (HashAlgo::Md5, MD5_ABC),
            (HashAlgo::Sha256, SHA256_ABC),
            (HashAlgo::Sha512, SHA512_ABC),
        ] {
            let mut r = HashingReader::new(&b"abc"[..], algo);
            let mut sink = Vec::new();
            r.read_to_end(&mut sink).expect("read");
            assert_eq!(r.byte_count(), 3);
            assert_eq!(r.finish().0, want);
            let mut w = HashingWriter::new(Vec::new(), algo);
            w.write_all(b"a").expect("write");
            w.write_all(b"bc").expect("write");
            let (digest, inner) = w.finish();
            assert_eq!((digest.as_str(), inner.as_slice()), (want, &b"abc"[..]));
        }
    }

    #[test]
    fn ironic_rules() {
        let spec = |a, v, c, md5| ChecksumSpec::from_instance_info(a, v, c, md5);
        // os_hash_* wins over image_checksum.
        let s = spec(Some("sha512"), Some(SHA512_ABC), Some(MD5_ABC), false)
            .expect("ok")
            .expect("some");
        assert_eq!(s.algo, HashAlgo::Sha512);
        // Bare legacy digests by length; md5 only when allowed.
        let s = spec(None, None, Some(SHA256_ABC), false)
            .expect("ok")
            .expect("some");
        assert_eq!(s.algo, HashAlgo::Sha256);
        assert!(matches!(
            spec(None, None, Some(MD5_ABC), false),
            Err(ImageError::Md5NotAllowed)
        ));
        let s = spec(None, None, Some(MD5_ABC), true)
            .expect("ok")
            .expect("some");
        assert_eq!(s.algo, HashAlgo::Md5);
        // "<algo>:<hex>" and upper case.
        let s = ChecksumSpec::from_legacy(&format!("SHA256:{}", SHA256_ABC.to_uppercase()), false)
            .expect("ok");
        assert_eq!((s.algo, s.hex.as_str()), (HashAlgo::Sha256, SHA256_ABC));
        assert_eq!(
            ChecksumSpec::from_legacy(&s.to_string(), false).expect("ok"),
            s
        );
        assert_eq!(spec(None, None, None, true).expect("ok"), None);
        assert_eq!(
            spec(Some("sha256"), Some(""), Some(" "), true).expect("ok"),
            None
        );
        // Garbage is refused clearly.
        for bad in [
            "abc",
            "sha1:0123",
            "sha256:xyz",
            "http://x/SHA256SUMS",
            &SHA256_ABC[1..],
        ] {
            assert!(
                matches!(
                    ChecksumSpec::from_legacy(bad, true),
                    Err(ImageError::BadChecksum(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn mismatch_names_both_digests() {
        let s = ChecksumSpec::new("sha256", SHA256_ABC, false).expect("ok");
        s.verify(&SHA256_ABC.to_uppercase())
            .expect("case-insensitive");
        let r = HashingReader::new(&b"abd"[..], HashAlgo::Sha256);
        let mut r2 = r;
        std::io::copy(&mut r2, &mut std::io::sink()).expect("copy");
        let err = r2.verify(&s).expect_err("mismatch");
        let text = err.to_string();
        assert!(
            text.contains(SHA256_ABC) && text.contains("sha256"),
            "{text}"
        );
        match err {
            ImageError::ChecksumMismatch {
                expected, actual, ..
            } => {
                assert_eq!(expected, SHA256_ABC);
                assert_ne!(actual, expected);
            }
            other => panic!("{other}"),
        }
    }
}
