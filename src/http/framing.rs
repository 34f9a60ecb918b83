//! The framing gate: checks the HTTP/1 byte stream of one connection before actix-http
//! parses it, so that a request actix would refuse with a bare, bodiless 400/431 (bad or
//! duplicate `Content-Length`, `Transfer-Encoding` that is not `chunked`, both at once, bad
//! chunk framing, a request line or head over the limits, a URI `http::Uri` rejects) is
//! refused here instead, with a body the server's owner renders ([`Render`]: Ironic's error
//! body for the API). actix-http writes those responses itself, with no hook, so the check
//! has to sit in front of it.
//!
//! [`Gate`] is pure: bytes in, bytes released to actix out, or a [`Rejection`]. It mirrors
//! actix-http 3's own head checks (`h1/decoder.rs`) and chunk parser (`h1/chunked.rs`) and is
//! at least as strict, so actix never sees input it would refuse. It follows body boundaries
//! (`Content-Length`, chunked) to find each pipelined head. The socket side is in [`io`].

pub mod io;

use actix_web::http::{Method, StatusCode, Uri};

/// Size limits on a request head, as Ironic's eventlet/oslo.service server had them.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest request line (method, URI with query string, version): longer is 414.
    pub request_line: usize,
    /// Longest single header line: longer is 431.
    pub header_line: usize,
    /// Largest whole head: larger is 431.
    pub head: usize,
    /// Most header fields: more is 431. actix-http's own parser stops at 96.
    pub headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_line: 8 * 1024,
            header_line: 16 * 1024,
            head: 64 * 1024,
            headers: MAX_HEADERS,
        }
    }
}

const NOT_URL_CHARACTERS: &str =
    "Invalid URL: it contains bytes that are not URL characters (non-ASCII bytes must be percent-encoded).";

/// actix-http's header array size: a head with more fields gets its bare 431.
const MAX_HEADERS: usize = 96;

/// Why a connection's input was cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: StatusCode,
    pub message: String,
    /// Whether the gate answers: true for a bad head (actix never saw the request); false
    /// inside a body, where actix already has the request and answers it (its body reader
    /// sees the body end early).
    pub answer: bool,
}

impl Rejection {
    fn head(status: StatusCode, message: impl Into<String>) -> Self {
        Rejection {
            status,
            message: message.into(),
            answer: true,
        }
    }
    fn bad(message: impl Into<String>) -> Self {
        Self::head(StatusCode::BAD_REQUEST, message)
    }
    fn body(message: impl Into<String>) -> Self {
        Rejection {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            answer: false,
        }
    }

    /// The whole HTTP/1.1 response to this refusal: status line, `content-type`,
    /// `content-length`, `connection: close`, then `headers` and `body`. For a [`Render`].
    pub fn http_response(
        &self,
        content_type: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or(""),
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        out
    }
}

/// How a server's owner words a refusal: the whole response, usually through
/// [`Rejection::http_response`] (the API: Ironic's error body and version headers).
pub type Render = fn(&Rejection) -> Vec<u8>;

/// Where the gate is in the byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Collecting a request head (held back from actix until it is whole and valid).
    Head,
    /// Inside a `Content-Length` body: this many bytes left.
    Length(u64),
    /// Inside a chunked body.
    Chunked(Chunk),
    /// After an upgrade or CONNECT head: actix reads to EOF, nothing more to check.
    Passthrough,
    /// The last request asked to close: actix reads nothing more, so neither do we.
    Closing,
    /// Input refused; nothing more is released.
    Stopped,
}

/// Chunked-body states, as actix-http's `ChunkedState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    SizeFirst,
    SizeRest(u64),
    SizeLws(u64),
    Extension(u64),
    SizeLf(u64),
    Body(u64),
    BodyCr,
    BodyLf,
    Trailer(usize),
    TrailerLf,
    EndCr,
    EndLf,
}

/// Whether httparse's refusal of `buf` (a request-line token error) is over non-ASCII
/// bytes: looked for in the token it stopped in, up to the byte it stopped at (the end of
/// the shortest refused prefix; a refused prefix stays refused however it goes on), never
/// in what follows, so the message does not depend on how much had arrived.
fn refused_over_non_ascii(buf: &[u8]) -> bool {
    let refused = |n: usize| {
        let mut headers = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
        httparse::Request::new(&mut headers)
            .parse(buf.get(..n).unwrap_or_default())
            .is_err()
    };
    let (mut ok, mut bad) = (0, buf.len());
    while bad - ok > 1 {
        let mid = ok + (bad - ok) / 2;
        if refused(mid) {
            bad = mid;
        } else {
            ok = mid;
        }
    }
    let Some((last, before)) = buf.get(..bad).and_then(<[u8]>::split_last) else {
        return false;
    };
    let token = before
        .rsplit(|b| *b == b' ' || *b == b'\n')
        .next()
        .unwrap_or_default();
    *last >= 0x80 || token.iter().any(|b| *b >= 0x80)
}

/// One connection's gate.
#[derive(Debug)]
pub struct Gate {
    limits: Limits,
    state: State,
    /// The head being collected.
    head: Vec<u8>,
    /// Whether the connection stays open after the current request (HTTP/1.1 default).
    keep_alive: bool,
    /// Whether a head has been released yet.
    started: bool,
    /// Where the current line of the head starts, and whether the request line is behind.
    line_start: usize,
    request_line_done: bool,
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new(Limits::default())
    }
}

impl Gate {
    pub fn new(limits: Limits) -> Self {
        Gate {
            limits,
            state: State::Head,
            head: Vec::new(),
            keep_alive: true,
            started: false,
            line_start: 0,
            request_line_done: false,
        }
    }

    /// Whether part of a head is waiting (for the request timeout: a client that started a
    /// request and stalls gets an answer).
    pub fn mid_head(&self) -> bool {
        self.state == State::Head && !self.head.is_empty()
    }

    /// Whether no request has started yet on this connection (the first head's deadline
    /// runs from the connection's start).
    pub fn at_start(&self) -> bool {
        self.state == State::Head && self.head.is_empty() && !self.started
    }

    /// Take `input` (bytes read from the client); append to `out` what actix may now read.
    /// After an `Err`, nothing more is ever released.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), Rejection> {
        while !input.is_empty() {
            let used = match self.state.clone() {
                State::Stopped | State::Closing => return Ok(()),
                State::Passthrough => {
                    out.extend_from_slice(input);
                    Ok(input.len())
                }
                State::Head => self.feed_head(input, out),
                State::Length(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    out.extend_from_slice(input.get(..n).unwrap_or_default());
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        self.next_request()
                    } else {
                        State::Length(left)
                    };
                    Ok(n)
                }
                State::Chunked(c) => self.feed_chunked(c, input, out),
            };
            let used = match used {
                Ok(n) => n,
                Err(r) => {
                    self.state = State::Stopped;
                    self.head = Vec::new();
                    return Err(r);
                }
            };
            input = input.get(used..).unwrap_or_default();
        }
        Ok(())
    }

    fn next_request(&self) -> State {
        if self.keep_alive {
            State::Head
        } else {
            State::Closing
        }
    }

    /// Collect head bytes; once the head is whole and valid, release it and move to its body.
    fn feed_head(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Rejection> {
        // Take at most what could still belong to a head within the limit; if the head is
        // complete, the bytes after it are given back below.
        let room = (self.limits.head + 1).saturating_sub(self.head.len());
        let take = input.len().min(room.max(1));
        let before = self.head.len();
        self.head
            .extend_from_slice(input.get(..take).unwrap_or_default());
        // Line limits are kept as bytes arrive, and the head is parsed only when a line
        // ends (or a head starts), so a client trickling bytes costs linear time.
        let mut newline = false;
        let mut ended = false;
        for i in before..self.head.len() {
            if self.head.get(i) != Some(&b'\n') {
                continue;
            }
            newline = true;
            let line = i - self.line_start;
            let empty = line == 0 || (line == 1 && self.head.get(i - 1) == Some(&b'\r'));
            self.line_start = i + 1;
            if empty && self.request_line_done {
                ended = true;
                break; // the end of the head: what follows is body or the next request
            }
            if !empty {
                self.check_line(line)?;
                self.request_line_done = true;
            }
        }
        if !ended && self.head.len() > self.line_start {
            self.check_line(self.head.len() - self.line_start)?;
        }
        if !newline && before > 0 && self.head.len() <= self.limits.head {
            return Ok(take);
        }
        match self.check_head()? {
            Some((len, next)) => {
                let used = len.saturating_sub(before);
                self.head.truncate(len);
                out.append(&mut self.head);
                self.line_start = 0;
                self.request_line_done = false;
                self.state = next;
                self.started = true;
                Ok(used)
            }
            None => Ok(take),
        }
    }

    /// A line of `len` bytes: the request line (414 when too long) or a header line (431).
    fn check_line(&self, len: usize) -> Result<(), Rejection> {
        if !self.request_line_done && len > self.limits.request_line {
            return Err(Rejection::head(
                StatusCode::URI_TOO_LONG,
                format!(
                    "The request line is longer than {} bytes; the URL or its query string is too long.",
                    self.limits.request_line
                ),
            ));
        }
        if self.request_line_done && len > self.limits.header_line {
            return Err(Rejection::head(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!(
                    "A request header line is longer than {} bytes.",
                    self.limits.header_line
                ),
            ));
        }
        Ok(())
    }

    /// The head so far: `None` if incomplete and within limits, else its length and the state
    /// its body puts the gate in.
    fn check_head(&mut self) -> Result<Option<(usize, State)>, Rejection> {
        let mut headers = vec![httparse::EMPTY_HEADER; self.limits.headers.min(MAX_HEADERS)];
        let mut req = httparse::Request::new(&mut headers);
        let buf = self.head.as_slice();
        let parsed = req.parse(buf);
        let too_large =
            |what: String| Rejection::head(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, what);
        let len = match parsed {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => {
                if buf.len() > self.limits.head {
                    return Err(too_large(format!(
                        "The request head is larger than {} bytes.",
                        self.limits.head
                    )));
                }
                return Ok(None);
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(too_large(format!(
                    "The request has more than {} header fields.",
                    self.limits.headers.min(MAX_HEADERS)
                )))
            }
            Err(httparse::Error::Version) => {
                return Err(Rejection::bad(
                    "Malformed request line: expected HTTP/1.0 or HTTP/1.1.",
                ))
            }
            Err(httparse::Error::Token) => {
                if refused_over_non_ascii(buf) {
                    return Err(Rejection::bad(NOT_URL_CHARACTERS));
                }
                return Err(Rejection::bad(
                    "Malformed request line: expected METHOD SP URL SP HTTP-version.",
                ));
            }
            Err(e) => return Err(Rejection::bad(format!("Malformed request header: {e}."))),
        };
        if len > self.limits.head {
            return Err(too_large(format!(
                "The request head is larger than {} bytes.",
                self.limits.head
            )));
        }
        let method = req
            .method
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
            .ok_or_else(|| Rejection::bad("Malformed request line: invalid method."))?;
        let path = req.path.unwrap_or_default();
        if path.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
            return Err(Rejection::bad(NOT_URL_CHARACTERS));
        }
        Uri::try_from(path).map_err(|e| Rejection::bad(format!("Invalid URL: {e}.")))?;
        let http11 = req.version == Some(1);
        let body = framing(&method, http11, req.headers)?;
        let keep = keep_alive(http11, req.headers);
        self.keep_alive = keep;
        let next = match body {
            Body::None => self.next_request(),
            Body::Length(n) => State::Length(n),
            Body::Chunked => State::Chunked(Chunk::SizeFirst),
            Body::ToEof => State::Passthrough,
        };
        Ok(Some((len, next)))
    }

    fn feed_chunked(
        &mut self,
        c: Chunk,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, Rejection> {
        use Chunk::*;
        let Some(&b) = input.first() else {
            return Ok(0);
        };
        let bad = |what: &str| Err(Rejection::body(format!("Invalid chunked body: {what}.")));
        let next = match c {
            Body(left) => {
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                out.extend_from_slice(input.get(..n).unwrap_or_default());
                let left = left - n as u64;
                self.state = State::Chunked(if left == 0 { BodyCr } else { Body(left) });
                return Ok(n);
            }
            SizeFirst => match hex(b) {
                Some(d) => SizeRest(d),
                None => return bad("a chunk size must start with a hex digit"),
            },
            SizeRest(size) => match b {
                b'\t' | b' ' => SizeLws(size),
                b';' => Extension(size),
                b'\r' => SizeLf(size),
                _ => match hex(b).and_then(|d| size.checked_mul(16)?.checked_add(d)) {
                    Some(s) => SizeRest(s),
                    None => return bad("invalid or too large chunk size"),
                },
            },
            SizeLws(size) => match b {
                b'\t' | b' ' => SizeLws(size),
                b';' => Extension(size),
                b'\r' => SizeLf(size),
                _ => return bad("unexpected byte after the chunk size"),
            },
            Extension(size) => match b {
                b'\r' => SizeLf(size),
                0x00..=0x08 | 0x0a..=0x1f | 0x7f => {
                    return bad("control character in a chunk extension")
                }
                _ => Extension(size),
            },
            SizeLf(size) => match b {
                b'\n' if size > 0 => Body(size),
                b'\n' => EndCr,
                _ => return bad("a chunk size line must end with CRLF"),
            },
            BodyCr => match b {
                b'\r' => BodyLf,
                _ => return bad("chunk data longer than its size"),
            },
            BodyLf => match b {
                b'\n' => SizeFirst,
                _ => return bad("chunk data must end with CRLF"),
            },
            Trailer(n) => match b {
                b'\r' => TrailerLf,
                _ if n >= self.limits.header_line => return bad("trailer line too long"),
                _ => Trailer(n + 1),
            },
            TrailerLf => match b {
                b'\n' => EndCr,
                _ => return bad("a trailer line must end with CRLF"),
            },
            EndCr => match b {
                b'\r' => EndLf,
                _ => Trailer(1),
            },
            EndLf => match b {
                b'\n' => {
                    out.push(b);
                    self.state = self.next_request();
                    return Ok(1);
                }
                _ => return bad("the last chunk must end with CRLF"),
            },
        };
        out.push(b);
        self.state = State::Chunked(next);
        Ok(1)
    }
}

fn hex(b: u8) -> Option<u64> {
    (b as char).to_digit(16).map(u64::from)
}

/// How the body after a head is delimited.
enum Body {
    None,
    Length(u64),
    Chunked,
    ToEof,
}

/// The body framing of a head, with actix-http's checks (`MessageType::set_headers` and
/// `Request::decode`), each refusal worded for the client.
fn framing(method: &Method, http11: bool, headers: &[httparse::Header]) -> Result<Body, Rejection> {
    let named = |name: &'static str| {
        headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    if named("host").count() > 1 {
        return Err(Rejection::bad("More than one Host header."));
    }
    if http11 && named("host").next().is_none() {
        return Err(Rejection::bad(
            "An HTTP/1.1 request must have a Host header.",
        ));
    }
    let mut lengths = named("content-length");
    let length = match (lengths.next(), lengths.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => {
            return Err(Rejection::bad(
                "More than one Content-Length header; a request has one length.",
            ))
        }
        (Some(v), None) => {
            let shown =
                String::from_utf8_lossy(v.get(..v.len().min(40)).unwrap_or_default()).into_owned();
            let invalid = || {
                Rejection::bad(format!(
                    "Invalid Content-Length {shown:?}: it must be a non-negative decimal integer."
                ))
            };
            let s = text(v).map(str::trim).ok_or_else(invalid)?;
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            Some(s.parse::<u64>().map_err(|_| {
                Rejection::bad(format!(
                    "Invalid Content-Length {shown:?}: the number is too large."
                ))
            })?)
        }
    };
    let mut encodings = named("transfer-encoding");
    let chunked = match (encodings.next(), encodings.next()) {
        (None, _) => false,
        (Some(_), Some(_)) => {
            return Err(Rejection::bad("More than one Transfer-Encoding header."))
        }
        (Some(_), None) if !http11 => {
            return Err(Rejection::bad(
                "Transfer-Encoding is not allowed in an HTTP/1.0 request.",
            ))
        }
        (Some(v), None) => {
            if !text(v).is_some_and(|s| s.trim().eq_ignore_ascii_case("chunked")) {
                // 400 rather than RFC 9112's 501: the client sent what cannot be read, and
                // Ironic's body would call a 5xx a server fault.
                return Err(Rejection::bad(
                    "Unsupported Transfer-Encoding: only \"chunked\" is accepted.",
                ));
            }
            if length.is_some() {
                return Err(Rejection::bad(
                    "A request cannot have both Content-Length and Transfer-Encoding.",
                ));
            }
            true
        }
    };
    let websocket = named("upgrade")
        .any(|v| text(v).is_some_and(|s| s.trim().eq_ignore_ascii_case("websocket")));
    if !http11 && *method == Method::POST && length.is_none() {
        return Err(Rejection::head(
            StatusCode::LENGTH_REQUIRED,
            "An HTTP/1.0 POST request must have a Content-Length header.",
        ));
    }
    Ok(if chunked {
        Body::Chunked
    } else if websocket {
        Body::ToEof
    } else {
        match length {
            Some(0) | None if *method == Method::CONNECT => Body::ToEof,
            Some(0) | None => Body::None,
            Some(n) => Body::Length(n),
        }
    })
}

/// A header value as text, if it is ASCII.
fn text(v: &[u8]) -> Option<&str> {
    std::str::from_utf8(v).ok().filter(|s| s.is_ascii())
}

/// Whether actix keeps the connection open after this request.
fn keep_alive(http11: bool, headers: &[httparse::Header]) -> bool {
    let mut keep = http11;
    for h in headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
    {
        let Ok(v) = std::str::from_utf8(h.value) else {
            continue;
        };
        for opt in v.split(',').map(str::trim) {
            if opt.eq_ignore_ascii_case("close") {
                return false;
            }
            if opt.eq_ignore_ascii_case("keep-alive") {
                keep = true;
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests;
