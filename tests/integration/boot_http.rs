//! The boot HTTP server's sendfile fast path through the real binary on loopback (DHCP off):
//! a large file whole, in ranges and by HEAD, several requests on one kept-alive
//! connection, clients that vanish mid-download, and the requests the fast path leaves to
//! actix (conditional, unsatisfiable or multi-part ranges, missing files) still answered
//! as before — the ETag the fast path gives is the one actix's conditional check accepts.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::Ironbox;
use crate::metrics::sample;

/// One response read off a connection: status, lower-cased headers, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Read one response (`head`: a HEAD request, so no body whatever content-length says).
fn read_answer(s: &mut TcpStream, head: bool) -> Answer {
    let mut buf = vec![];
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "closed mid-head: {buf:?}");
        buf.push(byte[0]);
    }
    let text = String::from_utf8(buf).unwrap();
    let mut lines = text.trim_end().split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0u8; if head { 0 } else { len }];
    s.read_exact(&mut body).unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

fn get(addr: &str, path: &str, extra: &str) -> Answer {
    let mut s = connect(addr);
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    read_answer(&mut s, false)
}

#[test]
fn boot_files_over_sendfile() {
    let root = tempfile::tempdir().unwrap();
    let blob: Vec<u8> = (0..24u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(root.path().join("initrd.img"), &blob).unwrap();
    let ib = Ironbox::start_with(&format!(
        "[dhcp]\ninterface = \"lo\"\nmode = \"off\"\n[pxe]\nhttp_port = 0\ntftp_port = 0\nhttp_root = \"{}\"\n",
        root.path().display()
    ));
    let endpoints: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ib.data().join("endpoints.json")).unwrap())
            .unwrap();
    let addr = endpoints["http_boot"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .to_string();
    let path = "/files/initrd.img";

    // Whole, with NamedFile's headers.
    let whole = get(&addr, path, "");
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body.len(), blob.len());
    assert!(whole.body == blob, "body differs");
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert!(whole.header("last-modified").is_some());
    let etag = whole.header("etag").unwrap().to_string();
    // The fast path answered (actix's responses carry a `date` header; it writes none).
    assert_eq!(
        whole.header("date"),
        None,
        "answered by actix, not the fast path"
    );

    // Ranges: a-b, a-, -n; the body is exactly that slice.
    let n = blob.len();
    for (range, from, to) in [
        ("bytes=1000-1999", 1000, 2000),
        (&format!("bytes={}-", n - 10) as &str, n - 10, n),
        ("bytes=-4096", n - 4096, n),
        (&format!("bytes=5-{}", n + 100), 5, n),
    ] {
        let a = get(&addr, path, &format!("Range: {range}\r\n"));
        assert_eq!(a.status, 206, "{range}");
        assert_eq!(
            a.header("content-range"),
            Some(format!("bytes {}-{}/{n}", from, to - 1).as_str()),
            "{range}"
        );
        assert!(a.body == blob[from..to], "{range}: body differs");
    }

    // Left to actix, answered as before: unsatisfiable and multi-part ranges, a
    // conditional GET with the fast path's own ETag, a missing file, a traversal.
    assert_eq!(
        get(&addr, path, &format!("Range: bytes={n}-\r\n")).status,
        416
    );
    let multi = get(&addr, path, "Range: bytes=0-1,5-6\r\n");
    assert!(
        multi.status == 206 || multi.status == 200,
        "{}",
        multi.status
    );
    assert_eq!(
        get(&addr, path, &format!("If-None-Match: {etag}\r\n")).status,
        304,
        "actix does not accept the fast path's ETag {etag}"
    );
    assert_eq!(get(&addr, "/files/nope", "").status, 404);
    assert_eq!(get(&addr, "/files/../ironic.toml", "").status, 400);

    // HEAD, then GETs and a range on the same kept-alive connection, then the boot script.
    let mut s = connect(&addr);
    write!(s, "HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let head = read_answer(&mut s, true);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(n.to_string().as_str()));
    for _ in 0..2 {
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let a = read_answer(&mut s, false);
        assert_eq!(a.status, 200);
        assert!(a.body == blob);
    }
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nRange: bytes=7-9\r\n\r\nGET /boot.ipxe HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let a = read_answer(&mut s, false);
    assert_eq!((a.status, a.body.as_slice()), (206, &blob[7..10]));
    let script = read_answer(&mut s, false);
    assert_eq!(script.status, 200);
    assert!(script.body.starts_with(b"#!ipxe"));
    // A request for actix on the same connection after fast-path answers (a conditional).
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    assert_eq!(read_answer(&mut s, false).status, 304);

    // Clients that vanish mid-download (read a little, then reset or just close) cost the
    // server nothing lasting: it keeps serving the whole file to the next one.
    let vanished: Vec<TcpStream> = (0..16)
        .map(|i| {
            let mut s = connect(&addr);
            write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut some = [0u8; 4096];
            s.read_exact(&mut some).unwrap();
            if i % 2 == 0 {
                // SO_LINGER 0: close sends a reset.
                socket2::SockRef::from(&s)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
            }
            s
        })
        .collect();
    drop(vanished);
    let again = get(&addr, path, "");
    assert_eq!(again.status, 200);
    assert!(again.body == blob, "body differs after aborted downloads");

    // Counted as boot file requests: 1 + 4 + 2 (HEAD, GETs) + 1 + 1 + 16 + 1 at least served.
    let r = ib.req("GET", "/metrics", None, None);
    let text = r.body.as_str().unwrap_or_default().to_string();
    let served = sample(
        &text,
        "ironbox_http_boot_requests_total",
        &[("result", "served")],
    )
    .unwrap_or(0.0);
    assert!(served >= 26.0, "served = {served}: {text}");
    let errors = sample(
        &text,
        "ironbox_http_boot_requests_total",
        &[("result", "error")],
    )
    .unwrap_or(0.0);
    assert_eq!(errors, 0.0);
}

/// TFTP downloads are bounded by `[pxe] tftp_max_transfers`: one more read request gets a
/// TFTP ERROR "server busy", counted in `ironbox_tftp_transfers_total{result="busy"}`, and
/// is served once a slot is free.
#[test]
fn tftp_refuses_over_its_bound_and_counts_it() {
    use std::net::UdpSocket;
    let dir = tempfile::tempdir().unwrap();
    let program: Vec<u8> = (0..64u32 << 10).map(|i| (i * 7) as u8).collect();
    std::fs::write(dir.path().join("undionly.kpxe"), &program).unwrap();
    let ib = Ironbox::start_with(&format!(
        "[dhcp]\ninterface = \"lo\"\nmode = \"off\"\n[pxe]\nhttp_port = 0\ntftp_port = 0\ntftp_max_transfers = 1\nipxe_dir = \"{}\"\n",
        dir.path().display()
    ));
    let endpoints: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ib.data().join("endpoints.json")).unwrap())
            .unwrap();
    let server = endpoints["tftp"].as_str().unwrap().to_string();
    let rrq = b"\0\x01undionly.kpxe\0octet\0";
    let client = || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };
    let mut buf = [0u8; 1024];
    // The first download takes the only slot (its first block stays unacknowledged).
    let a = client();
    a.send_to(rrq, &server).unwrap();
    let (n, from) = a.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..4], b"\0\x03\0\x01", "{:?}", &buf[..n]);
    let mut got = buf[4..n].to_vec();
    // The second is refused, and told why.
    let b = client();
    b.send_to(rrq, &server).unwrap();
    let (n, _) = b.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..2], b"\0\x05", "{:?}", &buf[..n]);
    let msg = String::from_utf8_lossy(&buf[4..n]).to_lowercase();
    assert!(msg.contains("busy"), "{msg}");
    let text = ib.req("GET", "/metrics", None, None).body;
    let busy = sample(
        text.as_str().unwrap_or_default(),
        "ironbox_tftp_transfers_total",
        &[("result", "busy")],
    );
    assert_eq!(busy, Some(1.0), "{text}");
    // Finish the first (lock-step, 512-byte blocks), then the second gets the file.
    let mut block = 1u16;
    let mut last = got.len();
    while last == 512 {
        a.send_to(&[0, 4, (block >> 8) as u8, block as u8], from)
            .unwrap();
        let (n, _) = a.recv_from(&mut buf).unwrap();
        block += 1;
        assert_eq!(&buf[..4], &[0, 3, (block >> 8) as u8, block as u8]);
        got.extend_from_slice(&buf[4..n]);
        last = n - 4;
    }
    a.send_to(&[0, 4, (block >> 8) as u8, block as u8], from)
        .unwrap();
    assert!(got == program, "first download differs");
    // The slot is freed once the server has seen the last ACK (asynchronously): a request
    // right after it may still be told "busy"; one within a few seconds is served.
    let began = std::time::Instant::now();
    loop {
        let c = client();
        c.send_to(rrq, &server).unwrap();
        let (_, _) = c.recv_from(&mut buf).unwrap();
        if &buf[..4] == b"\0\x03\0\x01" {
            break;
        }
        assert_eq!(&buf[..2], b"\0\x05");
        assert!(began.elapsed() < Duration::from_secs(5), "still busy");
        std::thread::sleep(Duration::from_millis(50));
    }
}
