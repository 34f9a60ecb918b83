//! Config drives: the ISO9660 image labelled `config-2` that cloud-init, glean and
//! cloudbase-init read instance metadata from.
//!
//! Ironic accepts a config drive either as an encoded image or in JSON form
//! (`{"meta_data": {...}, "user_data": "..." | {...} | [...], "network_data": {...},
//! "vendor_data": {...}}`) and builds the image itself. We lay it out as Ironic's builder
//! does: `openstack/{2012-08-10,latest}/` holding `meta_data.json`, `user_data`,
//! `network_data.json` and `vendor_data2.json` (each only when given; `meta_data.json`
//! always). The filesystem is ISO9660 with Rock Ridge (Linux) and Joliet (Windows) names,
//! like `genisoimage -J -r -V config-2`.
//!
//! [`encode`] / [`decode`] are the gzip + base64 form stored in
//! `instance_info.configdrive` and sent to the agent.

use std::io::{Read, Write};

use base64::Engine as _;
use serde_json::Value;

use super::{sniff, Format, ImageError};

/// The volume label cloud-init looks for.
pub const LABEL: &str = "config-2";
/// Ironic's limit on a config drive (it must fit a partition the agent creates).
pub const MAX_SIZE: usize = 64 << 20;
const VERSIONS: [&str; 2] = ["2012-08-10", "latest"];

/// Builds the config drive image from Ironic's JSON form.
pub fn build(json: &Value) -> Result<Vec<u8>, ImageError> {
    let bad = |m: String| ImageError::ConfigDrive(m);
    let obj = json
        .as_object()
        .ok_or_else(|| bad("the config drive must be a JSON object or an encoded image".into()))?;
    for key in obj.keys() {
        if !["meta_data", "user_data", "network_data", "vendor_data"].contains(&key.as_str()) {
            return Err(bad(format!("unknown config drive key {key:?}")));
        }
    }
    let object = |key: &str| -> Result<Option<Vec<u8>>, ImageError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v.to_string().into_bytes())),
            Some(_) => Err(bad(format!("{key} must be a JSON object"))),
        }
    };
    let meta = object("meta_data")?.unwrap_or_else(|| b"{}".to_vec());
    let network = object("network_data")?;
    let vendor = object("vendor_data")?;
    let user = match obj.get("user_data") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone().into_bytes()),
        Some(v @ (Value::Object(_) | Value::Array(_))) => Some(v.to_string().into_bytes()),
        Some(_) => return Err(bad("user_data must be a string, object or list".into())),
    };
    let mut files: Vec<(String, &[u8])> = Vec::new();
    for version in VERSIONS {
        let dir = format!("openstack/{version}");
        files.push((format!("{dir}/meta_data.json"), &meta));
        if let Some(u) = &user {
            files.push((format!("{dir}/user_data"), u));
        }
        if let Some(n) = &network {
            files.push((format!("{dir}/network_data.json"), n));
        }
        if let Some(v) = &vendor {
            files.push((format!("{dir}/vendor_data2.json"), v));
        }
    }
    let content: usize = files.iter().map(|(_, d)| d.len()).sum();
    if content > MAX_SIZE {
        return Err(ImageError::TooBig {
            size: content as u64,
            limit: MAX_SIZE as u64,
        });
    }
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, d)| (p.as_str(), *d)).collect();
    let iso = iso9660(LABEL, &refs)?;
    if iso.len() > MAX_SIZE {
        return Err(ImageError::TooBig {
            size: iso.len() as u64,
            limit: MAX_SIZE as u64,
        });
    }
    Ok(iso)
}

/// gzip + base64, as Ironic stores and sends a config drive.
pub fn encode(image: &[u8]) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(image);
    let compressed = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(compressed)
}

/// The image inside an encoded config drive: base64 of a gzipped or plain ISO9660 (or
/// vfat) image. Anything else is refused.
pub fn decode(encoded: &str) -> Result<Vec<u8>, ImageError> {
    let bad = |m: &str| ImageError::ConfigDrive(m.to_string());
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
        .map_err(|_| bad("not base64"))?;
    let image = if sniff(&raw) == Format::Gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_SIZE as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| ImageError::ConfigDrive(format!("bad gzip data: {e}")))?;
        out
    } else {
        raw
    };
    if image.len() > MAX_SIZE {
        return Err(ImageError::TooBig {
            size: image.len() as u64,
            limit: MAX_SIZE as u64,
        });
    }
    let is_fat = image.get(510..512) == Some(&[0x55, 0xaa][..])
        && (image.get(54..57) == Some(&b"FAT"[..]) || image.get(82..85) == Some(&b"FAT"[..]));
    if sniff(&image) != Format::Iso && !is_fat {
        return Err(bad(
            "the decoded data is neither an ISO9660 nor a vfat image",
        ));
    }
    Ok(image)
}

/// A minimal ISO9660 image with Rock Ridge and Joliet names holding `files` (paths with
/// `/`, directories implied), labelled `label`.
pub fn iso9660(label: &str, files: &[(&str, &[u8])]) -> Result<Vec<u8>, ImageError> {
    super::iso9660::build(label, files, chrono::Utc::now())
}

#[cfg(test)]
mod tests;
