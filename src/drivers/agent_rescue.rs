//! The `agent` rescue interface (Ironic's `AgentRescue`): boot the rescue ramdisk, and when
//! its agent calls in hand it the hashed rescue password (`rescue.finalize_rescue`); the
//! agent then stops serving and leaves a console/SSH login for the `rescue` user. Unrescue
//! boots the instance again. Works with the built-in agent and with stock IPA.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::agent_client::AgentClient;
use super::*;
use crate::model::dii::{forget_agent, AGENT_PENDING_COMMAND};
use crate::model::states::{POWER_OFF, POWER_ON};

pub struct AgentRescue;

/// Where the plain and the hashed rescue password are kept while a rescue is under way
/// (Ironic's `instance_info` keys; both are masked in every view).
pub const RESCUE_PASSWORD: &str = "rescue_password";
pub const HASHED_RESCUE_PASSWORD: &str = "hashed_rescue_password";

fn non_empty<'a>(o: &'a crate::model::JsonObject, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The rescue kernel and ramdisk: the node's driver_info, else `[conductor]` (as Ironic,
/// never the deploy ones).
fn rescue_images(ctx: &TaskContext<'_>) -> Result<(String, String), DriverError> {
    let di = &ctx.node.driver_info;
    let c = &ctx.config.conductor;
    let kernel = non_empty(di, "rescue_kernel").unwrap_or(&c.rescue_kernel);
    let ramdisk = non_empty(di, "rescue_ramdisk").unwrap_or(&c.rescue_ramdisk);
    // Python's list repr, as Ironic's message shows it.
    let missing: Vec<String> = [("rescue_kernel", kernel), ("rescue_ramdisk", ramdisk)]
        .into_iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(k, _)| format!("'{k}'"))
        .collect();
    if !missing.is_empty() {
        return Err(DriverError::MissingParameterValue(format!(
            "Cannot validate PXE bootloader. Some parameters were missing in node's \
             driver_info and configuration. Missing are: [{}]",
            missing.join(", ")
        )));
    }
    Ok((kernel.to_string(), ramdisk.to_string()))
}

/// Forget both passwords (Ironic's `remove_node_rescue_password`).
pub fn forget_password(ctx: &mut TaskContext<'_>) {
    ctx.node.instance_info.remove(RESCUE_PASSWORD);
    ctx.node.instance_info.remove(HASHED_RESCUE_PASSWORD);
}

#[async_trait]
impl StepInterface for AgentRescue {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        rescue_images(ctx)?;
        let uuid = &ctx.node.uuid;
        match ctx.node.instance_info.get(RESCUE_PASSWORD) {
            None | Some(Value::Null) => Err(DriverError::MissingParameterValue(format!(
                "Node {uuid} is missing 'instance_info/rescue_password'. It is required for \
                 rescuing node."
            ))),
            Some(Value::String(p)) if !p.trim().is_empty() => Ok(()),
            Some(_) => Err(DriverError::InvalidParameterValue(format!(
                "The 'instance_info/rescue_password' is an empty string for node {uuid}. The \
                 'rescue_password' must be a non-empty string value."
            ))),
        }
    }
}

#[async_trait]
impl RescueInterface for AgentRescue {
    /// Power off, stop booting the instance, boot the rescue ramdisk: wait for its agent.
    async fn rescue(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Progress, DriverError> {
        let (kernel, ramdisk) = rescue_images(ctx)?;
        hw.power.set_power_state(ctx, POWER_OFF, None).await?;
        hw.boot.clean_up_instance(ctx).await?;
        super::direct::boot_agent_from(hw, ctx, "the rescue ramdisk", "", kernel, ramdisk).await?;
        Ok(Progress::Wait)
    }

    /// Power off, forget the rescue, boot the instance again.
    async fn unrescue(&self, hw: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        hw.power.set_power_state(ctx, POWER_OFF, None).await?;
        self.clean_up(hw, ctx).await?;
        hw.boot.prepare_instance(ctx).await?;
        if hw.management.supported_boot_devices(ctx).contains(&"disk") {
            hw.management.set_boot_device(ctx, "disk", true).await?;
        }
        forget_agent(&mut ctx.node.driver_internal_info);
        hw.power.set_power_state(ctx, POWER_ON, None).await
    }

    /// Send the hashed password (never the plain one) and, once the agent took it, stop
    /// network-booting the ramdisk: the machine stays up in it.
    async fn finalize(&self, hw: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let hashed = non_empty(&ctx.node.instance_info, HASHED_RESCUE_PASSWORD)
            .ok_or_else(|| {
                DriverError::Failed("Agent rescue requires rescue_password in instance_info".into())
            })?
            .to_string();
        let client = AgentClient::for_node(
            &ctx.node.driver_internal_info,
            ctx.config.agent.command_timeout,
        )
        .map_err(DriverError::client)?;
        let result = client
            .execute(
                "rescue.finalize_rescue",
                json!({"rescue_password": hashed, "hashed": true}),
                false,
            )
            .await
            .map_err(DriverError::client)?;
        if !result.succeeded() {
            return Err(DriverError::Failed(format!(
                "Agent returned bad result for command finalize_rescue: {}",
                result.error_message()
            )));
        }
        self.clean_up(hw, ctx).await
    }

    async fn clean_up(&self, hw: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        forget_password(ctx);
        ctx.node.driver_internal_info.remove(AGENT_PENDING_COMMAND);
        hw.boot.clean_up_ramdisk(ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::Node;

    fn node(ii: Value, di: Value) -> Node {
        Node {
            uuid: "1be26c0b-03f2-4d2e-ae87-c02d7f33c123".into(),
            instance_info: serde_json::from_value(ii).unwrap(),
            driver_info: serde_json::from_value(di).unwrap(),
            ..Default::default()
        }
    }

    async fn validate(n: &mut Node, config: &crate::config::Config) -> Result<(), DriverError> {
        let ctx = TaskContext::new(n, &[], config);
        AgentRescue.validate(&ctx).await
    }

    #[tokio::test]
    async fn validate_follows_ironics_rules() {
        let config = crate::config::Config::defaults().unwrap();
        let mut n = node(json!({}), json!({}));
        let e = validate(&mut n, &config).await.unwrap_err();
        assert!(matches!(e, DriverError::MissingParameterValue(_)), "{e}");
        assert!(
            e.to_string().contains("'instance_info/rescue_password'"),
            "{e}"
        );
        let mut n = node(json!({"rescue_password": "  "}), json!({}));
        let e = validate(&mut n, &config).await.unwrap_err();
        assert!(e.to_string().contains("must be a non-empty string"), "{e}");
        let mut n = node(json!({"rescue_password": "pw"}), json!({}));
        assert!(validate(&mut n, &config).await.is_ok());

        // No rescue ramdisk anywhere: named as Ironic names it.
        let empty = crate::config::Config::parse(
            "[conductor]\nrescue_kernel = \"\"\nrescue_ramdisk = \"\"\n",
            "t",
        )
        .unwrap();
        let e = validate(&mut n, &empty).await.unwrap_err();
        assert!(
            e.to_string()
                .contains("Missing are: ['rescue_kernel', 'rescue_ramdisk']"),
            "{e}"
        );
        let mut n = node(
            json!({"rescue_password": "pw"}),
            json!({"rescue_kernel": "k", "rescue_ramdisk": "r"}),
        );
        assert!(validate(&mut n, &empty).await.is_ok());
    }
}
