//! The converter checked against qemu-img, hostile headers and mutated images.

use super::*;
use rand::{Rng, RngCore, SeedableRng};
use std::fs;
use std::io::{self, SeekFrom};
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
