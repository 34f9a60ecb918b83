//! The framing gate's unit tests: each refusal, and what good input it lets through whole.

use super::*;

/// Feed `input` in pieces of `step` bytes; what was released and the rejection.
fn run(input: &[u8], step: usize) -> (Vec<u8>, Option<Rejection>) {
    let mut g = Gate::default();
    let mut out = vec![];
    for piece in input.chunks(step.max(1)) {
        if let Err(r) = g.feed(piece, &mut out) {
            return (out, Some(r));
        }
    }
    (out, None)
}

fn all_steps(input: &[u8]) -> (Vec<u8>, Option<Rejection>) {
    let whole = run(input, input.len());
    for step in [1, 2, 3, 7, 64] {
        assert_eq!(run(input, step), whole, "step {step}");
    }
    whole
}

fn rejected(input: &[u8]) -> Rejection {
    all_steps(input).1.expect("rejected")
}

const GET: &[u8] = b"GET /v1 HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn good_requests_pass_whole() {
    let post = b"POST /v1/nodes HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    let chunked = b"PUT /v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;a=b\r\n{}\r\n0\r\nX-T: 1\r\n\r\n";
    let mut all = GET.to_vec();
    all.extend_from_slice(post);
    all.extend_from_slice(chunked);
    all.extend_from_slice(b"\r\n");
    all.extend_from_slice(GET);
    assert_eq!(all_steps(&all), (all.clone(), None));
}

#[test]
fn a_long_body_line_is_no_header_line() {
    let body = format!("{{\"extra\": \"{}\"}}", "x".repeat(40_000));
    let req = format!(
        "POST /v1/nodes HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(all_steps(req.as_bytes()), (req.clone().into_bytes(), None));
}

#[test]
fn a_partial_head_is_held_back() {
    let mut g = Gate::default();
    let mut out = vec![];
    g.feed(b"GET /v1 HTTP/1.1\r\nHo", &mut out).unwrap();
    assert!(out.is_empty() && g.mid_head());
    g.feed(b"st: x\r\n\r\nGET", &mut out).unwrap();
    assert_eq!(out, GET);
    assert!(g.mid_head());
}

#[test]
fn bad_lengths_are_400() {
    for cl in [
        "abc",
        "-1",
        "+5",
        "1 2",
        "",
        "0x10",
        "99999999999999999999999",
    ] {
        let req = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {cl}\r\n\r\n");
        let r = rejected(req.as_bytes());
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{cl}");
        assert!(
            r.message.contains("Content-Length") && r.answer,
            "{cl}: {r:?}"
        );
    }
    let two = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}";
    assert!(rejected(two)
        .message
        .contains("More than one Content-Length"));
    let both =
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert!(rejected(both).message.contains("both"));
    let gzip = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
    assert!(rejected(gzip)
        .message
        .contains("Unsupported Transfer-Encoding"));
    let old = b"POST / HTTP/1.0\r\n\r\n";
    assert_eq!(rejected(old).status, StatusCode::LENGTH_REQUIRED);
}

#[test]
fn the_head_after_a_good_request_is_checked() {
    let mut input = GET.to_vec();
    input.extend_from_slice(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n");
    let (out, r) = all_steps(&input);
    assert_eq!(out, GET, "the good request still goes through");
    assert!(r.unwrap().answer);
}

#[test]
fn limits_give_414_and_431() {
    let long = format!(
        "GET /v1/nodes?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(9000)
    );
    assert_eq!(rejected(long.as_bytes()).status, StatusCode::URI_TOO_LONG);
    // Refused as soon as the line is too long, before it ends.
    let (_, r) = run(&long.as_bytes()[..8300], 8300);
    assert_eq!(r.unwrap().status, StatusCode::URI_TOO_LONG);
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(17000)
    );
    assert_eq!(
        rejected(big.as_bytes()).status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let many: String = (0..100).map(|i| format!("X-{i}: a\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let r = rejected(many.as_bytes());
    assert_eq!(r.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert!(r.message.contains("header fields"));
    let huge: String = (0..8)
        .map(|i| format!("X-{i}: {}\r\n", "b".repeat(9000)))
        .collect();
    let huge = format!("GET / HTTP/1.1\r\nHost: x\r\n{huge}\r\n");
    assert_eq!(
        rejected(huge.as_bytes()).status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
}

/// Fuzz finding (fuzz/corpus/framing/message-by-the-refused-byte): the message named a
/// non-ASCII byte after the one httparse stopped at, so it changed with how much had arrived.
#[test]
fn the_message_names_the_byte_refused_first() {
    let r = rejected(b"XO\0T /v1/\xff HTTP/1.1\r\n\r\n");
    assert!(r.message.starts_with("Malformed request line"), "{r:?}");
    let r = rejected(b"GET /v1/\xff\0 HTTP/1.1\r\n\r\n");
    assert!(r.message.contains("not URL characters"), "{r:?}");
}

#[test]
fn malformed_heads_are_400() {
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /v1/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1 HTTP/2.0\r\nHost: x\r\n\r\n",
        b"GET /v1 HTTP/1.1\r\n\r\n",
        b"GET /v1 HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
        b"GET /v1 HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n",
        b"GET /v1 HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n",
        b"{}",
    ] {
        let (out, r) = all_steps(bad);
        let r = r.unwrap_or_else(|| panic!("{:?} passed", String::from_utf8_lossy(bad)));
        if bad.contains(&0xff) {
            assert!(r.message.contains("not URL characters"), "{r:?}");
        }
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(out.is_empty() && r.answer);
    }
}

#[test]
fn bad_chunks_stop_inside_the_body() {
    for body in [
        &b"zz\r\n{}\r\n0\r\n\r\n"[..],
        b"2\r\n{}}\r\n0\r\n\r\n",
        b"2 x\r\n{}\r\n0\r\n\r\n",
        b"2\n{}\r\n0\r\n\r\n",
        b"fffffffffffffffff\r\n",
        b"0\r\n\r\r",
    ] {
        let head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut input = head.to_vec();
        input.extend_from_slice(body);
        let (out, r) = all_steps(&input);
        let r = r.unwrap_or_else(|| panic!("{:?} passed", String::from_utf8_lossy(body)));
        assert!(!r.answer && r.message.contains("chunked"), "{r:?}");
        assert!(out.starts_with(head));
    }
}

#[test]
fn close_and_upgrade_stop_checking() {
    let mut input = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec();
    let released = input.clone();
    input.extend_from_slice(b"junk that actix never reads");
    assert_eq!(all_steps(&input), (released, None));
    let mut input = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n".to_vec();
    input.extend_from_slice(b"\x00\x01 frames");
    assert_eq!(all_steps(&input), (input.clone(), None));
}

#[test]
fn the_response_frames_what_the_owner_renders() {
    let r = Rejection::head(StatusCode::URI_TOO_LONG, "too long");
    let headers = [("x-a", "1".to_string())];
    let text = String::from_utf8(r.http_response("text/plain", &headers, b"too long")).unwrap();
    assert_eq!(
        text,
        "HTTP/1.1 414 URI Too Long\r\ncontent-type: text/plain\r\ncontent-length: 8\r\n\
         connection: close\r\nx-a: 1\r\n\r\ntoo long"
    );
}
