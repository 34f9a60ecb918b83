//! RMCP+ cryptography for the two cipher suites we speak (IPMI 2.0 §13.28–13.29):
//! 3 (RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128) and 17 (RAKP-HMAC-SHA256,
//! HMAC-SHA256-128, AES-CBC-128): RAKP auth codes, SIK/K1/K2, packet integrity, payload
//! confidentiality.

use aes::Aes128;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// Cipher suite 3.
    Sha1,
    /// Cipher suite 17.
    Sha256,
}

impl Suite {
    pub fn id(self) -> u8 {
        match self {
            Suite::Sha1 => 3,
            Suite::Sha256 => 17,
        }
    }

    /// Algorithm numbers for Open Session: (authentication, integrity, confidentiality).
    pub fn algorithms(self) -> (u8, u8, u8) {
        match self {
            Suite::Sha1 => (0x01, 0x01, 0x01),
            Suite::Sha256 => (0x03, 0x04, 0x01),
        }
    }

    /// Bytes of the full HMAC (RAKP 2/3 auth codes, SIK, K1, K2).
    pub fn mac_len(self) -> usize {
        match self {
            Suite::Sha1 => 20,
            Suite::Sha256 => 32,
        }
    }

    /// Bytes of a packet's AuthCode and of RAKP 4's integrity check value.
    pub fn icv_len(self) -> usize {
        match self {
            Suite::Sha1 => 12,
            Suite::Sha256 => 16,
        }
    }

    /// HMAC over the concatenation of `parts`. HMAC accepts keys of any length, so the
    /// error arm cannot happen; it yields an empty tag, which never verifies.
    pub fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
            match <M as hmac::digest::KeyInit>::new_from_slice(key) {
                Ok(mut m) => {
                    for p in parts {
                        m.update(p);
                    }
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }
        match self {
            Suite::Sha1 => run::<Hmac<sha1::Sha1>>(key, parts),
            Suite::Sha256 => run::<Hmac<sha2::Sha256>>(key, parts),
        }
    }
}

/// Kuid: the user's password, zero-padded to the 20 bytes IPMI allows.
pub fn user_key(password: &str) -> Vec<u8> {
    let mut k = password.as_bytes().to_vec();
    if k.len() < 20 {
        k.resize(20, 0);
    }
    k
}

/// The session's keys once RAKP is done.
#[derive(Clone)]
pub struct Keys {
    pub suite: Suite,
    pub sik: Vec<u8>,
    /// Integrity key.
    pub k1: Vec<u8>,
    /// AES-128 key: the first 16 bytes of K2.
    pub aes: [u8; 16],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({:?}, ******)", self.suite)
    }
}

impl Keys {
    /// SIK = HMAC_Kuid(Rm | Rc | role | ulen | name); Kn = HMAC_SIK(n repeated).
    pub fn derive(suite: Suite, kuid: &[u8], rm: &[u8], rc: &[u8], role: u8, user: &[u8]) -> Keys {
        let ulen = [user.len() as u8];
        let sik = suite.hmac(kuid, &[rm, rc, &[role], &ulen, user]);
        let n = suite.mac_len();
        let k1 = suite.hmac(&sik, &[&vec![1u8; n]]);
        let k2 = suite.hmac(&sik, &[&vec![2u8; n]]);
        let mut aes = [0u8; 16];
        for (d, s) in aes.iter_mut().zip(k2.iter()) {
            *d = *s;
        }
        Keys {
            suite,
            sik,
            k1,
            aes,
        }
    }

    /// A packet's AuthCode: the truncated HMAC_K1 over its bytes from AuthType to Next Header.
    pub fn auth_code(&self, covered: &[u8]) -> Vec<u8> {
        let mut m = self.suite.hmac(&self.k1, &[covered]);
        m.truncate(self.suite.icv_len());
        m
    }

    pub fn verify(&self, covered: &[u8], code: &[u8]) -> bool {
        let want = self.auth_code(covered);
        !want.is_empty() && bool::from(want.as_slice().ct_eq(code))
    }

    /// IV followed by AES-CBC-128 of `data` with IPMI's pad (1, 2, … n, then n).
    pub fn encrypt(&self, iv: [u8; 16], data: &[u8]) -> Vec<u8> {
        let pad = (16 - (data.len() + 1) % 16) % 16;
        let mut buf = Vec::with_capacity(data.len() + pad + 1);
        buf.extend_from_slice(data);
        buf.extend((1..=pad).map(|i| i as u8));
        buf.push(pad as u8);
        let len = buf.len();
        let enc = cbc::Encryptor::<Aes128>::new(&self.aes.into(), &iv.into());
        let mut out = iv.to_vec();
        // `len` is a whole number of blocks by construction, so this cannot fail.
        if let Ok(ct) = enc.encrypt_padded_mut::<NoPadding>(&mut buf, len) {
            out.extend_from_slice(ct);
        }
        out
    }

    /// The inverse of [`Keys::encrypt`]; None for anything malformed.
    pub fn decrypt(&self, payload: &[u8]) -> Option<Vec<u8>> {
        if payload.len() < 32 || !payload.len().is_multiple_of(16) {
            return None;
        }
        let (iv, ct) = payload.split_at(16);
        let dec = cbc::Decryptor::<Aes128>::new_from_slices(&self.aes, iv).ok()?;
        let mut buf = ct.to_vec();
        let pt = dec.decrypt_padded_mut::<NoPadding>(&mut buf).ok()?;
        let (&pad, rest) = pt.split_last()?;
        let pad = usize::from(pad);
        if pad > 15 || pad > rest.len() {
            return None;
        }
        let (data, padding) = rest.split_at(rest.len() - pad);
        // The pad must read 1, 2, … n (IPMI 2.0 §13.29).
        if padding
            .iter()
            .enumerate()
            .any(|(i, &b)| usize::from(b) != i + 1)
        {
            return None;
        }
        Some(data.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    // Inputs shared by the fixed vectors below; the expected values were computed with
    // Python's hmac/hashlib, independently of this code.
    const RM: [u8; 16] = *b"0123456789abcdef";
    const RC: [u8; 16] = *b"fedcba9876543210";

    #[test]
    fn sha1_key_derivation_matches_fixed_vector() {
        let k = Keys::derive(Suite::Sha1, &user_key("password"), &RM, &RC, 0x14, b"admin");
        assert_eq!(hex(&k.sik), SHA1_SIK);
        assert_eq!(hex(&k.k1), SHA1_K1);
        assert_eq!(hex(&k.aes), SHA1_AES);
        assert_eq!(hex(&k.auth_code(b"integrity test")), SHA1_ICV);
    }

    #[test]
    fn sha256_key_derivation_matches_fixed_vector() {
        let k = Keys::derive(
            Suite::Sha256,
            &user_key("password"),
            &RM,
            &RC,
            0x14,
            b"admin",
        );
        assert_eq!(hex(&k.sik), SHA256_SIK);
        assert_eq!(hex(&k.k1), SHA256_K1);
        assert_eq!(hex(&k.aes), SHA256_AES);
        assert_eq!(hex(&k.auth_code(b"integrity test")), SHA256_ICV);
    }

    #[test]
    fn integrity_rejects_any_change() {
        let k = Keys::derive(Suite::Sha1, &user_key("pw"), &RM, &RC, 0x14, b"u");
        let code = k.auth_code(b"hello");
        assert!(k.verify(b"hello", &code));
        assert!(!k.verify(b"hellp", &code));
        let mut bad = code.clone();
        bad[0] ^= 1;
        assert!(!k.verify(b"hello", &bad));
        assert!(!k.verify(b"hello", &code[..11]));
        assert!(!k.verify(b"hello", &[]));
    }

    #[test]
    fn aes_round_trips_every_length_and_matches_fixed_vector() {
        let k = Keys::derive(Suite::Sha1, &user_key("password"), &RM, &RC, 0x14, b"admin");
        for n in 0..40 {
            let data: Vec<u8> = (0..n as u8).collect();
            let ct = k.encrypt([7; 16], &data);
            assert_eq!(ct.len() % 16, 0);
            assert_eq!(k.decrypt(&ct), Some(data));
        }
        assert_eq!(hex(&k.encrypt([0x11; 16], b"SOL")), SHA1_AES_CT);
    }

    #[test]
    fn decrypt_refuses_garbage() {
        let k = Keys::derive(Suite::Sha1, &user_key("password"), &RM, &RC, 0x14, b"admin");
        assert_eq!(k.decrypt(&[]), None);
        assert_eq!(k.decrypt(&[0; 16]), None);
        assert_eq!(k.decrypt(&[0; 33]), None);
        // A wrong key decrypts to a bad pad (almost always); it must not panic either way.
        let other = Keys::derive(Suite::Sha1, &user_key("other"), &RM, &RC, 0x14, b"admin");
        for n in 0..20 {
            let _ = other.decrypt(&k.encrypt([n; 16], b"some data"));
        }
        let mut ct = k.encrypt([3; 16], b"x");
        let last = ct.len() - 1;
        ct[last] ^= 0x80;
        assert_ne!(k.decrypt(&ct), Some(b"x".to_vec()));
    }

    const SHA1_SIK: &str = "762f7c864b65ff456482aeb1717ff39017ba20c0";
    const SHA1_K1: &str = "1ba595b5f3939a5a51bfc65b629f45044db4dcdf";
    const SHA1_AES: &str = "582996cbd074231645d717674651703a";
    const SHA1_ICV: &str = "c4426abea6b553607bca11f8";
    const SHA256_SIK: &str = "25264451a45382cf6756877daa7c56cd021ff644149003cd09e070ecc57fbd8f";
    const SHA256_K1: &str = "b7e76da4020ab7edcd4f5967a5feba1db91602d38eda73b3ec20bcf7ec5d92a6";
    const SHA256_AES: &str = "bf4ec873b85ffa3a5d3cbf64967b7a10";
    const SHA256_ICV: &str = "6fc795890bbbd027a5876f53bba5dec3";
    const SHA1_AES_CT: &str = "111111111111111111111111111111119c0275f02d1e58a7e90f9c0990b0917d";
}
