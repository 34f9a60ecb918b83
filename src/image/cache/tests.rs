//! The image cache's unit tests: one download verified and kept across restarts, typed HTTP errors, qcow2 conversion, eviction.

use super::*;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A tiny HTTP/1.0 server on 127.0.0.1: `/<name>` serves `files[name]`, anything else
/// is 404. Counts requests; answers slowly so concurrent fetches overlap.
struct Server {
    base: String,
    hits: Arc<AtomicUsize>,
}

fn serve(files: Vec<(&'static str, Vec<u8>)>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let files: HashMap<String, Vec<u8>> = files
        .into_iter()
        .map(|(k, v)| (format!("/{k}"), v))
        .collect();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(conn.try_clone().expect("clone"));
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(150));
            let _ = match files.get(&path) {
                Some(body) => conn
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|()| conn.write_all(body)),
                None => conn.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    Server { base, hits }
}

fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

fn spec(b: &[u8]) -> ChecksumSpec {
    ChecksumSpec::new("sha256", &sha256_hex(b), false).expect("spec")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_once_verifies_and_survives_restart() {
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let srv = serve(vec![("img", body.clone())]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache =
        Arc::new(ImageCache::new(dir.path(), 1 << 30, Duration::from_secs(3600)).expect("cache"));
    let url = format!("{}/img", srv.base);
    let mut tasks = vec![];
    for _ in 0..3 {
        let (cache, url, spec) = (cache.clone(), url.clone(), spec(&body));
        tasks.push(tokio::spawn(async move {
            cache.fetch(&url, Some(spec), false).await
        }));
    }
    for t in tasks {
        let img = t.await.expect("join").expect("fetch");
        assert_eq!(fs::read(&img.path).expect("read"), body);
        assert_eq!((img.size, img.format), (body.len() as u64, Format::Raw));
        assert_eq!(img.sha256, sha256_hex(&body));
    }
    assert_eq!(
        srv.hits.load(Ordering::SeqCst),
        1,
        "one download for three fetches"
    );
    // Names are hashes; nothing half-written is left.
    for e in fs::read_dir(dir.path()).expect("ls").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(name.ends_with(".img") || name.ends_with(".json"), "{name}");
        assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'),
            "{name}"
        );
    }
    drop(cache);
    let again = ImageCache::new(dir.path(), 1 << 30, Duration::from_secs(3600)).expect("cache");
    let img = again
        .fetch(&url, Some(spec(&body)), false)
        .await
        .expect("fetch");
    assert_eq!(img.sha256, sha256_hex(&body));
    assert_eq!(
        srv.hits.load(Ordering::SeqCst),
        1,
        "served from disk after a restart"
    );
    // Listed with the source and checksum that name the same entry again.
    let listed = again.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].source, url);
    assert_eq!(listed[0].checksum, Some(spec(&body).to_string()));
    assert_eq!((listed[0].size, listed[0].convert_to_raw), (300_000, false));
    // A different checksum is a different entry (and here a mismatch).
    let other = ChecksumSpec::new("sha512", &"0".repeat(128), false).expect("spec");
    match again.fetch(&url, Some(other), false).await {
        Err(ImageError::ChecksumMismatch {
            algo: "sha512",
            expected,
            actual,
        }) => {
            assert_eq!(expected, "0".repeat(128));
            assert_eq!(actual.len(), 128);
        }
        other => panic!("{other:?}"),
    }
    let names: Vec<_> = fs::read_dir(dir.path()).expect("ls").flatten().collect();
    assert_eq!(names.len(), 2, "the mismatching download was removed");
}

#[tokio::test]
async fn http_errors_are_typed() {
    let srv = serve(vec![("big", vec![7u8; 5000])]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = ImageCache::new(dir.path(), 4096, Duration::from_secs(60)).expect("cache");
    let err = cache
        .fetch(&format!("{}/nope", srv.base), None, false)
        .await;
    assert!(
        matches!(err, Err(ImageError::HttpStatus { status: 404, .. })),
        "{err:?}"
    );
    let err = cache.fetch(&format!("{}/big", srv.base), None, false).await;
    assert!(
        matches!(
            err,
            Err(ImageError::TooBig {
                size: 5000,
                limit: 4096
            })
        ),
        "{err:?}"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let err = cache
        .fetch(&format!("http://127.0.0.1:{port}/x"), None, false)
        .await;
    assert!(
        matches!(err, Err(ImageError::Unreachable { .. })),
        "{err:?}"
    );
    let err = cache.fetch("ftp://example/x", None, false).await;
    assert!(matches!(err, Err(ImageError::BadSource { .. })), "{err:?}");
    let err = cache.fetch("file://relative/x", None, false).await;
    assert!(matches!(err, Err(ImageError::BadSource { .. })), "{err:?}");
    assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 0);
}

#[tokio::test]
async fn converts_qcow2_from_file_urls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw_path = dir.path().join("disk.raw");
    let mut raw = vec![0u8; 3 << 20];
    for (i, b) in raw.iter_mut().enumerate().take(1 << 20) {
        *b = (i * 7 % 253) as u8;
    }
    raw[(2 << 20) + 5] = 9;
    fs::write(&raw_path, &raw).expect("write");
    let q = dir.path().join("disk.qcow2");
    let st = std::process::Command::new("qemu-img")
        .args(["convert", "-q", "-c", "-f", "raw", "-O", "qcow2"])
        .arg(&raw_path)
        .arg(&q)
        .status()
        .expect("qemu-img");
    assert!(st.success());
    let qbytes = fs::read(&q).expect("read");
    let cache =
        ImageCache::new(dir.path().join("cache"), 1 << 30, Duration::from_secs(60)).expect("cache");
    let url = format!("file://{}", q.display());
    let img = cache
        .fetch(&url, Some(spec(&qbytes)), true)
        .await
        .expect("fetch");
    assert_eq!(img.format, Format::Raw);
    assert_eq!(fs::read(&img.path).expect("read"), raw);
    assert_eq!(img.sha256, sha256_hex(&raw), "the served file's digest");
    let as_is = cache.fetch(&url, None, false).await.expect("fetch");
    assert_eq!(as_is.format, Format::Qcow2);
    assert_eq!(as_is.sha256, sha256_hex(&qbytes));
    // A qcow2 whose checksum does not match is not converted.
    let err = cache.fetch(&url, Some(spec(b"other")), true).await;
    assert!(
        matches!(err, Err(ImageError::ChecksumMismatch { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn evicts_lru_and_expired_but_not_in_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = |n: u8| {
        let p = dir.path().join(format!("src{n}"));
        fs::write(&p, vec![n; 40_000]).expect("write");
        format!("file://{}", p.display())
    };
    let (a, b, c) = (src(1), src(2), src(3));
    // Room for about two 40 kB files.
    let cache =
        ImageCache::new(dir.path().join("c"), 100_000, Duration::from_secs(3600)).expect("cache");
    let img_a = cache.fetch(&a, None, false).await.expect("a");
    let img_b = cache.fetch(&b, None, false).await.expect("b");
    drop(img_b);
    let img_c = cache.fetch(&c, None, false).await.expect("c");
    // b was the least recently used idle entry; a is held.
    assert!(img_a.path.exists() && img_c.path.exists());
    assert_eq!(fs::read_dir(dir.path().join("c")).expect("ls").count(), 4);
    drop((img_a, img_c));
    let expiring = ImageCache::new(dir.path().join("c"), 100_000, Duration::ZERO).expect("cache");
    assert_eq!(
        expiring.disk_bytes(),
        0,
        "idle entries past the TTL are removed"
    );
    assert_eq!(fs::read_dir(dir.path().join("c")).expect("ls").count(), 0);
}
