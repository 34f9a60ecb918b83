//! The boot HTTP server's fast path: plain GET/HEAD requests for boot files and iPXE
//! scripts are answered straight on the accepted socket, file bodies by sendfile(2) (no
//! copy through user space, no per-chunk task wake-ups). Anything else — a conditional or
//! unsatisfiable range, a body, a query, a bad path, a missing file, a head split over
//! several reads — is left unread and the connection handed to actix, which answers as
//! before. The choice is made on a `peek`, so a hand-over at a request boundary loses
//! nothing.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use super::dhcp::options::{find_program, Program};
use super::http::{file_served, http_result, image_name, mac_script, safe_path};
use super::Boot;
use crate::http::serve::Front;

/// The largest request head taken here; longer ones go to actix (whose gate words refusals).
const HEAD_MAX: usize = 2048;
/// Fields a head may have here (more: actix decides).
const FIELDS: usize = 24;
/// How long a first request may take to arrive before actix gets the connection (its gate
/// then times the head), and how long a kept-alive connection may idle (actix's keep-alive).
const IDLE: Duration = Duration::from_secs(5);

/// Peeks at a head split over segments before leaving it to actix.
const SPLIT_TRIES: usize = 10;

/// The fast path as the HTTP server takes it.
pub fn front(boot: Arc<Boot>) -> Front {
    Arc::new(move |stream| Box::pin(serve(boot.clone(), stream)))
}

/// Serve requests on `stream` while they are simple; give it back at the first one that is
/// not, or `None` when the connection is finished.
async fn serve(boot: Arc<Boot>, mut stream: TcpStream) -> Option<TcpStream> {
    let peer = stream.peer_addr().ok();
    let mut buf = [0u8; HEAD_MAX];
    let mut first = true;
    loop {
        let n = match tokio::time::timeout(IDLE, stream.peek(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return None,
            Ok(Ok(n)) => n,
            // A silent new connection is the gate's to time out; an idle kept-alive one closes.
            Err(_) => return first.then_some(stream),
        };
        let Some(req) = complete_head(&stream, &mut buf, n).await.and_then(parse) else {
            return Some(stream);
        };
        let Some(answer) = answer(&boot, peer, &req).await else {
            return Some(stream);
        };
        // Take the request off the socket (it is all there: the peek saw it).
        let Some(head) = buf.get_mut(..req.head_len) else {
            return Some(stream);
        };
        if stream.read_exact(head).await.is_err() {
            return None;
        }
        first = false;
        crate::metrics::http_boot_request(http_result(answer.status));
        if send(&mut stream, &req, answer).await.is_err() || req.close {
            return None;
        }
    }
}

/// The peeked bytes once they hold a whole head. A head split over several segments is
/// peeked again a few times, a millisecond apart (a peek leaves the socket readable, so
/// readiness cannot say when more came); still partial, it is actix's.
async fn complete_head<'a>(
    stream: &TcpStream,
    buf: &'a mut [u8],
    mut n: usize,
) -> Option<&'a [u8]> {
    for _ in 0..SPLIT_TRIES {
        if buf.get(..n)?.windows(4).any(|w| w == b"\r\n\r\n") || n == buf.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        n = stream.peek(buf).await.ok()?;
    }
    buf.get(..n)
}

/// A request head the fast path can answer in full.
#[derive(Debug, PartialEq)]
struct Request {
    head_len: usize,
    /// HEAD rather than GET.
    head: bool,
    path: String,
    range: Option<Range>,
    close: bool,
}

/// One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Range {
    FromTo(u64, u64),
    From(u64),
    Last(u64),
}

impl Range {
    /// (offset, length) within a file of `size` bytes; `None` when not satisfiable.
    fn within(self, size: u64) -> Option<(u64, u64)> {
        match self {
            Range::FromTo(a, b) if a <= b && a < size => Some((a, b.min(size - 1) - a + 1)),
            Range::From(a) if a < size => Some((a, size - a)),
            Range::Last(n) if n > 0 && size > 0 => Some((size - n.min(size), n.min(size))),
            _ => None,
        }
    }
}

fn parse_range(v: &[u8]) -> Option<Range> {
    let v = std::str::from_utf8(v).ok()?.trim().strip_prefix("bytes=")?;
    let (a, b) = v.split_once('-')?;
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    match (a.is_empty(), b.is_empty()) {
        (false, false) => Some(Range::FromTo(num(a)?, num(b)?)),
        (false, true) => Some(Range::From(num(a)?)),
        (true, false) => Some(Range::Last(num(b)?)),
        (true, true) => None,
    }
}

/// A complete GET/HEAD head with no body, no conditionals, one Host and at most one simple
/// range; anything else is actix's.
fn parse(buf: &[u8]) -> Option<Request> {
    let mut fields = [httparse::EMPTY_HEADER; FIELDS];
    let mut req = httparse::Request::new(&mut fields);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return None,
    };
    let head = match req.method? {
        "GET" => false,
        "HEAD" => true,
        _ => return None,
    };
    let http11 = req.version? == 1;
    let path = req.path?;
    if !path.starts_with('/') || path.contains(['?', '%', '#']) {
        return None;
    }
    let mut close = !http11;
    let mut range = None;
    let mut hosts = 0;
    for f in req.headers.iter() {
        let name = f.name.to_ascii_lowercase();
        if !f.value.is_ascii() {
            return None;
        }
        match name.as_str() {
            "host" => hosts += 1,
            "connection" => {
                for t in std::str::from_utf8(f.value).ok()?.split(',') {
                    match t.trim().to_ascii_lowercase().as_str() {
                        "close" => close = true,
                        "keep-alive" => close = false,
                        _ => {}
                    }
                }
            }
            "range" if range.is_none() => range = Some(parse_range(f.value)?),
            "range" | "content-length" | "transfer-encoding" | "expect" | "upgrade" => return None,
            n if n.starts_with("if-") => return None,
            _ => {}
        }
    }
    if hosts > 1 || (http11 && hosts == 0) || (head && range.is_some()) {
        return None;
    }
    Some(Request {
        head_len,
        head,
        path: path.to_string(),
        range,
        close,
    })
}

enum Body {
    Bytes(Vec<u8>),
    Static(&'static [u8]),
    File(std::fs::File),
}

struct Answer {
    status: u16,
    content_type: String,
    /// Extra header lines, each ending in CRLF.
    fields: String,
    /// (offset, length) of the body within `body`.
    span: (u64, u64),
    body: Body,
}

impl Answer {
    fn text(status: u16, text: String) -> Answer {
        Answer {
            status,
            content_type: "text/plain".into(),
            fields: String::new(),
            span: (0, text.len() as u64),
            body: Body::Bytes(text.into_bytes()),
        }
    }
}

/// What the fast path answers to `req`, or `None` to leave it to actix.
async fn answer(boot: &Boot, peer: Option<SocketAddr>, req: &Request) -> Option<Answer> {
    let path = req.path.as_str();
    if path == "/boot.ipxe" {
        let script = super::templates::render("boot.ipxe", &[("base", &boot.base_url())]).ok()?;
        return (req.range.is_none()).then(|| Answer::text(200, script));
    }
    if let Some(name) = path.strip_prefix("/ipxe/") {
        if let Some(mac) = crate::model::mac::Mac::parse_lenient(name) {
            if req.range.is_some() {
                return None;
            }
            return Some(match mac_script(boot, peer, &mac.to_string()).await {
                Ok(s) => Answer::text(200, s),
                Err(e) => Answer::text(500, e),
            });
        }
        return match find_program(&boot.ipxe_dir, name)? {
            Program::File(p) => file(&p, req.range),
            Program::Embedded(bytes) if req.range.is_none() => Some(Answer {
                status: 200,
                content_type: "application/octet-stream".into(),
                fields: String::new(),
                span: (0, bytes.len() as u64),
                body: Body::Static(bytes),
            }),
            Program::Embedded(_) => None,
        };
    }
    let (full, rel) = if let Some(rel) = path.strip_prefix("/files/") {
        let rel = safe_path(rel)?;
        (boot.http_root.join(&rel), rel)
    } else if let Some(name) = path.strip_prefix("/images/") {
        if !image_name(name) {
            return None;
        }
        (boot.image_dir.join(name), PathBuf::from(name))
    } else {
        return None;
    };
    let a = file(&full, req.range)?;
    let method = if req.head { "HEAD" } else { "GET" };
    let range = req.range.map(|r| format!("{r:?}"));
    file_served(
        boot,
        peer,
        &format!("{method} {path}"),
        &rel,
        a.size(),
        range.as_deref(),
    );
    Some(a)
}

impl Answer {
    /// The whole file's size (what actix's log line gives).
    fn size(&self) -> u64 {
        match &self.body {
            Body::File(f) => f.metadata().map(|m| m.len()).unwrap_or(self.span.1),
            _ => self.span.1,
        }
    }
}

/// A regular file with the headers actix's `NamedFile` gives it (type, ETag,
/// Last-Modified, ranges).
fn file(path: &Path, range: Option<Range>) -> Option<Answer> {
    use std::os::unix::fs::MetadataExt as _;
    let f = std::fs::File::open(path).ok()?;
    let md = f.metadata().ok()?;
    if !md.is_file() {
        return None;
    }
    let size = md.len();
    let content_type = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| {
            actix_files::file_extension_to_mime(e)
                .essence_str()
                .to_string()
        })
        .unwrap_or_else(|| "application/octet-stream".into());
    let mut fields = String::from("accept-ranges: bytes\r\n");
    if let Some(mtime) = md
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
    {
        let when = std::time::UNIX_EPOCH + Duration::from_secs(mtime.as_secs());
        fields.push_str(&format!(
            "etag: \"{:x}:{:x}:{:x}:{:x}\"\r\nlast-modified: {}\r\n",
            md.ino(),
            size,
            mtime.as_secs(),
            mtime.subsec_nanos(),
            actix_web::http::header::HttpDate::from(when)
        ));
    }
    let (status, span) = match range {
        None => (200, (0, size)),
        Some(r) => {
            let (off, len) = r.within(size)?;
            fields.push_str(&format!(
                "content-range: bytes {}-{}/{size}\r\n",
                off,
                off + len - 1
            ));
            (206, (off, len))
        }
    };
    Some(Answer {
        status,
        content_type,
        fields,
        span,
        body: Body::File(f),
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        _ => "Internal Server Error",
    }
}

/// Write the answer: head and small bodies in one write, files by sendfile(2).
async fn send(stream: &mut TcpStream, req: &Request, a: Answer) -> io::Result<()> {
    let (off, len) = a.span;
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-length: {len}\r\ncontent-type: {}\r\n{}{}\r\n",
        a.status,
        reason(a.status),
        a.content_type,
        a.fields,
        if req.close {
            "connection: close\r\n"
        } else {
            ""
        },
    )
    .into_bytes();
    if req.head {
        return stream.write_all(&out).await;
    }
    match a.body {
        Body::Bytes(b) => {
            out.extend_from_slice(&b);
            stream.write_all(&out).await
        }
        Body::Static(b) => {
            out.extend_from_slice(b);
            stream.write_all(&out).await
        }
        Body::File(f) => {
            // MSG_MORE: the head leaves in the first data segment, not one of its own.
            send_more(stream, &out).await?;
            send_file(stream, &f, off, len).await
        }
    }
}

/// Write all of `bytes` with MSG_MORE (more follows at once: the kernel holds a partial
/// segment back for it).
async fn send_more(stream: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        stream.writable().await?;
        let sent = stream.try_io(Interest::WRITABLE, || {
            // SAFETY: `rest` is valid for reading `rest.len()` bytes during the call.
            let rc = unsafe {
                libc::send(
                    stream.as_raw_fd(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    libc::MSG_MORE | libc::MSG_NOSIGNAL,
                )
            };
            if rc < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(rc.unsigned_abs())
            }
        });
        match sent {
            Ok(n) => rest = rest.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `len` bytes of `file` from `off` onto the socket, waiting whenever its buffer is full.
async fn send_file(stream: &TcpStream, file: &std::fs::File, off: u64, len: u64) -> io::Result<()> {
    let mut pos = libc::off_t::try_from(off).map_err(io::Error::other)?;
    let mut left = len;
    while left > 0 {
        // The kernel sends at most ~2 GiB per call.
        let count = usize::try_from(left.min(1 << 30)).unwrap_or(1 << 30);
        stream.writable().await?;
        let sent = stream.try_io(Interest::WRITABLE, || {
            // SAFETY: both descriptors stay open for the call; `pos` is a valid off_t that
            // the kernel advances by what it sent.
            let rc =
                unsafe { libc::sendfile(stream.as_raw_fd(), file.as_raw_fd(), &mut pos, count) };
            if rc < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(rc.unsigned_abs())
            }
        });
        match sent {
            // The file shrank under us: the client gets a short body and a closed connection.
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => left = left.saturating_sub(n as u64),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(b"bytes=0-99"), Some(Range::FromTo(0, 99)));
        assert_eq!(parse_range(b"bytes=10-"), Some(Range::From(10)));
        assert_eq!(parse_range(b"bytes=-5"), Some(Range::Last(5)));
        for bad in [
            &b"bytes=-"[..],
            b"bytes=1-2,4-5",
            b"items=1-2",
            b"bytes=a-b",
            b"bytes=+1-2",
        ] {
            assert_eq!(parse_range(bad), None, "{bad:?}");
        }
        assert_eq!(Range::FromTo(0, 99).within(50), Some((0, 50)));
        assert_eq!(Range::FromTo(10, 9).within(50), None);
        assert_eq!(Range::From(50).within(50), None);
        assert_eq!(Range::Last(80).within(50), Some((0, 50)));
        assert_eq!(Range::Last(0).within(50), None);
        assert_eq!(Range::Last(1).within(0), None);
    }

    #[test]
    fn only_simple_heads_are_taken() {
        let r = parse(b"GET /files/a HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\n\r\n").unwrap();
        assert_eq!(
            (r.path.as_str(), r.range, r.close),
            ("/files/a", Some(Range::FromTo(1, 2)), false)
        );
        assert!(parse(b"HEAD /boot.ipxe HTTP/1.0\r\n\r\n").unwrap().close);
        let ka = parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        assert!(!ka.close);
        for left in [
            &b"GET /files/a HTTP/1.1\r\nHost: x\r\n"[..],
            b"GET /files/a HTTP/1.1\r\n\r\n",
            b"GET /files/a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
            b"POST /files/a HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /files/a?x HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /files/%2e HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /files/a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            b"GET /files/a HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"a\"\r\n\r\n",
            b"GET /files/a HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\nRange: bytes=3-4\r\n\r\n",
            b"HEAD /files/a HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\n\r\n",
            b"GET /files/a HTTP/1.1\r\nHost: x\r\nX: \xc3\xa9\r\n\r\n",
        ] {
            assert_eq!(parse(left), None, "{}", String::from_utf8_lossy(left));
        }
    }
}
