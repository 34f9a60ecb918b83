//! Pure validators for identifiers Ironic constrains: UUIDs, logical names, traits
//! (MACs are `model::mac::Mac`).

/// True for a UUID in any form Python's uuid module accepts that Ironic would (hyphenated or not).
pub fn is_uuid_like(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok() && (s.len() == 36 || s.len() == 32)
}

/// Canonical lower-case hyphenated form of a UUID-like string.
pub fn normalize_uuid(s: &str) -> Option<String> {
    if !is_uuid_like(s) {
        return None;
    }
    uuid::Uuid::try_parse(s).ok().map(|u| u.to_string())
}

/// Logical names (microversion >= 1.10): RFC 3986 unreserved characters, at most 255,
/// and not UUID-shaped (a UUID-shaped name would be ambiguous in `/nodes/{ident}`).
pub fn is_valid_logical_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        && !is_uuid_like(s)
}

/// Names before 1.10 had to be valid host names (RFC 952/1123).
pub fn is_hostname_safe(s: &str) -> bool {
    if s.is_empty() || s.len() > 63 || is_uuid_like(s) {
        return false;
    }
    let b = s.as_bytes();
    b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b.first().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.last().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Trait names: `CUSTOM_` + `[A-Z0-9_]`, or a standard os-traits-shaped name
/// (upper case, digits and `_`); at most 255 characters.
pub fn is_valid_trait(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && s.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && (s.starts_with("CUSTOM_") && s.len() > 7 || !s.starts_with("CUSTOM_"))
}

/// Conductor groups: `[a-zA-Z0-9_.-]`, at most 255 (stored lower-case).
pub fn is_valid_conductor_group(s: &str) -> bool {
    s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_logical_name("node-1.rack_2~a"));
        assert!(!is_valid_logical_name("has space"));
        assert!(!is_valid_logical_name(
            "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
        ));
        assert!(!is_valid_logical_name(&"a".repeat(256)));
        assert!(is_hostname_safe("node-1"));
        assert!(!is_hostname_safe("node_1"));
        assert!(!is_hostname_safe("-node"));
    }

    #[test]
    fn traits() {
        assert!(is_valid_trait("CUSTOM_GOLD"));
        assert!(is_valid_trait("HW_CPU_X86_AVX2"));
        assert!(!is_valid_trait("CUSTOM_"));
        assert!(!is_valid_trait("custom_gold"));
        assert!(!is_valid_trait("bad-trait"));
    }

    #[test]
    fn uuids() {
        assert!(is_uuid_like("1be26c0b-03f2-4d2e-ae87-c02d7f33c123"));
        assert!(is_uuid_like("1BE26C0B03F24D2EAE87C02D7F33C123"));
        assert!(!is_uuid_like("not-a-uuid"));
        assert_eq!(
            normalize_uuid("1BE26C0B03F24D2EAE87C02D7F33C123").as_deref(),
            Some("1be26c0b-03f2-4d2e-ae87-c02d7f33c123")
        );
    }
}

/// Result of one interface's validate, as `/v1/nodes/X/validate` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub ok: bool,
    pub reason: Option<String>,
}
