//! `Mac`: a 48-bit Ethernet address, its two parsers (strict for the API, lenient for boot
//! paths and the kernel command line) and its one text form, `aa:bb:cc:dd:ee:ff`.

use std::fmt;
use std::str::FromStr;

/// An Ethernet MAC address. Stored and shown as lower-case `aa:bb:cc:dd:ee:ff`: that is the
/// form port addresses take in the database, so `to_string()` is the lookup key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

/// Not a MAC in the accepted spelling (the text is kept for the error message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid MAC address")]
pub struct MacError(pub String);

impl Mac {
    pub const fn octets(self) -> [u8; 6] {
        self.0
    }

    /// The first six bytes of a hardware address (a DHCP packet's `chaddr`), if there are six.
    pub fn from_slice(b: &[u8]) -> Option<Mac> {
        b.get(..6)?.try_into().ok().map(Mac)
    }

    /// What the API accepts (Ironic's `validate_and_normalize_mac`, as ironbox has always
    /// applied it): six hex pairs, any case, separated all by `:` or all by `-`.
    pub fn parse_strict(s: &str) -> Option<Mac> {
        let sep = if s.contains(':') { ':' } else { '-' };
        if s.contains(':') && s.contains('-') {
            return None;
        }
        pairs(s.split(sep))
    }

    /// What boot paths and the kernel command line carry: the strict forms, mixed `:`/`-`,
    /// pxelinux's `01-aa-bb-cc-dd-ee-ff` (hardware type 1 = Ethernet, as in `BOOTIF=`),
    /// twelve hex digits without separators, and surrounding whitespace.
    pub fn parse_lenient(s: &str) -> Option<Mac> {
        let s = s.trim();
        if s.len() == 12 && !s.contains([':', '-']) {
            return pairs((0..6).filter_map(|i| s.get(2 * i..2 * i + 2)));
        }
        let groups: Vec<&str> = s.split([':', '-']).collect();
        match groups.as_slice() {
            [ty, rest @ ..] if rest.len() == 6 && *ty == "01" => pairs(rest.iter().copied()),
            all => pairs(all.iter().copied()),
        }
    }
}

/// Exactly six two-digit hex groups → the address.
fn pairs<'a>(mut groups: impl Iterator<Item = &'a str>) -> Option<Mac> {
    let mut mac = [0u8; 6];
    for m in mac.iter_mut() {
        let g = groups.next()?;
        // from_str_radix alone would take "+a" or "a"; Ironic wants two hex digits.
        if g.len() != 2 || !g.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *m = u8::from_str_radix(g, 16).ok()?;
    }
    groups.next().is_none().then_some(Mac(mac))
}

impl FromStr for Mac {
    type Err = MacError;

    /// The strict (API) form; see [`Mac::parse_strict`].
    fn from_str(s: &str) -> Result<Mac, MacError> {
        Mac::parse_strict(s).ok_or_else(|| MacError(s.to_string()))
    }
}

impl From<[u8; 6]> for Mac {
    fn from(b: [u8; 6]) -> Mac {
        Mac(b)
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

impl serde::Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Mac, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: Mac = Mac([0x52, 0x54, 0x00, 0xab, 0xcd, 0x01]);

    #[test]
    fn strict_accepts_the_api_forms() {
        for good in [
            "52:54:00:AB:cd:01",
            "52:54:00:ab:cd:01",
            "52-54-00-ab-cd-01",
        ] {
            assert_eq!(Mac::parse_strict(good), Some(M), "{good}");
            assert_eq!(good.parse::<Mac>(), Ok(M), "{good}");
        }
    }

    #[test]
    fn strict_rejects_everything_else() {
        for bad in [
            "",
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:0g",
            "5254.00ab.cd01",
            "52:54-00:ab:cd:01",
            "52:54:00:ab:cd:011",
            "52:54:00:ab:cd:01:",
            "52:54:00:ab:cd:1",
            "52:54:00:ab:cd:+1",
            "525400abcd01",
            "01-52-54-00-ab-cd-01",
            " 52:54:00:ab:cd:01",
        ] {
            assert_eq!(Mac::parse_strict(bad), None, "{bad}");
            assert_eq!(bad.parse::<Mac>(), Err(MacError(bad.into())), "{bad}");
        }
    }

    #[test]
    fn lenient_accepts_boot_forms() {
        for good in [
            "52:54:00:ab:cd:01",
            "52-54-00-AB-CD-01",
            "01-52-54-00-ab-cd-01",
            "01:52:54:00:ab:cd:01",
            "52:54-00:ab:cd:01",
            "525400ABcd01",
            "  52:54:00:ab:cd:01\n",
        ] {
            assert_eq!(Mac::parse_lenient(good), Some(M), "{good}");
        }
    }

    #[test]
    fn lenient_rejects_non_macs() {
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "02-aa-bb-cc-dd-ee-ff",
            "aa:bb:cc:dd:ee:fg",
            "aa:bb:cc:dd:ee:ff:00",
            "5254.00ab.cd01",
            "525400abcd0",
            "525400abcd0g",
            "01525400abcd01",
            "ipxe.efi",
            "a:b:c:d:e:f",
        ] {
            assert_eq!(Mac::parse_lenient(bad), None, "{bad}");
        }
    }

    #[test]
    fn display_is_lower_case_colons() {
        assert_eq!(M.to_string(), "52:54:00:ab:cd:01");
        assert_eq!(Mac([0xff; 6]).to_string(), "ff:ff:ff:ff:ff:ff");
        assert_eq!(format!("{M:?}"), "Mac(52:54:00:ab:cd:01)");
        assert_eq!(
            Mac::from_slice(&[1, 2, 3, 4, 5, 6, 7]),
            Some(Mac([1, 2, 3, 4, 5, 6]))
        );
        assert_eq!(Mac::from_slice(&[1, 2, 3]), None);
    }

    #[test]
    fn serde_is_the_text_form() {
        assert_eq!(serde_json::to_value(M).unwrap(), "52:54:00:ab:cd:01");
        let back: Mac = serde_json::from_value(serde_json::json!("52-54-00-AB-CD-01")).unwrap();
        assert_eq!(back, M);
        assert!(serde_json::from_value::<Mac>(serde_json::json!("nope")).is_err());
    }
}
