//! Malformed HTTP at the byte level, sent over raw sockets (no client library to tidy the
//! request up): every refusal, including those made before any handler runs, has the right
//! status, Ironic's double-encoded error body, `Content-Type: application/json` and the
//! microversion headers; pipelined good requests before a bad one are still answered.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::harness::Ironbox;

const N: &str = "11111111-2222-3333-4444-555555555555";
const H: &str = "Host: x\r\nX-OpenStack-Ironic-API-Version: latest\r\n";

/// One response off the wire.
#[derive(Debug)]
struct Wire {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Wire {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The inner error document, after checking the outer shape and the headers every
    /// error must have.
    fn error(&self) -> Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        for h in [
            "x-openstack-ironic-api-minimum-version",
            "x-openstack-ironic-api-maximum-version",
            "x-openstack-ironic-api-version",
        ] {
            assert!(self.header(h).is_some(), "no {h}: {self:?}");
        }
        let outer: Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {self:?}"));
        let inner = outer["error_message"]
            .as_str()
            .unwrap_or_else(|| panic!("no error_message string: {outer}"));
        serde_json::from_str(inner).expect("error_message holds JSON")
    }

    /// The faultstring (or, for routing errors, the description), checked to be a 4xx
    /// client fault.
    fn fault(&self) -> String {
        let e = self.error();
        if let Some(f) = e.get("faultstring") {
            assert_eq!(e["faultcode"], "Client", "{e}");
            assert!(e["debuginfo"].is_null(), "{e}");
            f.as_str().unwrap().to_string()
        } else {
            assert_eq!(e["code"], self.status, "{e}");
            e["description"].as_str().unwrap().to_string()
        }
    }
}

fn addr(ib: &Ironbox) -> String {
    ib.url.trim_start_matches("http://").to_string()
}

/// Write `raw`, then read every response until the server closes the connection.
fn exchange(ib: &Ironbox, raw: &[u8]) -> Vec<Wire> {
    exchange_at(&addr(ib), raw)
}

fn exchange_at(addr: &str, raw: &[u8]) -> Vec<Wire> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // Written from another thread: the server may answer (and close) before reading it all.
    let mut w = s.try_clone().unwrap();
    let raw = raw.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&raw);
    });
    let mut buf = vec![];
    s.read_to_end(&mut buf).unwrap();
    let _ = writer.join();
    parse_all(&buf)
}

fn parse_all(mut buf: &[u8]) -> Vec<Wire> {
    let mut out = vec![];
    while !buf.is_empty() {
        let end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(buf)));
        let head = std::str::from_utf8(&buf[..end]).unwrap();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
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
                (k.trim().to_string(), v.trim().to_string())
            })
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let body = buf[end + 4..end + 4 + len].to_vec();
        buf = &buf[end + 4 + len..];
        out.push(Wire {
            status,
            headers,
            body,
        });
    }
    out
}

/// One request that must be refused with `status` and a fault containing `text`, and the
/// connection then closed.
fn refused(ib: &Ironbox, raw: &[u8], status: u16, text: &str) {
    let what = String::from_utf8_lossy(&raw[..raw.len().min(120)]).into_owned();
    let got = exchange(ib, raw);
    assert_eq!(got.len(), 1, "{what}: {got:?}");
    let r = &got[0];
    assert_eq!(r.status, status, "{what}: {r:?}");
    let fault = r.fault();
    assert!(fault.contains(text), "{what}: {fault:?} lacks {text:?}");
}

#[test]
fn framing_errors_have_ironic_bodies() {
    let ib = Ironbox::start();
    let post = |extra: &str, body: &str| {
        format!("POST /v1/nodes HTTP/1.1\r\n{H}Content-Type: application/json\r\n{extra}\r\n{body}")
            .into_bytes()
    };
    // Content-Length: not a number, negative, two different values, past u64.
    for (cl, text) in [
        ("abc", "Invalid Content-Length \"abc\""),
        ("-1", "Invalid Content-Length \"-1\""),
        ("+2", "Invalid Content-Length"),
        ("99999999999999999999999", "too large"),
    ] {
        refused(
            &ib,
            &post(&format!("Content-Length: {cl}\r\n"), "{}"),
            400,
            text,
        );
    }
    let two = post("Content-Length: 2\r\nContent-Length: 3\r\n", "{}");
    refused(&ib, &two, 400, "More than one Content-Length");
    // Transfer-Encoding with Content-Length, or not chunked.
    let both = post("Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", "{}");
    refused(&ib, &both, 400, "both Content-Length and Transfer-Encoding");
    let gzip = post("Transfer-Encoding: gzip\r\n", "");
    refused(&ib, &gzip, 400, "only \"chunked\"");
    // Bad chunked framing: the request is answered by its handler, which sees the body end.
    let chunk = post("Transfer-Encoding: chunked\r\n", "zz\r\n{}\r\n0\r\n\r\n");
    refused(&ib, &chunk, 400, "chunked framing is invalid");
    let overlong = post("Transfer-Encoding: chunked\r\n", "1\r\n{}\r\n0\r\n\r\n");
    refused(&ib, &overlong, 400, "chunked framing is invalid");
    // Not JSON.
    let text = format!(
        "POST /v1/nodes HTTP/1.1\r\n{H}Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    refused(&ib, text.as_bytes(), 415, "must be application/json");
    // Too long a URL or query string; too large or too many headers.
    let long = format!(
        "GET /v1/nodes?name={} HTTP/1.1\r\n{H}\r\n",
        "a".repeat(9000)
    );
    refused(
        &ib,
        long.as_bytes(),
        414,
        "the URL or its query string is too long",
    );
    let long_path = format!("GET /v1/nodes/{} HTTP/1.1\r\n{H}\r\n", "a".repeat(9000));
    refused(&ib, long_path.as_bytes(), 414, "too long");
    let big = format!(
        "GET /v1/nodes HTTP/1.1\r\n{H}X-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    refused(&ib, big.as_bytes(), 431, "header line is longer than");
    let many: String = (0..120).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /v1/nodes HTTP/1.1\r\n{H}{many}\r\n");
    refused(&ib, many.as_bytes(), 431, "more than 96 header fields");
    let total: String = (0..10)
        .map(|i| format!("X-H{i}: {}\r\n", "b".repeat(9000)))
        .collect();
    let total = format!("GET /v1/nodes HTTP/1.1\r\n{H}{total}\r\n");
    refused(&ib, total.as_bytes(), 431, "head is larger than");
    // Malformed request lines and heads.
    refused(&ib, b"GARBAGE\r\n\r\n", 400, "Malformed request line");
    refused(&ib, b"GET /v1 HTTP/1.1\r\n\r\n", 400, "Host header");
    let raw8 = format!("GET /v1/nodes/\u{e9} HTTP/1.1\r\n{H}\r\n");
    refused(&ib, raw8.as_bytes(), 400, "not URL characters");
    // Percent-encoding that is invalid, or that decodes to something not UTF-8.
    for path in ["/v1/%zz", "/v1/nodes/%4", "/v1/nodes/ab%g1"] {
        let req = format!("GET {path} HTTP/1.1\r\n{H}\r\n");
        let got = exchange_one_close(&ib, &req);
        assert_eq!(got.status, 400, "{path}: {got:?}");
        assert!(got.fault().contains("Invalid percent-encoding"), "{path}");
    }
    let got = exchange_one_close(&ib, &format!("GET /v1/nodes/%ff%fe HTTP/1.1\r\n{H}\r\n"));
    assert_eq!(got.status, 400);
    assert!(got.fault().contains("not valid UTF-8"), "{got:?}");
    // Unknown paths (any method) and methods a resource does not have.
    ib.node(serde_json::json!({"uuid": N}));
    for (method, path) in [
        ("GET", "/v1/bogus"),
        ("GET", "/v1/bogus/deeper"),
        ("PUT", &*format!("/v1/nodes/{N}/bogus")),
        ("DELETE", "/nowhere"),
    ] {
        let got = exchange_one_close(&ib, &format!("{method} {path} HTTP/1.1\r\n{H}\r\n"));
        assert_eq!(got.status, 404, "{method} {path}: {got:?}");
        assert_eq!(got.fault(), "The resource could not be found.");
    }
    for (method, path, allow) in [
        ("PUT", "/v1/nodes", "GET, POST"),
        ("POST", &*format!("/v1/nodes/{N}"), "GET, PATCH, DELETE"),
        ("GET", &*format!("/v1/nodes/{N}/states/power"), "PUT"),
        ("DELETE", "/v1", "GET"),
        ("PATCH", "/", "GET"),
        ("DELETE", "/v1/lookup", "GET"),
    ] {
        let got = exchange_one_close(&ib, &format!("{method} {path} HTTP/1.1\r\n{H}\r\n"));
        assert_eq!(got.status, 405, "{method} {path}: {got:?}");
        assert_eq!(got.header("allow"), Some(allow), "{method} {path}");
        assert!(got
            .fault()
            .contains(&format!("The method {method} is not allowed")));
    }
    // A body over the limit, declared or sent.
    let huge = post("Content-Length: 5000000\r\nConnection: close\r\n", "");
    refused(&ib, &huge, 413, "Request body is too large");
    let body = format!(
        "{{\"driver\": \"fake-hardware\", \"extra\": {{\"x\": \"{}\"}}}}",
        "y".repeat(2 << 20)
    );
    let chunked = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
    let sent = post(
        "Transfer-Encoding: chunked\r\nConnection: close\r\n",
        &chunked,
    );
    refused(&ib, &sent, 413, "Request body is too large");
    // Nothing got through.
    let nodes = ib.get("/v1/nodes");
    assert_eq!(
        nodes.body["nodes"].as_array().unwrap().len(),
        1,
        "{}",
        nodes.body
    );
}

/// A request with `Connection: close` added, which must get exactly one answer.
fn exchange_one_close(ib: &Ironbox, req: &str) -> Wire {
    let req = req.replacen("\r\n", "\r\nConnection: close\r\n", 1);
    let mut got = exchange(ib, req.as_bytes());
    assert_eq!(got.len(), 1, "{req}: {got:?}");
    got.remove(0)
}

#[test]
fn pipelined_good_requests_are_answered_before_the_refusal() {
    let ib = Ironbox::start();
    let mut raw = format!("GET /v1 HTTP/1.1\r\n{H}\r\n").into_bytes();
    raw.extend_from_slice(
        format!("POST /v1/chassis HTTP/1.1\r\n{H}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}").as_bytes(),
    );
    raw.extend_from_slice(
        format!("POST /v1/nodes HTTP/1.1\r\n{H}Content-Length: 1x\r\n\r\n").as_bytes(),
    );
    raw.extend_from_slice(format!("GET /v1/nodes HTTP/1.1\r\n{H}\r\n").as_bytes());
    let got = exchange(&ib, &raw);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0].status, 200);
    let v1: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(v1["id"], "v1");
    assert_eq!(got[1].status, 201, "{got:?}");
    assert_eq!(got[2].status, 400);
    assert!(got[2].fault().contains("Invalid Content-Length \"1x\""));
    assert_eq!(got[2].header("connection"), Some("close"));
    // The request after the refused one was not run; the chassis before it was.
    assert_eq!(
        ib.get("/v1/chassis").body["chassis"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A body sent without Content-Length is no body (RFC 9112 §6.3): the POST is answered
    // as empty, and its would-be body is then refused as a malformed request line.
    let raw = format!("POST /v1/nodes HTTP/1.1\r\n{H}Content-Type: application/json\r\n\r\n{{\"driver\": \"fake-hardware\"}}");
    let got = exchange(&ib, raw.as_bytes());
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].status, 400);
    assert!(got[0].fault().contains("request body is empty"));
    assert_eq!(got[1].status, 400);
    assert!(got[1].fault().contains("Malformed request line"), "{got:?}");
    assert_eq!(
        ib.get("/v1/nodes").body["nodes"].as_array().unwrap().len(),
        0
    );
}

#[test]
fn a_stalled_request_head_gets_408() {
    let ib = Ironbox::start();
    let got = exchange(
        &ib,
        format!("GET /v1/nodes HTTP/1.1\r\n{H}X-Half: ").as_bytes(),
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].status, 408);
    assert!(got[0].fault().contains("not received within"));
}

#[test]
fn invalid_json_is_refused_on_every_mutating_route() {
    let ib = Ironbox::start();
    ib.node(serde_json::json!({"uuid": N}));
    assert_eq!(
        ib.req(
            "PUT",
            &format!("/v1/nodes/{N}/traits/CUSTOM_KEEP"),
            Some("latest"),
            None
        )
        .status,
        204
    );
    let port = "22222222-3333-4444-5555-666666666666";
    let routes: Vec<(&str, String)> = [
        ("POST", "/v1/nodes".to_string()),
        ("PATCH", format!("/v1/nodes/{N}")),
        ("DELETE", format!("/v1/nodes/{N}")),
        ("PUT", format!("/v1/nodes/{N}/maintenance")),
        ("DELETE", format!("/v1/nodes/{N}/maintenance")),
        ("PUT", format!("/v1/nodes/{N}/states/provision")),
        ("PUT", format!("/v1/nodes/{N}/states/power")),
        ("PUT", format!("/v1/nodes/{N}/states/console")),
        ("PUT", format!("/v1/nodes/{N}/states/raid")),
        ("PUT", format!("/v1/nodes/{N}/states/boot_mode")),
        ("PUT", format!("/v1/nodes/{N}/states/secure_boot")),
        ("PUT", format!("/v1/nodes/{N}/management/boot_device")),
        ("PUT", format!("/v1/nodes/{N}/management/inject_nmi")),
        ("PUT", format!("/v1/nodes/{N}/traits")),
        ("DELETE", format!("/v1/nodes/{N}/traits")),
        ("PUT", format!("/v1/nodes/{N}/traits/CUSTOM_NEW")),
        ("DELETE", format!("/v1/nodes/{N}/traits/CUSTOM_KEEP")),
        ("POST", format!("/v1/nodes/{N}/vendor_passthru?method=x")),
        ("DELETE", format!("/v1/nodes/{N}/allocation")),
        ("POST", "/v1/ports".to_string()),
        ("PATCH", format!("/v1/ports/{port}")),
        ("DELETE", format!("/v1/ports/{port}")),
        ("POST", "/v1/portgroups".to_string()),
        ("POST", "/v1/chassis".to_string()),
        ("POST", "/v1/allocations".to_string()),
        ("POST", "/v1/deploy_templates".to_string()),
        ("POST", "/v1/runbooks".to_string()),
        ("PATCH", "/v1/runbooks/CUSTOM_ANY".to_string()),
        ("POST", format!("/v1/heartbeat/{N}")),
        ("POST", "/v1/continue_inspection".to_string()),
    ]
    .into_iter()
    .collect();
    let mut failures = vec![];
    for (method, path) in &routes {
        for body in ["{broken", "   "] {
            let raw = format!(
                "{method} {path} HTTP/1.1\r\n{H}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let got = exchange(&ib, raw.as_bytes());
            let ok = got.len() == 1 && got[0].status == 400 && {
                let f = got[0].fault();
                f.contains("Malformed JSON") || f.contains("request body is empty")
            };
            if !ok {
                failures.push(format!("{method} {path} {body:?}: {got:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Nothing changed: the node is there, not in maintenance, with its one trait.
    let n = ib.get(&format!("/v1/nodes/{N}"));
    assert_eq!(n.status, 200);
    assert_eq!(n.body["maintenance"], false);
    assert_eq!(n.body["traits"], serde_json::json!(["CUSTOM_KEEP"]));
    // An empty body is still no body where it is optional.
    let r = ib.req(
        "PUT",
        &format!("/v1/nodes/{N}/maintenance"),
        Some("latest"),
        None,
    );
    assert_eq!(r.status, 202);
    assert_eq!(ib.get(&format!("/v1/nodes/{N}")).body["maintenance"], true);
}

#[test]
fn tls_refusals_have_ironic_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let st = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed by the test setup");
    assert!(st.status.success());
    let ib = Ironbox::start_with(&format!(
        "[api]\nenable_ssl_api = true\n[ssl]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        cert.display(),
        key.display()
    ));
    let curl = |args: &[&str]| {
        let out = std::process::Command::new("curl")
            .args(["-sS", "-i", "--cacert"])
            .arg(&cert)
            .args(args)
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        (head.to_ascii_lowercase(), body.to_string())
    };
    // A good request, then one curl sends with a Content-Length it was told to.
    let (head, body) = curl(&[&format!("{}/v1/", ib.url)]);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(body.contains("\"id\":\"v1\""), "{body}");
    let (head, body) = curl(&[
        "-H",
        "Content-Length: nope",
        &format!("{}/v1/nodes", ib.url),
    ]);
    assert!(head.starts_with("http/1.1 400"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(
        head.contains("x-openstack-ironic-api-maximum-version"),
        "{head}"
    );
    let outer: Value = serde_json::from_str(&body).unwrap();
    assert!(outer["error_message"]
        .as_str()
        .unwrap()
        .contains("Invalid Content-Length"));
}

/// The boot network's HTTP server (iPXE scripts, boot files and the agents' lookup and
/// heartbeat) is behind the same gate: malformed framing there gets Ironic's body too, and
/// the server keeps serving new connections. Served on loopback, with DHCP off.
#[test]
fn boot_http_refusals_have_ironic_bodies() {
    let ib = Ironbox::start_with(
        "[dhcp]\ninterface = \"lo\"\nmode = \"off\"\n[pxe]\nhttp_port = 0\ntftp_port = 0\n",
    );
    let endpoints: Value =
        serde_json::from_str(&std::fs::read_to_string(ib.data().join("endpoints.json")).unwrap())
            .unwrap();
    let boot = endpoints["http_boot"]
        .as_str()
        .unwrap_or_else(|| panic!("no boot HTTP server: {endpoints}"))
        .trim_start_matches("http://")
        .to_string();
    let good = |path: &str| {
        let got = exchange_at(
            &boot,
            format!("GET {path} HTTP/1.1\r\n{H}Connection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(got.len(), 1, "{path}: {got:?}");
        got.into_iter().next().unwrap()
    };
    let long = format!(
        "GET /boot.ipxe?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(9000)
    );
    for (raw, status, text) in [
        (
            "GET /boot.ipxe HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
                .to_string(),
            400,
            "More than one Content-Length",
        ),
        (
            "POST /v1/lookup HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n".to_string(),
            400,
            "Invalid Content-Length \"1x\"",
        ),
        (long, 414, "request line is longer than"),
    ] {
        let got = exchange_at(&boot, raw.as_bytes());
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].status, status, "{got:?}");
        let fault = got[0].fault();
        assert!(fault.contains(text), "{fault:?} lacks {text:?}");
        // The server still answers, on a new connection: a boot script and a lookup.
        let script = good("/boot.ipxe");
        assert_eq!(script.status, 200, "{script:?}");
        assert!(script.body.starts_with(b"#!ipxe"), "{script:?}");
        let lookup = good("/v1/lookup?addresses=52:54:00:00:00:01");
        assert_eq!(lookup.status, 404, "{lookup:?}");
        // The lookup handler's own answer (not the router's "The resource could not be found.").
        assert_eq!(lookup.fault(), "Resource could not be found.", "{lookup:?}");
    }
}
