//! What is a secret, decided by what a name says rather than by a list of known keys: the
//! rule for JSON keys (split into words, see [`is_secret_key`]), the credentials inside
//! text (URL passwords and `name=value` pairs, see [`mask_text`]), and the writers that
//! mask while serializing ([`Masked`], [`MaskedValue`]) so that node lists, the API's
//! largest bodies, are never copied to be masked. Every surface that shows stored or
//! submitted JSON (API views, error messages, node history, logs) goes through here.
//!
//! The rule errs towards hiding: a harmless value under a secret-looking name is only
//! hidden, while a secret under a name a list forgot would be shown to every reader.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

use super::JsonObject;

/// What a hidden value is replaced by (Ironic's).
pub const MASK: &str = "******";

/// Words that say "this is a secret" wherever they stand in a key: `ipmi_password`,
/// `snmp_auth_key`, `snmp_community`, `X-Secret`, `apiKey`, `my_token`, `bmc_passwd`.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "passphrase",
    "passcode",
    "pass",
    "pwd",
    "pswd",
    "pw",
    "secret",
    "secrets",
    "token",
    "tokens",
    "key",
    "keys",
    "credential",
    "credentials",
    "cred",
    "creds",
    "community",
    "cookie",
    "cookies",
    "signature",
    "signatures",
    "sig",
    "psk",
    "otp",
    "jwt",
    "bearer",
    "authorization",
    "sessionid",
    "configdrive",
];

/// A word containing one of these is a secret word too (`chappassword`, `authtoken`,
/// `snmpcommunity`); they are long enough not to occur inside ordinary words.
const SECRET_INSIDE: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "secret",
    "token",
    "credential",
    "cookie",
    "signature",
    "community",
];

/// A word ending in one of these is a secret word (`apikey`, `sslkey`, `fernetkey`,
/// `privkey`, `adminpass`, `syspwd`): short markers only count as a suffix, where
/// compounds put them, so `keyboard` or `passthrough` stay ordinary words.
const SECRET_SUFFIXES: &[&str] = &["key", "keys", "pass", "pwd", "pswd", "psk"];

/// Words that name a secret only when nothing but value words follow them: `snmp_auth`,
/// `ssh_private`, `session`, `session_id`; but `auth_strategy`, `private_network` and
/// `session_timeout` are settings, not secrets. Words ending in `auth` (`oauth`,
/// `basicauth`) count as `auth`.
const WEAK_WORDS: &[&str] = &["auth", "private", "session"];

/// Words that, after a secret word, still name the secret's value itself.
const VALUE_WORDS: &[&str] = &[
    "id", "data", "value", "values", "string", "str", "material", "contents", "content", "blob",
    "hash", "b64", "base64", "hex", "text", "raw", "bytes", "pem",
];

/// A key whose last word is one of these describes a secret without holding it: its type,
/// protocol, version, where it lives, whose it is, its name or size. So
/// `redfish_auth_type`, `snmp_auth_protocol`, `snmp_priv_protocol`, `auth_url`,
/// `token_url`, `ssh_key_file`, `key_name`, `password_length` stay visible (a URL value is
/// still stripped of its password by [`mask_text`]).
const DESCRIPTOR_WORDS: &[&str] = &[
    "type",
    "types",
    "method",
    "methods",
    "protocol",
    "protocols",
    "proto",
    "version",
    "versions",
    "ver",
    "url",
    "urls",
    "uri",
    "uris",
    "endpoint",
    "endpoints",
    "algorithm",
    "algorithms",
    "algo",
    "alg",
    "mode",
    "level",
    "kind",
    "format",
    "fmt",
    "length",
    "len",
    "size",
    "bits",
    "strategy",
    "scheme",
    "policy",
    "user",
    "username",
    "name",
    "timeout",
    "ttl",
    "expiry",
    "expires",
    "expiration",
    "lifetime",
    "interval",
    "retries",
    "attempts",
    "file",
    "filename",
    "path",
    "location",
    "dir",
    "fingerprint",
    "enabled",
    "required",
];

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Secret,
    Weak,
    Value,
    Descriptor,
    Other,
}

fn is_any(w: &str, list: &[&str]) -> bool {
    list.iter().any(|x| w.eq_ignore_ascii_case(x))
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn ends_with_ci(hay: &str, suffix: &str) -> bool {
    hay.len()
        .checked_sub(suffix.len())
        .and_then(|at| hay.as_bytes().get(at..))
        .is_some_and(|t| t.eq_ignore_ascii_case(suffix.as_bytes()))
}

fn kind(w: &str) -> Kind {
    if is_any(w, SECRET_WORDS)
        || SECRET_INSIDE.iter().any(|m| contains_ci(w, m))
        || SECRET_SUFFIXES.iter().any(|m| ends_with_ci(w, m))
    {
        Kind::Secret
    } else if is_any(w, WEAK_WORDS) || ends_with_ci(w, "auth") {
        Kind::Weak
    } else if is_any(w, VALUE_WORDS) {
        Kind::Value
    } else if is_any(w, DESCRIPTOR_WORDS) {
        Kind::Descriptor
    } else {
        Kind::Other
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Sep,
    Lower,
    Upper,
    Digit,
}

fn class(b: u8) -> Class {
    match b {
        b'a'..=b'z' | 0x80.. => Class::Lower,
        b'A'..=b'Z' => Class::Upper,
        b'0'..=b'9' => Class::Digit,
        _ => Class::Sep,
    }
}

/// The words of a key: split on anything but letters and digits (`_`, `-`, `.`, ...), at
/// camelCase humps (`apiKey`, `APIKey` → `API`, `Key`) and between letters and digits.
pub fn words(key: &str) -> impl Iterator<Item = &str> {
    let b = key.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while b.get(i).is_some_and(|&c| class(c) == Class::Sep) {
            i += 1;
        }
        let start = i;
        let mut prev = class(*b.get(i)?);
        i += 1;
        while let Some(&c) = b.get(i) {
            let cur = class(c);
            let split = match (prev, cur) {
                (_, Class::Sep) | (Class::Lower, Class::Upper) => true,
                (Class::Digit, Class::Lower | Class::Upper)
                | (Class::Lower | Class::Upper, Class::Digit) => true,
                // The last capital of an acronym starts the next word.
                (Class::Upper, Class::Upper) => {
                    b.get(i + 1).is_some_and(|&n| class(n) == Class::Lower)
                }
                _ => false,
            };
            if split {
                break;
            }
            prev = cur;
            i += 1;
        }
        // Splits fall before an ASCII byte or a lead byte after one: always char boundaries.
        key.get(start..i)
    })
}

/// Whether a key's value is a secret, by what its words say: some word is a secret word
/// (or a weak one followed only by value words), and the last word does not merely
/// describe the secret. See the word lists above for the reasons of each class.
pub fn is_secret_key(key: &str) -> bool {
    let (mut secret, mut weak, mut last) = (false, false, Kind::Other);
    for w in words(key) {
        last = kind(w);
        match last {
            Kind::Secret => secret = true,
            Kind::Weak => weak = true,
            Kind::Value => {}
            Kind::Descriptor | Kind::Other => weak = false,
        }
    }
    last != Kind::Descriptor && (secret || weak)
}

/// Whether the value under `key` is hidden: a secret key's value unless it is a boolean or
/// null (they cannot hold a secret, and `auth_required: true` is worth seeing).
fn hides(key: &str, v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(_)) && is_secret_key(key)
}

/// Text with the credentials it carries replaced by [`MASK`]: the password of every
/// URL-shaped word (`http://user:pw@host` → `http://user:******@host`, also without a
/// scheme: `user:pw@host`), and the value of every `name=value` pair whose name is a
/// secret key (`?temp_url_sig=…`, `&token=…`, `ipmi_password=…` on a kernel command line,
/// `token=…` in a log line). Borrowed, without a copy, when there is nothing to hide.
pub fn mask_text(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'@' || b == b'=') {
        return Cow::Borrowed(s);
    }
    let mut hide: Vec<(usize, usize)> = Vec::new();
    let mut offset = 0;
    // Delimiters are ASCII, one byte each.
    for token in
        s.split(|c: char| c.is_ascii_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
    {
        secrets_in(token, offset, &mut hide);
        offset += token.len() + 1;
    }
    if hide.is_empty() {
        return Cow::Borrowed(s);
    }
    hide.sort_unstable();
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for (start, end) in hide {
        if end <= at {
            continue;
        }
        let start = start.max(at);
        out.push_str(s.get(at..start).unwrap_or_default());
        out.push_str(MASK);
        at = end;
    }
    out.push_str(s.get(at..).unwrap_or_default());
    Cow::Owned(out)
}

/// The byte ranges (offset by `off`) of the secrets in one whitespace-free word.
fn secrets_in(t: &str, off: usize, hide: &mut Vec<(usize, usize)>) {
    if !t.contains('@') && !t.contains('=') {
        return;
    }
    // Userinfo: after each `://`, or from the word's start when it has no scheme.
    let mut authorities = vec![];
    let mut from = 0;
    while let Some(p) = t.get(from..).and_then(|r| r.find("://")) {
        from += p + 3;
        authorities.push(from);
    }
    if authorities.is_empty() {
        authorities.push(0);
    }
    for a in authorities {
        let rest = t.get(a..).unwrap_or_default();
        let authority = rest
            .get(..rest.find(['/', '?', '#']).unwrap_or(rest.len()))
            .unwrap_or_default();
        // The last `@` ends the userinfo (a password may hold an unencoded `@`).
        let Some(at) = authority.rfind('@') else {
            continue;
        };
        if let Some(colon) = authority.get(..at).and_then(|u| u.find(':')) {
            if colon + 1 < at {
                hide.push((off + a + colon + 1, off + a + at));
            }
        }
    }
    // `name=value` pairs, separated as in query strings.
    let mut seg_start = 0;
    for seg in t.split(['?', '&', ';', ',']) {
        if let Some(eq) = seg.find('=') {
            let name = seg.get(..eq).unwrap_or_default();
            if eq + 1 < seg.len() && is_secret_key(name) {
                hide.push((off + seg_start + eq + 1, off + seg_start + seg.len()));
            }
        }
        seg_start += seg.len() + 1;
    }
}

/// A JSON object written with its secrets masked, without copying it: values of secret
/// keys become [`MASK`] (objects and arrays whole), other objects and arrays are walked,
/// and strings lose the credentials [`mask_text`] finds.
pub struct Masked<'a> {
    pub obj: &'a JsonObject,
    /// A node's `instance_info` also hides `image_url` (Ironic: it may be a Swift temp URL
    /// whose signature grants access to the image).
    pub instance_info: bool,
}

impl Serialize for Masked<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.obj.len()))?;
        for (k, v) in self.obj {
            if hides(k, v) || (self.instance_info && k == "image_url" && !v.is_null()) {
                m.serialize_entry(k, MASK)?;
            } else {
                m.serialize_entry(k, &MaskedValue(v))?;
            }
        }
        m.end()
    }
}

/// Masked JSON, for the `Debug` of types that hold secrets.
impl std::fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(self).unwrap_or_default())
    }
}

/// Any JSON value written as [`Masked`] writes an object's entries.
pub struct MaskedValue<'a>(pub &'a Value);

impl Serialize for MaskedValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(obj) => Masked {
                obj,
                instance_info: false,
            }
            .serialize(s),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for x in a {
                    seq.serialize_element(&MaskedValue(x))?;
                }
                seq.end()
            }
            Value::String(t) => s.serialize_str(&mask_text(t)),
            other => other.serialize(s),
        }
    }
}

/// Mask `v` in place, as [`Masked`] writes it (for values already copied, such as the
/// rows of small resources).
pub fn mask_in_place(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if hides(k, x) {
                    *x = Value::String(MASK.into());
                } else {
                    mask_in_place(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_in_place),
        Value::String(t) => {
            if let Cow::Owned(m) = mask_text(t) {
                *t = m;
            }
        }
        _ => {}
    }
}

/// A masked copy of `v` (error messages that echo what was submitted).
pub fn masked(v: &Value) -> Value {
    let mut c = v.clone();
    mask_in_place(&mut c);
    c
}

/// A copy of `v` with every non-empty string and number replaced by [`MASK`], keeping its
/// shape: the echo of a value submitted where secrets live (a wrong-typed `driver_info`, a
/// patch of `/driver_info/ipmi_password`), whose parts have no names to judge them by.
pub fn opaque(v: &Value) -> Value {
    match v {
        Value::Null | Value::Bool(_) => v.clone(),
        Value::String(s) if s.is_empty() => v.clone(),
        Value::String(_) | Value::Number(_) => Value::String(MASK.into()),
        Value::Array(a) => Value::Array(a.iter().map(opaque).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), opaque(x))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_words() {
        fn w(k: &str) -> Vec<&str> {
            words(k).collect()
        }
        assert_eq!(w("snmp_auth_key"), ["snmp", "auth", "key"]);
        assert_eq!(w("X-Secret"), ["X", "Secret"]);
        assert_eq!(w("apiKey"), ["api", "Key"]);
        assert_eq!(w("APIKey"), ["API", "Key"]);
        assert_eq!(w("sessionID"), ["session", "ID"]);
        assert_eq!(w("a.b--c__"), ["a", "b", "c"]);
        assert_eq!(w("password1"), ["password", "1"]);
        assert_eq!(w("snmpV3Auth"), ["snmp", "V", "3", "Auth"]);
        assert_eq!(w("ümlaut_Key"), ["ümlaut", "Key"]);
        assert_eq!(w(""), Vec::<&str>::new());
        assert_eq!(w("__"), Vec::<&str>::new());
    }

    #[test]
    fn secret_keys_by_what_they_say() {
        for k in [
            // Known drivers, including the ones ironbox does not implement.
            "ipmi_password",
            "redfish_password",
            "ipmi_kg_key",
            "kg_key",
            "snmp_auth_key",
            "snmp_priv_key",
            "snmp_community",
            "snmp_community_string",
            "snmp_auth_passphrase",
            "ssh_key_contents",
            "ssh_private",
            "private_key",
            "priv_key",
            "auth_key",
            "agent_secret_token",
            "image_pull_secret",
            "configdrive",
            "irmc_password",
            "ilo_password",
            "drac_password",
            // Any name a driver might invent.
            "foo_password",
            "X-Secret",
            "X-Auth-Token",
            "apiKey",
            "APIKEY",
            "api-key",
            "my_token",
            "myToken",
            "vendor_credential",
            "Credentials",
            "bmc_passwd",
            "bmc_pass",
            "adminpass",
            "sys_pswd",
            "chapPassword",
            "fernetkey",
            "session",
            "session_id",
            "sessionid",
            "session_cookie",
            "snmp_auth",
            "oauth",
            "basicAuth",
            "temp_url_sig",
            "aws_secret_access_key",
            "X-Amz-Signature",
            "Authorization",
            "password_hash",
            "PASSWORD2",
            "tls.key",
            "ssl_key_pem",
        ] {
            assert!(is_secret_key(k), "{k} must be secret");
        }
        for k in [
            "ipmi_username",
            "ipmi_address",
            "ipmi_priv_level",
            "ipmi_terminal_port",
            "redfish_address",
            "redfish_username",
            "redfish_system_id",
            "redfish_verify_ca",
            // The last word names a method, type, protocol, version or place, not a value.
            "redfish_auth_type",
            "snmp_auth_protocol",
            "snmp_priv_protocol",
            "snmp_version",
            "auth_url",
            "token_url",
            "ssh_key_file",
            "key_name",
            "password_length",
            "auth_strategy",
            "ssh_key_fingerprint",
            // Ordinary words that contain a marker.
            "keyboard_layout",
            "keystone_region",
            "pci_passthrough",
            "passive",
            "author",
            "private_network",
            "session_timeout",
            "deploy_kernel",
            "deploy_ramdisk",
            "image_source",
            "image_url",
            "kernel_append_params",
            "capabilities",
            "agent_url",
            "",
        ] {
            assert!(!is_secret_key(k), "{k} must stay visible");
        }
    }

    #[test]
    fn url_passwords_and_secret_pairs() {
        let cases = [
            ("http://user:password@host", "http://user:******@host"),
            ("https://u:p@10.0.0.1:8000/redfish/v1", "https://u:******@10.0.0.1:8000/redfish/v1"),
            ("u:pw@bmc.example.com", "u:******@bmc.example.com"),
            ("http://u:p@ss@h/x", "http://u:******@h/x"),
            ("http://user@host/", "http://user@host/"),
            ("http://host/a@b", "http://host/a@b"),
            ("git@github.com:org/repo", "git@github.com:org/repo"),
            ("a@b.example", "a@b.example"),
            (
                "Failed to connect to http://admin:hunter2@10.0.0.5/redfish: refused; retry https://x:y@h2",
                "Failed to connect to http://admin:******@10.0.0.5/redfish: refused; retry https://x:******@h2",
            ),
            ("'http://a:b@h1,http://c:d@h2'", "'http://a:******@h1,http://c:******@h2'"),
            (
                "http://swift/v1/o?temp_url_sig=abc&temp_url_expires=1",
                "http://swift/v1/o?temp_url_sig=******&temp_url_expires=1",
            ),
            ("console=ttyS0 root_password=x ipa-debug=1", "console=ttyS0 root_password=****** ipa-debug=1"),
            ("redfish_address=u:p@h", "redfish_address=u:******@h"),
            ("token=abc", "token=******"),
            ("auth_type=basic", "auth_type=basic"),
            ("dGVzdA==", "dGVzdA=="),
            ("plain text", "plain text"),
            ("ü http://ü:ö@h ü", "ü http://ü:******@h ü"),
        ];
        for (input, want) in cases {
            assert_eq!(mask_text(input), want, "{input}");
        }
        assert!(matches!(mask_text("http://h/x"), Cow::Borrowed(_)));
    }

    #[test]
    fn writes_masked_without_copy_and_in_place_alike() {
        let o = json!({
            "ipmi_password": "x", "ipmi_username": "u", "enabled_auth": true,
            "nested": {"redfish_password": "y", "list": [{"token": 1}, "http://a:b@h"]},
            "credentials": {"user": "u", "value": "v"}, "auth_required": null,
            "redfish_address": "http://u:pw@h", "image_url": "http://x/?temp_url_sig=1",
        });
        let want = json!({
            "ipmi_password": MASK, "ipmi_username": "u", "enabled_auth": true,
            "nested": {"redfish_password": MASK, "list": [{"token": MASK}, "http://a:******@h"]},
            "credentials": MASK, "auth_required": null,
            "redfish_address": "http://u:******@h", "image_url": "http://x/?temp_url_sig=******",
        });
        let obj = o.as_object().unwrap();
        let written = serde_json::to_value(Masked {
            obj,
            instance_info: false,
        })
        .unwrap();
        assert_eq!(written, want);
        assert_eq!(masked(&o), want);
        let ii = serde_json::to_value(Masked {
            obj,
            instance_info: true,
        })
        .unwrap();
        assert_eq!(ii["image_url"], MASK);
    }

    #[test]
    fn node_debug_is_masked() {
        let n = crate::model::node::Node {
            driver_info: json!({"ipmi_password": "hunter2", "ipmi_address": "10.0.0.1"})
                .as_object()
                .unwrap()
                .clone(),
            ..Default::default()
        };
        let d = format!("{n:?}");
        assert!(!d.contains("hunter2") && d.contains("10.0.0.1"), "{d}");
    }

    #[test]
    fn opaque_keeps_only_the_shape() {
        assert_eq!(
            opaque(&json!(["a", 1, true, null, "", {"k": "v"}])),
            json!([MASK, MASK, true, null, "", {"k": MASK}])
        );
    }
}
