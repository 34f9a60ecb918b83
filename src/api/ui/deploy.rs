//! What the Deploy form does: the image (a URL with its checksum, or an entry of the image
//! cache) into the node's `instance_info` by the conductor call of `PATCH /v1/nodes/{id}`,
//! the SSH keys and hostname into a config drive (Ironic's JSON form, built into an ISO by
//! the deploy), then `PUT /v1/nodes/{id}/states/provision {"target": "active"}`'s own
//! parsing and conductor call.

use serde_json::{json, Map, Value};

use super::enroll::FormError;
use super::form_data::Form;
use crate::api::error::ApiError;
use crate::api::microversion::Version;
use crate::api::params::provision::{provision_body, ProvisionRequest};
use crate::api::State;
use crate::conductor::fsm::Event;
use crate::conductor::CachedImageListing;
use crate::model::node::Node;
use crate::model::validate;

/// The form's values, as typed.
#[derive(Debug, Default, Clone)]
pub struct DeployForm {
    pub image_source: String,
    pub image_checksum: String,
    pub os_hash_algo: String,
    pub os_hash_value: String,
    /// The `image_source` of a cache entry picked instead of a URL.
    pub cached: String,
    /// OpenSSH public keys, one a line.
    pub ssh_keys: String,
    pub hostname: String,
}

/// The form's inputs besides the shell's `_csrf` and `_nonce`.
pub const FIELDS: &[&str] = &[
    "image_source",
    "image_checksum",
    "os_hash_algo",
    "os_hash_value",
    "cached",
    "ssh_keys",
    "hostname",
];

/// The instance_info keys an image is given by (all replaced together).
const IMAGE_KEYS: &[&str] = &[
    "image_source",
    "image_checksum",
    "image_os_hash_algo",
    "image_os_hash_value",
];

/// Key types an OpenSSH public key line may start with.
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519 ",
    "ssh-rsa ",
    "ecdsa-sha2-",
    "sk-ssh-ed25519@openssh.com ",
    "sk-ecdsa-sha2-",
    "ssh-dss ",
];

impl DeployForm {
    pub fn from_form(f: &Form) -> Result<DeployForm, ApiError> {
        let one = |k: &str| -> Result<String, ApiError> { Ok(f.one(k)?.unwrap_or("").into()) };
        Ok(DeployForm {
            image_source: one("image_source")?,
            image_checksum: one("image_checksum")?,
            os_hash_algo: one("os_hash_algo")?,
            os_hash_value: one("os_hash_value")?,
            cached: one("cached")?,
            ssh_keys: f.lines("ssh_keys").join("\n"),
            hostname: one("hostname")?,
        })
    }

    /// The image keys for instance_info, from the URL fields or the picked cache entry.
    fn image(
        &self,
        node: &Node,
        cache: &[CachedImageListing],
    ) -> Result<Map<String, Value>, FormError> {
        let mut ii = Map::new();
        if !self.cached.is_empty() {
            if !self.image_source.is_empty() {
                return Err(FormError::at(
                    "cached",
                    ApiError::bad_request(
                        "Give an image URL or pick an image from the cache, not both.",
                    ),
                ));
            }
            let hit = cache
                .iter()
                .find(|c| c.source == self.cached)
                .ok_or_else(|| {
                    FormError::at(
                        "cached",
                        ApiError::bad_request(format!(
                            "Image {} is not in the image cache.",
                            self.cached
                        )),
                    )
                })?;
            ii.insert("image_source".into(), json!(hit.source));
            if let Some(c) = &hit.checksum {
                ii.insert("image_checksum".into(), json!(c));
            }
            return Ok(ii);
        }
        if self.image_source.is_empty() {
            // The deploy interface's own words for the same omission.
            return Err(FormError::at("image_source", ApiError::bad_request(format!(
                "Cannot validate image information for node {} because one or more parameters are missing from its instance_info: image_source",
                node.uuid
            ))));
        }
        ii.insert("image_source".into(), json!(self.image_source));
        for (key, val) in [
            ("image_checksum", &self.image_checksum),
            ("image_os_hash_algo", &self.os_hash_algo),
            ("image_os_hash_value", &self.os_hash_value),
        ] {
            if !val.is_empty() {
                ii.insert(key.into(), json!(val));
            }
        }
        Ok(ii)
    }

    /// Ironic's JSON config drive (`meta_data.public_keys`, `meta_data.hostname`), or none.
    fn configdrive(&self) -> Result<Option<Value>, FormError> {
        let mut meta = Map::new();
        if !self.hostname.is_empty() {
            let ok = self.hostname.len() <= 253
                && self.hostname.split('.').all(validate::is_hostname_safe);
            if !ok {
                return Err(FormError::at(
                    "hostname",
                    ApiError::bad_request(format!(
                        "Invalid hostname {:?}: letters, digits and '-' in dot-separated labels of at most 63 characters.",
                        self.hostname
                    )),
                ));
            }
            meta.insert("hostname".into(), json!(self.hostname));
        }
        let mut keys = Map::new();
        for (i, key) in self
            .ssh_keys
            .lines()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .enumerate()
        {
            if !KEY_TYPES.iter().any(|t| key.starts_with(t)) {
                return Err(FormError::at(
                    "ssh_keys",
                    ApiError::bad_request(format!(
                        "Line {} is not an OpenSSH public key (ssh-ed25519, ssh-rsa, ecdsa-sha2-... followed by the key).",
                        i + 1
                    )),
                ));
            }
            let name = if i == 0 {
                "default".to_string()
            } else {
                format!("key-{}", i + 1)
            };
            keys.insert(name, json!(key));
        }
        if !keys.is_empty() {
            meta.insert("public_keys".into(), Value::Object(keys));
        }
        Ok((!meta.is_empty()).then(|| json!({ "meta_data": meta })))
    }
}

/// Deploy `node`: the form checked, the provision checked against the state table before
/// anything changes, then the image into instance_info (as PATCH does) and the provision
/// request (as `PUT /states/provision` does).
pub async fn deploy(state: &State, node: Node, form: &DeployForm) -> Result<(), FormError> {
    let image = form.image(&node, &state.conductor.cached_images())?;
    let configdrive = form.configdrive()?;
    let mut body = json!({"target": "active"});
    if let (Some(cd), Some(o)) = (configdrive, body.as_object_mut()) {
        o.insert("configdrive".into(), cd);
    }
    let v = Version::MAX;
    ProvisionRequest::parse(provision_body(&body)?, v, &node)?;
    // Refused here (wrong state, maintenance) the node's instance_info stays as it was.
    crate::conductor::provision::precheck(
        &node,
        "active",
        Event::Deploy,
        state.config.conductor.allow_provisioning_in_maintenance,
    )?;
    let mut new = node.clone();
    for k in IMAGE_KEYS {
        new.instance_info.remove(*k);
    }
    new.instance_info.extend(image);
    let node = state
        .conductor
        .node_update(node, new, &["instance_info".to_string()], false)
        .await?;
    let ProvisionRequest { target, args } =
        ProvisionRequest::parse(provision_body(&body)?, v, &node)?;
    state
        .conductor
        .node_set_provision_state(node, target.verb, target.event, args)
        .await?;
    Ok(())
}

/// The cache's entries, for the form's picker.
pub fn cached_images(state: &State) -> Vec<CachedImageListing> {
    state.conductor.cached_images()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Node {
        Node {
            uuid: "1be26c0b-03f2-4d2e-ae87-c02d7f33c123".into(),
            ..Default::default()
        }
    }

    #[test]
    fn keys_and_hostname_make_ironics_configdrive() {
        let f = DeployForm {
            ssh_keys: "ssh-ed25519 AAAA a@b\n\nssh-rsa BBBB c@d".into(),
            hostname: "web-1.example.org".into(),
            ..Default::default()
        };
        assert_eq!(
            f.configdrive().unwrap(),
            Some(json!({"meta_data": {"hostname": "web-1.example.org",
                "public_keys": {"default": "ssh-ed25519 AAAA a@b", "key-2": "ssh-rsa BBBB c@d"}}}))
        );
        assert_eq!(DeployForm::default().configdrive().unwrap(), None);
    }

    #[test]
    fn bad_keys_and_hostnames_name_their_field() {
        let f = DeployForm {
            ssh_keys: "-----BEGIN OPENSSH PRIVATE KEY-----".into(),
            ..Default::default()
        };
        assert_eq!(f.configdrive().unwrap_err().field, Some("ssh_keys"));
        for bad in ["a_b", "-a", "a..b", "<script>"] {
            let f = DeployForm {
                hostname: bad.into(),
                ..Default::default()
            };
            assert_eq!(
                f.configdrive().unwrap_err().field,
                Some("hostname"),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_image_comes_from_the_url_or_the_cache() {
        let cache = vec![CachedImageListing {
            source: "http://127.0.0.1:1/img.raw".into(),
            checksum: Some("sha256:ab".into()),
            size: 1,
            format: "raw".into(),
        }];
        let f = DeployForm {
            cached: "http://127.0.0.1:1/img.raw".into(),
            ..Default::default()
        };
        assert_eq!(
            Value::Object(f.image(&node(), &cache).unwrap()),
            json!({"image_source": "http://127.0.0.1:1/img.raw", "image_checksum": "sha256:ab"})
        );
        let f = DeployForm {
            cached: "http://elsewhere/x".into(),
            ..Default::default()
        };
        assert_eq!(f.image(&node(), &cache).unwrap_err().field, Some("cached"));
        let f = DeployForm {
            image_source: "http://h/i".into(),
            os_hash_algo: "sha512".into(),
            os_hash_value: "00".into(),
            ..Default::default()
        };
        assert_eq!(
            Value::Object(f.image(&node(), &cache).unwrap()),
            json!({"image_source": "http://h/i", "image_os_hash_algo": "sha512", "image_os_hash_value": "00"})
        );
        let e = DeployForm::default().image(&node(), &cache).unwrap_err();
        assert_eq!(e.field, Some("image_source"));
    }
}
