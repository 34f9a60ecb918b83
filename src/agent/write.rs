//! `write_image`: stream an image over HTTP straight onto the install disk (raw as is, gzip
//! decompressed on the fly), verifying its checksum on the downloaded bytes, then add the
//! config drive as a partition at the end of the disk.

use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use serde_json::Value;

use super::disk::{self, DiskError};
use crate::image::checksum::{ChecksumSpec, HashingReader};
use crate::image::qcow2::{ConvertOptions, Qcow2Reader};
use crate::image::{configdrive, sniff, Format, ImageError};

const CHUNK: usize = 1 << 20;

/// Download behaviour (IPA's `ipa-image-download-*` kernel parameters).
#[derive(Debug, Clone)]
pub struct Download {
    pub retries: u32,
    pub retry_interval: Duration,
    pub connect_timeout: Duration,
    pub insecure: bool,
}

impl Default for Download {
    fn default() -> Self {
        Download {
            retries: 9,
            retry_interval: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(60),
            insecure: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}")]
    InvalidParams(String),
    #[error("downloading {url} failed: {why}")]
    Download { url: String, why: String },
    #[error("image checksum mismatch ({algo}): expected {expected}, got {actual}; the start of the disk was wiped")]
    Checksum {
        algo: &'static str,
        expected: String,
        actual: String,
    },
    #[error("the image is larger than the disk {disk} ({size} bytes)")]
    TooLarge { disk: String, size: u64 },
    #[error("writing the image to {disk} failed: {why}")]
    Write { disk: String, why: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("bad config drive: {0}")]
    ConfigDrive(String),
    #[error(transparent)]
    Disk(#[from] DiskError),
    #[error(transparent)]
    Image(ImageError),
}

impl WriteError {
    /// IPA's error class name for `command_error.type`.
    pub fn kind(&self) -> &'static str {
        match self {
            WriteError::InvalidParams(_) => "InvalidCommandParamsError",
            WriteError::Download { .. } => "ImageDownloadError",
            WriteError::Checksum { .. } => "ImageChecksumError",
            WriteError::TooLarge { .. } | WriteError::Write { .. } => "ImageWriteError",
            WriteError::Unsupported(_) => "InvalidImage",
            WriteError::ConfigDrive(_) | WriteError::Disk(_) => "InstanceDeployFailure",
            WriteError::Image(ImageError::BadChecksum(_) | ImageError::Md5NotAllowed) => {
                "InvalidCommandParamsError"
            }
            WriteError::Image(_) => "ImageWriteError",
        }
    }
}

/// The parts of Ironic's `image_info` the agent uses.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageInfo {
    pub id: String,
    pub urls: Vec<String>,
    pub disk_format: Option<String>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    /// Decoded `image_request_authorization`: the `Authorization` header to send.
    pub authorization: Option<String>,
    pub image_type: Option<String>,
    pub deploy_boot_mode: Option<String>,
}

fn opt_str(v: &Value, key: &str) -> Result<Option<String>, WriteError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Err(WriteError::InvalidParams(format!(
            "Image '{key}' must be a non-empty string."
        ))),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(WriteError::InvalidParams(format!(
            "Image '{key}' must be a non-empty string."
        ))),
    }
}

impl ImageInfo {
    /// The URL named in errors and checksum files (`parse` makes sure there is one).
    fn first_url(&self) -> &str {
        self.urls.first().map(String::as_str).unwrap_or_default()
    }

    /// IPA's `_validate_image_info`: `id`, non-empty `urls`, and a usable checksum.
    pub fn parse(v: &Value, md5_allowed: bool) -> Result<ImageInfo, WriteError> {
        let bad = |m: &str| WriteError::InvalidParams(m.to_string());
        if !v.is_object() {
            return Err(bad("image_info must be an object."));
        }
        let id = match v.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(bad("Image is missing 'id' field.")),
        };
        let urls: Vec<String> = match v.get("urls") {
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .map(|u| u.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| bad("Image 'urls' must be a list of strings."))?,
            _ => {
                return Err(bad(
                    "Image 'urls' must be a list with at least one element.",
                ))
            }
        };
        let info = ImageInfo {
            id,
            urls,
            disk_format: opt_str(v, "disk_format")?,
            checksum: opt_str(v, "checksum")?,
            os_hash_algo: opt_str(v, "os_hash_algo")?,
            os_hash_value: opt_str(v, "os_hash_value")?,
            authorization: match opt_str(v, "image_request_authorization")? {
                Some(b) => Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(b.trim())
                        .ok()
                        .and_then(|d| String::from_utf8(d).ok())
                        .ok_or_else(|| bad("image_request_authorization is not base64 text."))?,
                ),
                None => None,
            },
            image_type: opt_str(v, "image_type")?,
            deploy_boot_mode: opt_str(v, "deploy_boot_mode")?,
        };
        if info.os_hash_algo.is_some() != info.os_hash_value.is_some() {
            return Err(bad(
                "Image 'os_hash_algo' and 'os_hash_value' must be given together.",
            ));
        }
        let has_checksum = match &info.checksum {
            Some(c) => is_url(c) || c.len() > 32 || md5_allowed,
            None => false,
        };
        if !(has_checksum || info.os_hash_value.is_some()) {
            return Err(bad(
                "Image checksum is not available, either the 'checksum' field or the \
                 'os_hash_algo' and 'os_hash_value' fields pair must be set for image \
                 verification.",
            ));
        }
        if info.image_type.as_deref() == Some("partition") {
            return Err(WriteError::Unsupported(
                "partition images are not supported by the ironbox agent; use a whole-disk image"
                    .into(),
            ));
        }
        Ok(info)
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

pub fn client(dl: &Download) -> Result<reqwest::blocking::Client, WriteError> {
    reqwest::blocking::Client::builder()
        .connect_timeout(dl.connect_timeout)
        .timeout(None)
        .danger_accept_invalid_certs(dl.insecure)
        .build()
        .map_err(|e| WriteError::Download {
            url: String::new(),
            why: e.to_string(),
        })
}

/// GET with retries on connection errors and non-2xx answers (nothing is written yet).
fn open(
    http: &reqwest::blocking::Client,
    urls: &[String],
    auth: Option<&str>,
    dl: &Download,
) -> Result<reqwest::blocking::Response, WriteError> {
    let mut last = WriteError::Download {
        url: urls.join(", "),
        why: "no URL".into(),
    };
    for attempt in 0..=dl.retries {
        if attempt > 0 {
            std::thread::sleep(dl.retry_interval);
        }
        for url in urls {
            let mut req = http.get(url);
            if let Some(a) = auth {
                req = req.header(reqwest::header::AUTHORIZATION, a);
            }
            match req.send() {
                Ok(r) if r.status().is_success() => return Ok(r),
                Ok(r) => {
                    last = WriteError::Download {
                        url: url.clone(),
                        why: format!("HTTP {}", r.status()),
                    }
                }
                Err(e) => {
                    last = WriteError::Download {
                        url: url.clone(),
                        why: error_chain(&e),
                    }
                }
            }
            tracing::warn!(%url, attempt, error = %last, "image download attempt failed");
        }
    }
    Err(last)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// The digest to verify, by Ironic's precedence (`os_hash_*` over `checksum`), fetching a
/// checksum file when `checksum` is a URL.
fn expected_checksum(
    info: &ImageInfo,
    md5_allowed: bool,
    http: &reqwest::blocking::Client,
    dl: &Download,
) -> Result<ChecksumSpec, WriteError> {
    let bad = |e: ImageError| WriteError::InvalidParams(e.to_string());
    if let Some(sum) = info
        .checksum
        .as_ref()
        .filter(|c| is_url(c) && info.os_hash_value.is_none())
    {
        let text = open(http, std::slice::from_ref(sum), None, dl)?
            .text()
            .map_err(|e| WriteError::Download {
                url: sum.clone(),
                why: error_chain(&e),
            })?;
        let image_name = info.first_url().rsplit('/').next().unwrap_or_default();
        let found = checksum_from_file(&text, image_name).ok_or_else(|| WriteError::Download {
            url: sum.clone(),
            why: format!("no checksum for {image_name:?} in the checksum file"),
        })?;
        return ChecksumSpec::from_legacy(&found, md5_allowed).map_err(bad);
    }
    ChecksumSpec::from_instance_info(
        info.os_hash_algo.as_deref(),
        info.os_hash_value.as_deref(),
        info.checksum.as_deref(),
        md5_allowed,
    )
    .map_err(bad)?
    .ok_or_else(|| WriteError::InvalidParams("no image checksum".into()))
}

/// A `sha256sum`-style file: `<hash>  <name>` lines (or `*<name>`), or a bare hash.
fn checksum_from_file(text: &str, image_name: &str) -> Option<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if let [one] = lines.as_slice() {
        if !one.contains(char::is_whitespace) {
            return Some(one.to_lowercase());
        }
    }
    lines.iter().find_map(|l| {
        let mut parts = l.split_whitespace();
        let hash = parts.next()?;
        let name = parts.next()?.trim_start_matches('*');
        let base = name.rsplit('/').next().unwrap_or(name);
        (base == image_name).then(|| hash.to_lowercase())
    })
}

/// Copy `src` to `dst` in 1 MiB chunks, refusing to go past `size` bytes.
fn copy_to_disk(
    src: &mut dyn Read,
    dst: &mut std::fs::File,
    disk: &str,
    size: u64,
) -> Result<u64, WriteError> {
    let mut buf = vec![0u8; CHUNK];
    let mut written = 0u64;
    loop {
        let mut filled = 0;
        while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
            let n = src.read(rest).map_err(|e| WriteError::Write {
                disk: disk.to_string(),
                why: format!("reading the image stream: {e}"),
            })?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            return Ok(written);
        }
        if written + filled as u64 > size {
            return Err(WriteError::TooLarge {
                disk: disk.to_string(),
                size,
            });
        }
        dst.write_all(buf.get(..filled).unwrap_or_default())
            .map_err(|e| WriteError::Write {
                disk: disk.to_string(),
                why: e.to_string(),
            })?;
        written += filled as u64;
    }
}

/// Download `info` onto `dev` (`size` bytes) and verify it. On any failure after the first
/// byte was written the start of the disk is zeroed. Returns the bytes written to disk.
pub fn write_image(
    info: &ImageInfo,
    dev: &Path,
    size: u64,
    md5_allowed: bool,
    dl: &Download,
) -> Result<u64, WriteError> {
    let disk_name = dev.display().to_string();
    let http = client(dl)?;
    let spec = expected_checksum(info, md5_allowed, &http, dl)?;
    let resp = open(&http, &info.urls, info.authorization.as_deref(), dl)?;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .open(dev)
        .map_err(|e| WriteError::Write {
            disk: disk_name.clone(),
            why: format!("opening: {e}"),
        })?;
    let mut src = HashingReader::new(resp, spec.algo);
    let result = stream(&mut src, &mut out, &disk_name, size, info);
    let result = result.and_then(|written| {
        // Hash what was downloaded, including anything after the end of a gzip stream.
        std::io::copy(&mut src, &mut std::io::sink()).map_err(|e| WriteError::Download {
            url: info.first_url().to_string(),
            why: e.to_string(),
        })?;
        out.sync_all().map_err(|e| WriteError::Write {
            disk: disk_name.clone(),
            why: format!("fsync: {e}"),
        })?;
        Ok(written)
    });
    let downloaded = src.byte_count();
    let (actual, _) = src.finish();
    let result = result.and_then(|w| match spec.verify(&actual) {
        Ok(()) => Ok(w),
        Err(_) => Err(WriteError::Checksum {
            algo: spec.algo.name(),
            expected: spec.hex.clone(),
            actual,
        }),
    });
    if result.is_err() {
        drop(out);
        if let Err(e) = disk::wipe_start(dev, size) {
            tracing::error!(error = %e, "could not wipe the start of the disk after a failed write");
        }
    } else {
        tracing::info!(disk = %disk_name, downloaded, algo = spec.algo.name(), "image written and verified");
    }
    result
}

fn stream(
    src: &mut dyn Read,
    out: &mut std::fs::File,
    disk: &str,
    size: u64,
    info: &ImageInfo,
) -> Result<u64, WriteError> {
    // Sniff the real format (a "raw" image may be gzip'd; qcow2 is converted here).
    let mut head = vec![0u8; 512];
    let mut got = 0;
    while let Some(rest) = head.get_mut(got..).filter(|r| !r.is_empty()) {
        let n = src.read(rest).map_err(|e| WriteError::Download {
            url: info.first_url().to_string(),
            why: e.to_string(),
        })?;
        if n == 0 {
            break;
        }
        got += n;
    }
    head.truncate(got);
    let format = sniff(&head);
    let mut joined = Cursor::new(head).chain(src);
    match format {
        Format::Gzip => {
            let mut gz = flate2::read::MultiGzDecoder::new(joined);
            copy_to_disk(&mut gz, out, disk, size)
        }
        Format::Qcow2 => {
            let q = Qcow2Reader::open(joined).map_err(WriteError::Image)?;
            if q.virtual_size() > size {
                return Err(WriteError::TooLarge {
                    disk: disk.to_string(),
                    size,
                });
            }
            let stats = q
                .convert(out, &ConvertOptions::default())
                .map_err(WriteError::Image)?;
            Ok(stats.virtual_size)
        }
        Format::Other(name) => Err(WriteError::Unsupported(format!(
            "image {} is {name}; the agent writes raw, gzip'd raw and qcow2 images",
            info.id
        ))),
        Format::Raw | Format::Iso => copy_to_disk(&mut joined, out, disk, size),
    }
}

/// Config drive bytes from the `configdrive` argument: an http(s) URL to fetch, or the
/// content; base64 of a gzip'd or plain ISO9660/vfat image (a URL may also serve the raw
/// image), as IPA accepts.
pub fn config_drive_bytes(arg: &str, dl: &Download) -> Result<Vec<u8>, WriteError> {
    if !is_url(arg) {
        return configdrive::decode(arg).map_err(|e| WriteError::ConfigDrive(e.to_string()));
    }
    let http = client(dl)?;
    let mut body = vec![];
    open(&http, &[arg.to_string()], None, dl)?
        .take(disk::CONFIG_DRIVE_MAX * 2 + 1)
        .read_to_end(&mut body)
        .map_err(|e| WriteError::Download {
            url: arg.to_string(),
            why: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&body);
    match configdrive::decode(&text) {
        Ok(b) => Ok(b),
        Err(_) if sniff(&body) == Format::Iso => Ok(body),
        Err(e) => Err(WriteError::ConfigDrive(format!("{arg}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sha2::Digest;
    use std::io::BufRead;

    /// A tiny HTTP/1.0 file server on loopback: path -> body; counts requests.
    pub fn serve(files: Vec<(&'static str, Vec<u8>)>) -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let mut r = std::io::BufReader::new(s);
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let mut s = r.into_inner();
                match files.iter().find(|(p, _)| *p == path) {
                    Some((_, body)) => {
                        let _ = write!(
                            s,
                            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        );
                        let _ = s.write_all(body);
                    }
                    None => {
                        let _ = write!(s, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                    }
                }
            }
        });
        format!("http://{addr}")
    }

    fn sha256(b: &[u8]) -> String {
        sha2::Sha256::digest(b)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn fast() -> Download {
        Download {
            retries: 1,
            retry_interval: Duration::from_millis(10),
            connect_timeout: Duration::from_secs(5),
            insecure: false,
        }
    }

    fn image(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn info(url: String, checksum: &str) -> ImageInfo {
        ImageInfo::parse(
            &json!({"id": "img", "urls": [url], "disk_format": "raw", "checksum": checksum}),
            false,
        )
        .unwrap()
    }

    #[test]
    fn raw_and_gzip_images_land_on_the_disk() {
        let img = image(3 * CHUNK + 12345);
        let mut gz = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
        gz.write_all(&img).unwrap();
        let gz = gz.finish().unwrap();
        let base = serve(vec![("/raw", img.clone()), ("/gz", gz.clone())]);
        let t = tempfile::tempdir().unwrap();
        let disk = t.path().join("disk");
        for (path, body) in [("/raw", &img), ("/gz", &gz)] {
            std::fs::write(&disk, vec![0xEEu8; 8 * CHUNK]).unwrap();
            let i = info(format!("{base}{path}"), &sha256(body));
            let n = write_image(&i, &disk, 8 * CHUNK as u64, false, &fast()).unwrap();
            assert_eq!(n, img.len() as u64);
            let d = std::fs::read(&disk).unwrap();
            assert_eq!(d.len(), 8 * CHUNK, "the disk file keeps its size");
            assert_eq!(&d[..img.len()], &img[..], "{path}");
            assert_eq!(d[img.len()], 0xEE, "bytes after the image untouched");
        }
    }

    #[test]
    fn checksum_mismatch_fails_and_wipes_the_start() {
        let img = image(CHUNK + 5);
        let base = serve(vec![("/raw", img.clone())]);
        let t = tempfile::tempdir().unwrap();
        let disk = t.path().join("disk");
        std::fs::write(&disk, vec![0xEEu8; 4 * CHUNK]).unwrap();
        let i = info(format!("{base}/raw"), &"0".repeat(64));
        let e = write_image(&i, &disk, 4 * CHUNK as u64, false, &fast()).unwrap_err();
        assert!(matches!(e, WriteError::Checksum { .. }), "{e}");
        assert_eq!(e.kind(), "ImageChecksumError");
        let d = std::fs::read(&disk).unwrap();
        assert!(d[..CHUNK].iter().all(|b| *b == 0), "first MiB wiped");
    }

    #[test]
    fn too_large_missing_and_sha512_os_hash() {
        let img = image(3 * CHUNK);
        let sum512: String = sha2::Sha512::digest(&img)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let base = serve(vec![
            ("/raw", img.clone()),
            (
                "/sums",
                format!("{}  other\n{}  raw\n", "1".repeat(64), sha256(&img)).into_bytes(),
            ),
        ]);
        let t = tempfile::tempdir().unwrap();
        let disk = t.path().join("disk");
        std::fs::write(&disk, vec![0u8; 2 * CHUNK]).unwrap();
        let i = info(format!("{base}/raw"), &sha256(&img));
        let e = write_image(&i, &disk, 2 * CHUNK as u64, false, &fast()).unwrap_err();
        assert!(matches!(e, WriteError::TooLarge { .. }), "{e}");

        let i = info(format!("{base}/nothing"), &sha256(&img));
        let e = write_image(&i, &disk, 2 * CHUNK as u64, false, &fast()).unwrap_err();
        assert!(e.to_string().contains("404"), "{e}");

        std::fs::write(&disk, vec![0u8; 4 * CHUNK]).unwrap();
        let i = ImageInfo::parse(
            &json!({"id": "x", "urls": [format!("{base}/raw")], "os_hash_algo": "sha512",
                    "os_hash_value": sum512}),
            false,
        )
        .unwrap();
        write_image(&i, &disk, 4 * CHUNK as u64, false, &fast()).unwrap();
        // Checksum given as the URL of a sha256sum file.
        let i = info(format!("{base}/raw"), &format!("{base}/sums"));
        write_image(&i, &disk, 4 * CHUNK as u64, false, &fast()).unwrap();
    }

    #[test]
    fn image_info_validation() {
        let p = |v: Value, md5| ImageInfo::parse(&v, md5);
        assert!(p(
            json!({"urls": ["http://x"], "checksum": "a".repeat(64)}),
            false
        )
        .is_err());
        assert!(p(
            json!({"id": "i", "urls": [], "checksum": "a".repeat(64)}),
            false
        )
        .is_err());
        assert!(p(json!({"id": "i", "urls": ["http://x"]}), false).is_err());
        let md5 = json!({"id": "i", "urls": ["http://x"], "checksum": "a".repeat(32)});
        assert!(p(md5.clone(), false).is_err(), "md5 refused unless enabled");
        assert!(p(md5, true).is_ok());
        assert!(p(
            json!({"id": "i", "urls": ["http://x"], "os_hash_algo": "sha256"}),
            false
        )
        .is_err());
        assert!(p(
            json!({"id": "i", "urls": ["http://x"], "checksum": "http://x/sums"}),
            false
        )
        .is_ok());
    }

    #[test]
    fn config_drive_forms() {
        let iso = configdrive::iso9660("config-2", &[("openstack/latest/meta_data.json", b"{}")])
            .unwrap();
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let mut gz = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
        gz.write_all(&iso).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(config_drive_bytes(&b64(&gz), &fast()).unwrap(), iso);
        assert_eq!(config_drive_bytes(&b64(&iso), &fast()).unwrap(), iso);
        let base = serve(vec![("/cd", b64(&gz).into_bytes()), ("/raw", iso.clone())]);
        assert_eq!(
            config_drive_bytes(&format!("{base}/cd"), &fast()).unwrap(),
            iso
        );
        assert_eq!(
            config_drive_bytes(&format!("{base}/raw"), &fast()).unwrap(),
            iso
        );
        assert!(config_drive_bytes("not base64!", &fast()).is_err());
        assert!(config_drive_bytes(&b64(b"neither iso nor vfat"), &fast()).is_err());
    }

    #[test]
    fn qcow2_images_are_converted_on_the_fly() {
        let t = tempfile::tempdir().unwrap();
        let raw = t.path().join("img.raw");
        let mut img = image(3 * CHUNK);
        img[CHUNK..2 * CHUNK].fill(0); // a hole
        std::fs::write(&raw, &img).unwrap();
        let qcow = t.path().join("img.qcow2");
        let st = std::process::Command::new("qemu-img")
            .args(["convert", "-f", "raw", "-O", "qcow2"])
            .arg(&raw)
            .arg(&qcow)
            .status();
        if !st.is_ok_and(|s| s.success()) {
            eprintln!("qemu-img not available: skipping the qcow2 check");
            return;
        }
        let q = std::fs::read(&qcow).unwrap();
        let base = serve(vec![("/q", q.clone())]);
        let disk = t.path().join("disk");
        std::fs::write(&disk, vec![0xEEu8; 5 * CHUNK]).unwrap();
        let i = ImageInfo::parse(
            &json!({"id": "q", "urls": [format!("{base}/q")], "disk_format": "qcow2",
                    "os_hash_algo": "sha256", "os_hash_value": sha256(&q)}),
            false,
        )
        .unwrap();
        let n = write_image(&i, &disk, 5 * CHUNK as u64, false, &fast()).unwrap();
        assert_eq!(n, img.len() as u64);
        let d = std::fs::read(&disk).unwrap();
        assert_eq!(&d[..img.len()], &img[..], "holes written as zeros");
        assert_eq!(d[img.len()], 0xEE);
        // A qcow2 whose virtual size exceeds the disk is refused before writing.
        std::fs::write(&disk, vec![0xEEu8; 2 * CHUNK]).unwrap();
        let e = write_image(&i, &disk, 2 * CHUNK as u64, false, &fast()).unwrap_err();
        assert!(matches!(e, WriteError::TooLarge { .. }), "{e}");
    }
}
