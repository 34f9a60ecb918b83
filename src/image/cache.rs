//! The appliance's image cache: each image is downloaded once, verified, optionally
//! converted from qcow2 to raw, and served from a local file.
//!
//! Files live in one directory as `<key>.img` with a `<key>.json` record beside them; the
//! key is a hash of the source, the expected checksum and the conversion flag, so names
//! are always safe. Downloads go to a temporary `*.part` file and are renamed into place
//! only once verified. Concurrent fetches of the same image wait for one download.
//! Entries unused for longer than the TTL, and the least recently used ones while the cache
//! is over its size, are removed — never while a [`CachedImage`] for them is alive.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::checksum::{hex, ChecksumSpec, HashAlgo, Hasher, HashingReader};
use super::qcow2::{ConvertOptions, Qcow2Reader};
use super::{sniff, Format, ImageError, SNIFF_LEN};

/// A cached image, ready to serve. The entry is not evicted while this (or a clone) lives.
#[derive(Debug, Clone)]
pub struct CachedImage {
    /// The file to serve.
    pub path: PathBuf,
    /// Its length in bytes.
    pub size: u64,
    /// Its format (raw after a conversion).
    pub format: Format,
    /// sha256 of the file as served (what the agent verifies).
    pub sha256: String,
    _lease: Arc<()>,
}

/// The on-disk record of an entry.
#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    source: String,
    size: u64,
    format: String,
    sha256: String,
    /// The fetch's checksum (`<algo>:<hex>`) and conversion: with the source, the cache key,
    /// so a listing offers what finds this entry again. Older records lack them.
    #[serde(default)]
    checksum: Option<String>,
    #[serde(default)]
    convert_to_raw: bool,
}

/// One complete entry as the UI's deploy form lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The source it was fetched from (`image_source`).
    pub source: String,
    /// The checksum it was verified against (`<algo>:<hex>`), if one was given.
    pub checksum: Option<String>,
    pub size: u64,
    pub format: String,
    pub convert_to_raw: bool,
}

struct Entry {
    record: Record,
    format: Format,
    /// Bytes the file occupies on disk (sparse raw files take less than their size).
    disk_bytes: u64,
    last_used: SystemTime,
    lease: Arc<()>,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// One lock per key being fetched, so a second fetch waits for the first.
    fetching: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
}

/// A size- and age-bounded cache of images in one directory.
pub struct ImageCache {
    dir: PathBuf,
    max_bytes: u64,
    ttl: Duration,
    client: reqwest::Client,
    state: Mutex<State>,
}

impl ImageCache {
    /// Opens (creating) the cache directory, keeps the complete entries found there and
    /// removes leftovers of interrupted downloads.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64, ttl: Duration) -> Result<Self, ImageError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(ImageError::Write)?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ImageError::Unreachable {
                url: String::new(),
                reason: format!("HTTP client: {e}"),
            })?;
        let mut state = State::default();
        for dirent in fs::read_dir(&dir).map_err(ImageError::Read)?.flatten() {
            let path = dirent.path();
            let name = dirent.file_name().to_string_lossy().into_owned();
            if name.ends_with(".part") {
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(key) = name.strip_suffix(".json") else {
                continue;
            };
            let img = dir.join(format!("{key}.img"));
            let loaded = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
                .and_then(|r| Some((Format::from_name(&r.format)?, r)))
                .and_then(|(f, r)| Some((f, r, fs::metadata(&img).ok()?)));
            match loaded {
                Some((format, record, meta)) if meta.len() == record.size => {
                    state.entries.insert(
                        key.to_string(),
                        Entry {
                            record,
                            format,
                            disk_bytes: disk_bytes(&meta),
                            last_used: meta.modified().unwrap_or_else(|_| SystemTime::now()),
                            lease: Arc::new(()),
                        },
                    );
                }
                _ => {
                    let _ = fs::remove_file(&path);
                    let _ = fs::remove_file(&img);
                }
            }
        }
        let cache = Self {
            dir,
            max_bytes,
            ttl,
            client,
            state: Mutex::new(state),
        };
        cache.clean();
        Ok(cache)
    }

    /// The image at `source` (`http://`, `https://` or `file:///path`), downloaded and
    /// verified against `checksum` (of the bytes as downloaded) unless cached, and
    /// converted to raw when `convert_to_raw` and it is qcow2.
    pub async fn fetch(
        &self,
        source: &str,
        checksum: Option<ChecksumSpec>,
        convert_to_raw: bool,
    ) -> Result<CachedImage, ImageError> {
        let key = cache_key(source, checksum.as_ref(), convert_to_raw);
        let lock = self
            .state()
            .fetching
            .entry(key.clone())
            .or_default()
            .clone();
        let _guard = lock.lock().await;
        let result = match self.lookup(&key) {
            Some(hit) => Ok(hit),
            None => self.download(&key, source, checksum, convert_to_raw).await,
        };
        self.state().fetching.remove(&key);
        if result.is_ok() {
            self.clean();
        }
        result
    }

    /// An image ironbox makes itself (a boot ISO): `source` names it (`built:...`, also
    /// its cache key) and `make` writes it into the path it is given, on a blocking thread.
    /// A second call with the same source finds the first one's file.
    pub async fn produce(
        &self,
        source: &str,
        make: impl FnOnce(&Path) -> Result<(), ImageError> + Send + 'static,
    ) -> Result<CachedImage, ImageError> {
        let key = cache_key(source, None, false);
        let lock = self
            .state()
            .fetching
            .entry(key.clone())
            .or_default()
            .clone();
        let _guard = lock.lock().await;
        let result = match self.lookup(&key) {
            Some(hit) => Ok(hit),
            None => {
                let part = self
                    .dir
                    .join(format!("{key}.{:016x}.part", rand::random::<u64>()));
                let target = part.clone();
                let made = match blocking(move || {
                    make(&target)?;
                    sha256_file(&target)
                })
                .await
                {
                    Ok(sha256) => {
                        let format = Format::Iso;
                        self.install(&key, &part, source, format, sha256, None, false)
                    }
                    Err(e) => Err(e),
                };
                if made.is_err() {
                    let _ = fs::remove_file(&part);
                }
                made
            }
        };
        self.state().fetching.remove(&key);
        if result.is_ok() {
            self.clean();
        }
        result
    }

    /// Forgets the entry fetched or produced from `source` (no checksum, no conversion)
    /// and deletes its file, unless a [`CachedImage`] of it is alive. Whether it went.
    pub fn remove(&self, source: &str) -> bool {
        let key = cache_key(source, None, false);
        let mut state = self.state();
        let idle = state
            .entries
            .get(&key)
            .is_some_and(|e| Arc::strong_count(&e.lease) == 1);
        if idle {
            state.entries.remove(&key);
            let _ = fs::remove_file(self.dir.join(format!("{key}.json")));
            let _ = fs::remove_file(self.dir.join(format!("{key}.img")));
        }
        idle
    }

    /// Removes entries unused for longer than the TTL, then least recently used ones while
    /// over the size limit; entries with a live [`CachedImage`] stay. Returns how many went.
    pub fn clean(&self) -> usize {
        let mut state = self.state();
        let now = SystemTime::now();
        let idle = |e: &Entry| Arc::strong_count(&e.lease) == 1;
        let mut doomed: Vec<String> = state
            .entries
            .iter()
            .filter(|(_, e)| {
                idle(e) && now.duration_since(e.last_used).unwrap_or_default() > self.ttl
            })
            .map(|(k, _)| k.clone())
            .collect();
        let mut total: u64 = state
            .entries
            .iter()
            .filter(|(k, _)| !doomed.contains(k))
            .map(|(_, e)| e.disk_bytes)
            .sum();
        let mut lru: Vec<(&String, &Entry)> = state
            .entries
            .iter()
            .filter(|(k, e)| idle(e) && !doomed.contains(k))
            .collect();
        lru.sort_by_key(|(_, e)| e.last_used);
        for (k, e) in lru {
            if total <= self.max_bytes {
                break;
            }
            total -= e.disk_bytes;
            doomed.push(k.clone());
        }
        for key in &doomed {
            state.entries.remove(key);
            let _ = fs::remove_file(self.dir.join(format!("{key}.json")));
            let _ = fs::remove_file(self.dir.join(format!("{key}.img")));
        }
        doomed.len()
    }

    /// Every complete entry, most recently used first (in-progress downloads are not listed).
    pub fn list(&self) -> Vec<Listing> {
        let state = self.state();
        let mut entries: Vec<&Entry> = state.entries.values().collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.last_used));
        entries
            .into_iter()
            // Built boot ISOs are not images to deploy.
            .filter(|e| !e.record.source.starts_with("built:"))
            .map(|e| Listing {
                source: e.record.source.clone(),
                checksum: e.record.checksum.clone(),
                size: e.record.size,
                format: e.record.format.clone(),
                convert_to_raw: e.record.convert_to_raw,
            })
            .collect()
    }

    /// Bytes the cached files occupy on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.state().entries.values().map(|e| e.disk_bytes).sum()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lookup(&self, key: &str) -> Option<CachedImage> {
        let mut state = self.state();
        let entry = state.entries.get_mut(key)?;
        let path = self.dir.join(format!("{key}.img"));
        if !path.exists() {
            state.entries.remove(key);
            return None;
        }
        entry.last_used = SystemTime::now();
        Some(CachedImage {
            path,
            size: entry.record.size,
            format: entry.format,
            sha256: entry.record.sha256.clone(),
            _lease: entry.lease.clone(),
        })
    }

    async fn download(
        &self,
        key: &str,
        source: &str,
        checksum: Option<ChecksumSpec>,
        convert_to_raw: bool,
    ) -> Result<CachedImage, ImageError> {
        let part = self
            .dir
            .join(format!("{key}.{:016x}.part", rand::random::<u64>()));
        let result = self
            .download_into(&part, key, source, checksum, convert_to_raw)
            .await;
        if result.is_err() {
            let _ = fs::remove_file(&part);
        }
        result
    }

    async fn download_into(
        &self,
        part: &Path,
        key: &str,
        source: &str,
        checksum: Option<ChecksumSpec>,
        convert_to_raw: bool,
    ) -> Result<CachedImage, ImageError> {
        let algo = checksum.as_ref().map(|c| c.algo);
        let (sha256, digest) = if source.starts_with("http://") || source.starts_with("https://") {
            self.fetch_http(source, part, algo).await?
        } else if let Some(path) = source.strip_prefix("file://") {
            let (path, part, max) = (PathBuf::from(path), part.to_path_buf(), self.max_bytes);
            let source = source.to_string();
            blocking(move || copy_file(&source, &path, &part, max, algo)).await?
        } else {
            return Err(ImageError::BadSource {
                source_url: source.to_string(),
                reason: "only http://, https:// and file:// are supported".into(),
            });
        };
        if let (Some(spec), Some(digest)) = (&checksum, digest) {
            spec.verify(&digest)?;
        }

        let max = self.max_bytes;
        let part_owned = part.to_path_buf();
        let (format, sha256) = blocking(move || {
            let mut head = vec![0u8; SNIFF_LEN];
            let n = read_prefix(&part_owned, &mut head)?;
            let format = sniff(head.get(..n).unwrap_or_default());
            match (convert_to_raw, format) {
                (true, Format::Qcow2) => {
                    let raw = part_owned.with_extension("raw.part");
                    let done = to_raw(&part_owned, &raw, max);
                    let _ = fs::remove_file(&part_owned);
                    let sha = done.and_then(|()| sha256_file(&raw));
                    match sha {
                        Ok(sha) => {
                            fs::rename(&raw, &part_owned).map_err(ImageError::Write)?;
                            Ok((Format::Raw, sha))
                        }
                        Err(e) => {
                            let _ = fs::remove_file(&raw);
                            Err(e)
                        }
                    }
                }
                (true, Format::Other(name)) => Err(ImageError::Format(name)),
                _ => Ok((format, sha256)),
            }
        })
        .await?;

        self.install(key, part, source, format, sha256, checksum, convert_to_raw)
    }

    /// Moves a complete `part` file into place as entry `key`, with its record.
    #[allow(clippy::too_many_arguments)]
    fn install(
        &self,
        key: &str,
        part: &Path,
        source: &str,
        format: Format,
        sha256: String,
        checksum: Option<ChecksumSpec>,
        convert_to_raw: bool,
    ) -> Result<CachedImage, ImageError> {
        let final_path = self.dir.join(format!("{key}.img"));
        let meta = fs::metadata(part).map_err(ImageError::Write)?;
        if disk_bytes(&meta) > self.max_bytes {
            return Err(ImageError::TooBig {
                size: disk_bytes(&meta),
                limit: self.max_bytes,
            });
        }
        let record = Record {
            source: source.to_string(),
            size: meta.len(),
            format: format.name().to_string(),
            sha256,
            checksum: checksum.as_ref().map(ToString::to_string),
            convert_to_raw,
        };
        fs::rename(part, &final_path).map_err(ImageError::Write)?;
        let json = serde_json::to_vec_pretty(&record)
            .map_err(|e| ImageError::Write(io::Error::other(e)))?;
        let record_part = self.dir.join(format!("{key}.json.part"));
        fs::write(&record_part, json).map_err(ImageError::Write)?;
        fs::rename(&record_part, self.dir.join(format!("{key}.json")))
            .map_err(ImageError::Write)?;

        let lease = Arc::new(());
        let image = CachedImage {
            path: final_path,
            size: record.size,
            format,
            sha256: record.sha256.clone(),
            _lease: lease.clone(),
        };
        self.state().entries.insert(
            key.to_string(),
            Entry {
                record,
                format,
                disk_bytes: disk_bytes(&meta),
                last_used: SystemTime::now(),
                lease,
            },
        );
        Ok(image)
    }

    /// Streams an HTTP body into `part`; returns its sha256 and its digest in `algo`.
    async fn fetch_http(
        &self,
        url: &str,
        part: &Path,
        algo: Option<HashAlgo>,
    ) -> Result<(String, Option<String>), ImageError> {
        let unreachable = |e: reqwest::Error| ImageError::Unreachable {
            url: url.to_string(),
            reason: error_chain(&e),
        };
        let mut resp = self.client.get(url).send().await.map_err(unreachable)?;
        if !resp.status().is_success() {
            return Err(ImageError::HttpStatus {
                url: url.to_string(),
                status: resp.status().as_u16(),
            });
        }
        if let Some(len) = resp.content_length().filter(|&l| l > self.max_bytes) {
            return Err(ImageError::TooBig {
                size: len,
                limit: self.max_bytes,
            });
        }
        let mut file = tokio::fs::File::create(part)
            .await
            .map_err(ImageError::Write)?;
        let mut hashes = Hashes::new(algo);
        let mut total = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
            total += chunk.len() as u64;
            if total > self.max_bytes {
                return Err(ImageError::TooBig {
                    size: total,
                    limit: self.max_bytes,
                });
            }
            hashes.update(&chunk);
            file.write_all(&chunk).await.map_err(ImageError::Write)?;
        }
        file.sync_all().await.map_err(ImageError::Write)?;
        Ok(hashes.finish())
    }
}

/// sha256 always (what is recorded), plus the checksum's own algorithm when different.
struct Hashes {
    sha256: Sha256,
    other: Option<Hasher>,
}

impl Hashes {
    fn new(algo: Option<HashAlgo>) -> Self {
        Self {
            sha256: Sha256::new(),
            other: algo.filter(|a| *a != HashAlgo::Sha256).map(Hasher::new),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        if let Some(h) = &mut self.other {
            h.update(bytes);
        }
    }

    /// (sha256, digest in the checksum's algorithm — the sha256 again when that is it).
    fn finish(self) -> (String, Option<String>) {
        let sha = hex(&self.sha256.finalize());
        let other = match self.other {
            Some(h) => h.finish_hex(),
            None => sha.clone(),
        };
        (sha, Some(other))
    }
}

fn cache_key(source: &str, checksum: Option<&ChecksumSpec>, convert: bool) -> String {
    let mut h = Sha256::new();
    h.update(source.as_bytes());
    h.update(b"\n");
    h.update(
        checksum
            .map(|c| c.to_string())
            .unwrap_or_default()
            .as_bytes(),
    );
    h.update(if convert { "\nraw" } else { "\nas-is" });
    hex(h.finalize().get(..16).unwrap_or_default())
}

fn copy_file(
    source: &str,
    path: &Path,
    part: &Path,
    max: u64,
    algo: Option<HashAlgo>,
) -> Result<(String, Option<String>), ImageError> {
    let bad = |reason: String| ImageError::BadSource {
        source_url: source.to_string(),
        reason,
    };
    if !path.is_absolute() {
        return Err(bad("file:// sources need an absolute path".into()));
    }
    let file = fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let len = file.metadata().map_err(ImageError::Read)?.len();
    if len > max {
        return Err(ImageError::TooBig {
            size: len,
            limit: max,
        });
    }
    let mut hashes = Hashes::new(algo);
    let mut reader = io::BufReader::new(file);
    let mut out = io::BufWriter::new(fs::File::create(part).map_err(ImageError::Write)?);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ImageError::Read(e)),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        hashes.update(chunk);
        out.write_all(chunk).map_err(ImageError::Write)?;
    }
    let file = out
        .into_inner()
        .map_err(|e| ImageError::Write(e.into_error()))?;
    file.sync_all().map_err(ImageError::Write)?;
    Ok(hashes.finish())
}

/// Converts the qcow2 file `src` into a fresh sparse raw file `dst`.
fn to_raw(src: &Path, dst: &Path, max: u64) -> Result<(), ImageError> {
    let input = io::BufReader::new(fs::File::open(src).map_err(ImageError::Read)?);
    let reader = Qcow2Reader::open(input)?;
    let mut out = fs::File::create(dst).map_err(ImageError::Write)?;
    reader.convert(
        &mut out,
        &ConvertOptions {
            target_is_zeroed: true,
            max_buffer: ConvertOptions::default().max_buffer,
        },
    )?;
    out.sync_all().map_err(ImageError::Write)?;
    let used = disk_bytes(&out.metadata().map_err(ImageError::Write)?);
    if used > max {
        return Err(ImageError::TooBig {
            size: used,
            limit: max,
        });
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String, ImageError> {
    let mut r = HashingReader::new(
        fs::File::open(path).map_err(ImageError::Read)?,
        HashAlgo::Sha256,
    );
    io::copy(&mut r, &mut io::sink()).map_err(ImageError::Read)?;
    Ok(r.finish().0)
}

fn read_prefix(path: &Path, buf: &mut [u8]) -> Result<usize, ImageError> {
    let mut f = fs::File::open(path).map_err(ImageError::Read)?;
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..).filter(|r| !r.is_empty()) {
        match f.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ImageError::Read(e)),
        }
    }
    Ok(n)
}

fn disk_bytes(meta: &fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.blocks() * 512
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ImageError> + Send + 'static,
) -> Result<T, ImageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ImageError::Write(io::Error::other(e)))?
}

#[cfg(test)]
mod tests;
