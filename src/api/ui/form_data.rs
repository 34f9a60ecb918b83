//! `application/x-www-form-urlencoded` bodies of the UI's forms: read under a size limit,
//! decoded strictly (a bad `%` escape or bytes that are not UTF-8 are refused, never
//! replaced), repeated fields kept in order. Refusals are `ApiError`s in Ironic's shape.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

use crate::api::error::ApiError;

/// A decoded form: every `name=value` pair in the order sent.
#[derive(Debug, Default, Clone)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Decode a whole body.
    pub fn parse(body: &[u8]) -> Result<Form, ApiError> {
        let mut pairs = Vec::new();
        for part in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let mut halves = part.splitn(2, |b| *b == b'=');
            let name = halves.next().unwrap_or_default();
            let value = halves.next().unwrap_or_default();
            let name = decode(name, None)?;
            let value = decode(value, Some(&name))?;
            pairs.push((name, value));
        }
        Ok(Form(pairs))
    }

    /// The one value of `name`, trimmed; `None` when absent or blank. A field sent twice is
    /// refused: a form has one input of that name, so two means a forged or broken request.
    pub fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(ApiError::bad_request(format!(
                "Invalid form: the field \"{name}\" was given more than once."
            )));
        }
        Ok(first.map(|(_, v)| v.trim()).filter(|v| !v.is_empty()))
    }

    /// Every non-blank value of `name`, each split into lines (a textarea of one item a line,
    /// or repeated inputs, or both), trimmed.
    pub fn lines(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.lines())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Refuse fields the form does not have.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.0.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            Some((k, _)) => Err(ApiError::bad_request(format!(
                "Invalid form: unexpected field \"{}\".",
                k.escape_debug()
            ))),
            None => Ok(()),
        }
    }
}

/// Percent-decode one name or value (`+` is a space). `field` names the value's field in
/// the error; names themselves are reported without echoing them.
fn decode(raw: &[u8], field: Option<&str>) -> Result<String, ApiError> {
    let what = || match field {
        Some(f) => format!("the value of \"{f}\""),
        None => "a field name".to_string(),
    };
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                // Two hex digits exactly (from_str_radix alone would take "+1").
                let hex = raw.get(i + 1..i + 3).and_then(|h| {
                    if !h.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    let s = std::str::from_utf8(h).ok()?;
                    u8::from_str_radix(s, 16).ok()
                });
                let Some(byte) = hex else {
                    return Err(ApiError::bad_request(format!(
                        "Invalid form: {} has a malformed percent-escape.",
                        what()
                    )));
                };
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::bad_request(format!("Invalid form: {} is not valid UTF-8.", what())))
}

/// Read a form body of at most `limit` bytes (413 beyond, before and while reading); any
/// other content type is 415, as the JSON API refuses a body it cannot read.
pub async fn read(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Form, ApiError> {
    let mime = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if mime != "application/x-www-form-urlencoded" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Unsupported Content-Type {mime:?}; the form must be application/x-www-form-urlencoded"
            ),
        ));
    }
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::too_large());
    }
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(format!("Could not read the request body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Form::parse(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: &[u8]) -> String {
        match Form::parse(body) {
            Ok(f) => panic!("accepted: {f:?}"),
            Err(e) => {
                assert_eq!(e.status, StatusCode::BAD_REQUEST);
                e.message
            }
        }
    }

    #[test]
    fn repeated_fields_and_lines_are_kept_in_order() {
        let f =
            Form::parse(b"mac=52%3A54%3A00%3A00%3A00%3A01&name=n+1&mac=a%0D%0Ab%0A%0A&mac=&empty")
                .unwrap();
        assert_eq!(f.lines("mac"), ["52:54:00:00:00:01", "a", "b"]);
        assert_eq!(f.one("name").unwrap(), Some("n 1"));
        assert_eq!(f.one("empty").unwrap(), None);
        assert_eq!(f.one("absent").unwrap(), None);
        assert!(f.lines("absent").is_empty());
    }

    #[test]
    fn utf8_values_decode() {
        let f = Form::parse("name=%C3%A9t%C3%A9".as_bytes()).unwrap();
        assert_eq!(f.one("name").unwrap(), Some("été"));
    }

    #[test]
    fn bad_escapes_are_refused_naming_the_field() {
        assert_eq!(
            refusal(b"name=abc%2"),
            "Invalid form: the value of \"name\" has a malformed percent-escape."
        );
        assert_eq!(
            refusal(b"name=%zz"),
            "Invalid form: the value of \"name\" has a malformed percent-escape."
        );
        assert_eq!(
            refusal(b"na%G1me=x"),
            "Invalid form: a field name has a malformed percent-escape."
        );
        assert_eq!(
            refusal(b"name=%+1"),
            "Invalid form: the value of \"name\" has a malformed percent-escape."
        );
        // A multi-byte character split by the escape boundary is not a hex digit pair.
        assert!(Form::parse("x=%\u{e9}1".as_bytes()).is_err());
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused() {
        assert_eq!(
            refusal(b"name=%FF%FE"),
            "Invalid form: the value of \"name\" is not valid UTF-8."
        );
        assert_eq!(
            refusal(b"%C3=x"),
            "Invalid form: a field name is not valid UTF-8."
        );
        assert!(Form::parse(b"name=\xff").is_err());
    }

    #[test]
    fn a_single_field_sent_twice_is_refused() {
        let f = Form::parse(b"name=a&name=b").unwrap();
        assert_eq!(
            f.one("name").unwrap_err().message,
            "Invalid form: the field \"name\" was given more than once."
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let f = Form::parse(b"name=a&evil%0A=1").unwrap();
        assert!(f.only(&["name", "evil\n"]).is_ok());
        assert_eq!(
            f.only(&["name"]).unwrap_err().message,
            "Invalid form: unexpected field \"evil\\n\"."
        );
    }

    #[test]
    fn empty_and_odd_bodies_do_not_panic() {
        for body in [
            &b""[..],
            b"&&&",
            b"=",
            b"==",
            b"%",
            b"a=%",
            b"a=b=c",
            b"%%%%",
        ] {
            let _ = Form::parse(body);
        }
        assert_eq!(
            Form::parse(b"a=b=c").unwrap().one("a").unwrap(),
            Some("b=c")
        );
    }
}
