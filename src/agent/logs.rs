//! The agent's own log (kept in memory as well as printed) and `log.collect_system_logs`:
//! a base64 tar.gz of that log plus a few system files, as IPA returns it.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine;

const KEEP: usize = 4 << 20;

/// The last few MiB of log output; a `tracing` writer that also copies to stderr.
#[derive(Clone, Default)]
pub struct LogRing(Arc<Mutex<VecDeque<u8>>>);

impl LogRing {
    pub fn contents(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }
}

impl Write for LogRing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut q) = self.0.lock() {
            q.extend(buf);
            let over = q.len().saturating_sub(KEEP);
            q.drain(..over);
        }
        std::io::stderr().write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogRing {
    type Writer = LogRing;
    fn make_writer(&'a self) -> LogRing {
        self.clone()
    }
}

/// One ustar member header.
fn tar_header(name: &str, size: u64, mtime: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let name = name.as_bytes();
    for (dst, src) in h.iter_mut().zip(name.iter().take(99)) {
        *dst = *src;
    }
    // `v` in octal, NUL-terminated, right-aligned in the `len` bytes at `off` (the
    // leading digits are dropped if it is too long, as before).
    let octal = |h: &mut [u8; 512], off: usize, len: usize, v: u64| {
        let s = format!("{:0width$o}\0", v, width = len - 1);
        let tail = s
            .as_bytes()
            .get(s.len().saturating_sub(len)..)
            .unwrap_or_default();
        for (dst, src) in h.iter_mut().skip(off).zip(tail) {
            *dst = *src;
        }
    };
    octal(&mut h, 100, 8, 0o644);
    octal(&mut h, 108, 8, 0);
    octal(&mut h, 116, 8, 0);
    octal(&mut h, 124, 12, size);
    octal(&mut h, 136, 12, mtime);
    h[148..156].fill(b' ');
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    let sum: u64 = h.iter().map(|b| *b as u64).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    h
}

/// A gzip'd tar of `files` (name, content).
pub fn tar_gz(files: &[(String, Vec<u8>)]) -> std::io::Result<Vec<u8>> {
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut gz = flate2::write::GzEncoder::new(vec![], flate2::Compression::default());
    for (name, data) in files {
        gz.write_all(&tar_header(name, data.len() as u64, mtime))?;
        gz.write_all(data)?;
        let pad = (512 - data.len() % 512) % 512;
        gz.write_all(&vec![0u8; pad])?;
    }
    gz.write_all(&[0u8; 1024])?;
    gz.finish()
}

/// `log.collect_system_logs`: the agent log, the kernel command line and a few /proc files.
pub fn collect(
    ring: &LogRing,
    proc_root: &std::path::Path,
    inventory: &serde_json::Value,
) -> std::io::Result<String> {
    let mut files = vec![("ironbox-agent.log".to_string(), ring.contents())];
    for f in ["cmdline", "mounts", "meminfo", "partitions", "modules"] {
        if let Ok(b) = std::fs::read(proc_root.join(f)) {
            files.push((format!("proc/{f}"), b));
        }
    }
    files.push((
        "inventory.json".into(),
        serde_json::to_vec_pretty(inventory).unwrap_or_default(),
    ));
    Ok(base64::engine::general_purpose::STANDARD.encode(tar_gz(&files)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_lists_with_the_system_tar() {
        let t = tempfile::tempdir().unwrap();
        let mut ring = LogRing::default();
        ring.write_all(b"hello log\n").unwrap();
        let b64 = collect(
            &ring,
            std::path::Path::new("/proc"),
            &serde_json::json!({"a": 1}),
        )
        .unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let p = t.path().join("logs.tar.gz");
        std::fs::write(&p, raw).unwrap();
        let out = std::process::Command::new("tar")
            .arg("-xzf")
            .arg(&p)
            .arg("-C")
            .arg(t.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(t.path().join("ironbox-agent.log")).unwrap(),
            "hello log\n"
        );
        assert!(t.path().join("proc/cmdline").exists());
        assert!(std::fs::read_to_string(t.path().join("inventory.json"))
            .unwrap()
            .contains("\"a\""));
    }
}
