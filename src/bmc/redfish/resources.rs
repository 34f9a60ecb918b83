//! The Redfish resources ironbox uses: the ComputerSystem, its Reset action and the
//! virtual media devices (of the system or of its managers), and member links.

use serde_json::{json, Value};

use super::*;

impl Client {
    /// `@odata.id` of each member of the collection at `path`.
    pub async fn members(&self, path: &str) -> Result<Vec<String>, RedfishError> {
        let v = self.get(path).await?;
        Ok(member_ids(&v))
    }

    /// The ComputerSystem's path: `system_id` (a path, or an Id under `Systems`), or the
    /// only member of the Systems collection.
    pub async fn system_path(&self) -> Result<String, RedfishError> {
        match &self.ep.system_id {
            Some(id) if id.starts_with('/') => Ok(id.clone()),
            Some(id) => Ok(format!("{}Systems/{id}", self.ep.root)),
            None => {
                let systems = format!("{}Systems", self.ep.root);
                let ids = self.members(&systems).await?;
                match ids.as_slice() {
                    [one] => Ok(one.clone()),
                    [] => Err(self.protocol(format!("{systems} has no ComputerSystem"))),
                    many => Err(self.protocol(format!(
                        "{systems} has {} ComputerSystems ({}); set redfish_system_id to choose one",
                        many.len(),
                        many.join(", ")
                    ))),
                }
            }
        }
    }

    /// The ComputerSystem: its path and its JSON.
    pub async fn system(&self) -> Result<(String, Value), RedfishError> {
        let path = self.system_path().await?;
        let v = self.get(&path).await?;
        Ok((path, v))
    }

    /// POST `ComputerSystem.Reset` with `reset_type` (the system's JSON names the target).
    pub async fn reset(
        &self,
        system_path: &str,
        system: &Value,
        reset_type: &str,
    ) -> Result<(), RedfishError> {
        let target = action_target(system_path, system, "ComputerSystem.Reset");
        self.post(&target, &json!({ "ResetType": reset_type }))
            .await
    }

    /// Virtual media collections that may hold the system's devices: the System's own
    /// (newer BMCs) first, then those of the Managers that manage it.
    async fn media_collections(&self, system: &Value) -> Vec<String> {
        let mut collections = vec![];
        if let Some(p) = system
            .pointer("/VirtualMedia/@odata.id")
            .and_then(Value::as_str)
        {
            collections.push(p.to_string());
        }
        for m in member_links(system.pointer("/Links/ManagedBy").unwrap_or(&Value::Null)) {
            if let Ok(mgr) = self.get(&m).await {
                if let Some(p) = mgr
                    .pointer("/VirtualMedia/@odata.id")
                    .and_then(Value::as_str)
                {
                    if !collections.iter().any(|c| c == p) {
                        collections.push(p.to_string());
                    }
                }
            }
        }
        collections
    }

    /// Virtual media devices whose MediaTypes include one of `types` (any device when
    /// `types` is empty), from the first collection that has such a device. (path, JSON)
    /// each, in the BMC's order.
    pub async fn media_devices(
        &self,
        system: &Value,
        types: &[&str],
    ) -> Result<Vec<(String, Value)>, RedfishError> {
        let mut out = vec![];
        for c in self.media_collections(system).await {
            let Ok(ids) = self.members(&c).await else {
                continue;
            };
            for id in ids {
                let v = self.get(&id).await?;
                let fits =
                    types.is_empty() || media_types(&v).iter().any(|m| types.contains(&m.as_str()));
                if fits {
                    out.push((id, v));
                }
            }
            if !out.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    /// Virtual media devices that take CD/DVD images (see [`Client::media_devices`]).
    pub async fn cd_devices(&self, system: &Value) -> Result<Vec<(String, Value)>, RedfishError> {
        self.media_devices(system, &["CD", "DVD"]).await
    }

    pub async fn insert_media(
        &self,
        device_path: &str,
        device: &Value,
        image: &str,
    ) -> Result<(), RedfishError> {
        let target = action_target(device_path, device, "VirtualMedia.InsertMedia");
        self.post(
            &target,
            &json!({"Image": image, "Inserted": true, "WriteProtected": true}),
        )
        .await
    }

    pub async fn eject_media(&self, device_path: &str, device: &Value) -> Result<(), RedfishError> {
        let target = action_target(device_path, device, "VirtualMedia.EjectMedia");
        self.post(&target, &json!({})).await
    }
}

/// A virtual media device's `MediaTypes`.
pub fn media_types(device: &Value) -> Vec<String> {
    field(device, "MediaTypes")
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `@odata.id`s of a collection's `Members`.
pub fn member_ids(collection: &Value) -> Vec<String> {
    member_links(field(collection, "Members"))
}

/// `v[key]` without the index operator: the member, or `Null` when `v` has none (as
/// indexing gives), so absent and null stay alike for the callers.
pub fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&Value::Null)
}

/// `@odata.id`s of a JSON array of links.
pub fn member_links(links: &Value) -> Vec<String> {
    links
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["@odata.id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Where to POST a resource's action: the target it advertises, else the standard path.
pub(super) fn action_target(path: &str, resource: &Value, action: &str) -> String {
    resource
        .pointer(&format!("/Actions/#{action}/target"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{path}/Actions/{action}"))
}
