//! The `direct` deploy interface (Ironic's agent deploy): boot the deploy ramdisk, let its
//! agent write the image onto the disk, then boot the disk. Cleaning runs the agent's
//! erase steps the same way.
//!
//! Agent steps are asynchronous: the step sends its command and parks the node in a wait
//! state (`Progress::Wait`) with the command remembered under `AGENT_PENDING_COMMAND`; each
//! agent heartbeat calls `heartbeat`, which reports whether that command has finished.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::agent_client::{agent_steps, AgentClient, AgentClientError, CommandResult};
use super::boot_mode;
use super::*;
use crate::config::{BootMode, ImageDownloadSource};
use crate::model::boot::BootIntent;
use crate::model::dii::{
    forget_agent, AGENT_IMAGE, AGENT_IMAGE_URL, AGENT_PENDING_COMMAND, AGENT_STEPS, AGENT_TOKEN,
    AGENT_URL, ROOT_UUID_OR_DISK_ID,
};
use crate::model::states::{POWER_OFF, POWER_ON};
use crate::model::step::StepKind;

/// Clean steps the agent runs (IPA's GenericHardwareManager names).
const AGENT_CLEAN_STEPS: &[&str] = &["erase_devices_metadata", "erase_devices"];

pub struct DirectDeploy {
    pub erase_devices_priority: i64,
    pub erase_devices_metadata_priority: i64,
}

pub(super) fn step(name: &str, priority: i64, abortable: bool) -> Step {
    Step {
        interface: "deploy".into(),
        step: name.into(),
        args: Default::default(),
        priority,
        abortable,
    }
}

fn failed(message: impl Into<String>) -> DriverError {
    DriverError::Failed(message.into())
}

fn str_of<'a>(o: &'a crate::model::JsonObject, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

pub(super) fn client(ctx: &TaskContext<'_>) -> Result<AgentClient, DriverError> {
    AgentClient::for_node(
        &ctx.node.driver_internal_info,
        ctx.config.agent.command_timeout,
    )
    .map_err(DriverError::client)
}

/// The node as the agent is shown it (IPA reads root device hints and image facts from
/// it): no BMC credentials, no token, no config drive.
pub(super) fn node_for_agent(ctx: &TaskContext<'_>) -> Value {
    let mut dii = ctx.node.driver_internal_info.clone();
    dii.remove(AGENT_TOKEN);
    dii.remove(AGENT_PENDING_COMMAND);
    let mut ii = ctx.node.instance_info.clone();
    ii.remove("configdrive");
    json!({
        "uuid": ctx.node.uuid,
        "name": ctx.node.name,
        "properties": ctx.node.properties,
        "instance_info": ii,
        "driver_internal_info": dii,
    })
}

pub(super) fn ports_for_agent(ctx: &TaskContext<'_>) -> Value {
    Value::Array(
        ctx.ports
            .iter()
            .map(|p| json!({"uuid": p.uuid, "address": p.address, "pxe_enabled": p.pxe_enabled}))
            .collect(),
    )
}

/// Where the agent reaches ironbox (see `Urls::agent_api`).
pub fn agent_api_url(ctx: &TaskContext<'_>) -> Result<String, DriverError> {
    ctx.urls
        .agent_api
        .clone()
        .map(|u| u.trim_end_matches('/').to_string())
        .ok_or_else(|| DriverError::Failed("ironbox's own URLs are not known yet".into()))
}

/// Boot the deploy ramdisk: network boot next, the agent told where ironbox is, any old
/// agent forgotten (a new boot gets a new token), then power-cycle.
pub(super) async fn boot_agent(
    hw: &Driver,
    ctx: &mut TaskContext<'_>,
    purpose: &str,
    extra_params: &str,
) -> Result<(), DriverError> {
    let di = &ctx.node.driver_info;
    let kernel = str_of(di, "deploy_kernel")
        .unwrap_or(&ctx.config.conductor.deploy_kernel)
        .to_string();
    let ramdisk = str_of(di, "deploy_ramdisk")
        .unwrap_or(&ctx.config.conductor.deploy_ramdisk)
        .to_string();
    boot_agent_from(hw, ctx, purpose, extra_params, kernel, ramdisk).await
}

/// `boot_agent` with the agent's `kernel` and `ramdisk` given (the rescue ramdisk).
pub(super) async fn boot_agent_from(
    hw: &Driver,
    ctx: &mut TaskContext<'_>,
    purpose: &str,
    extra_params: &str,
    kernel: String,
    ramdisk: String,
) -> Result<(), DriverError> {
    let mut append =
        super::node_options::kernel_append_params(ctx.node, &ctx.config.pxe.kernel_append_params);
    append.push_str(&format!(" ipa-api-url={}", agent_api_url(ctx)?));
    if !extra_params.is_empty() {
        append.push(' ');
        append.push_str(extra_params);
    }
    if ctx.config.default.debug {
        append.push_str(" ipa-debug=1");
    }
    hw.boot
        .prepare_ramdisk(
            ctx,
            BootIntent::Ramdisk {
                purpose: purpose.into(),
                kernel,
                ramdisk,
                append,
            },
        )
        .await?;
    forget_agent(&mut ctx.node.driver_internal_info);
    ctx.node.driver_internal_info.remove(AGENT_PENDING_COMMAND);
    if hw.boot.ramdisk_from_network() {
        hw.management.set_boot_device(ctx, "pxe", false).await?;
    }
    hw.power.reboot(ctx, false, None).await
}

/// Send `name` to the agent without waiting. Running: remember it and wait for the
/// heartbeat that reports it done. Busy: remember it unsent and retry on the next one.
pub(super) async fn send(
    ctx: &mut TaskContext<'_>,
    name: &str,
    params: Value,
) -> Result<Progress, DriverError> {
    let result = client(ctx)?.execute(name, params, false).await;
    settle(ctx, name, result)
}

fn settle(
    ctx: &mut TaskContext<'_>,
    name: &str,
    result: Result<CommandResult, AgentClientError>,
) -> Result<Progress, DriverError> {
    let dii = &mut ctx.node.driver_internal_info;
    match result {
        Ok(r) if r.running() => {
            dii.insert(
                AGENT_PENDING_COMMAND.into(),
                json!({"name": name, "command": r.command_name, "sent": true}),
            );
            Ok(Progress::Wait)
        }
        Ok(r) if r.succeeded() => {
            dii.remove(AGENT_PENDING_COMMAND);
            Ok(Progress::Done)
        }
        Ok(r) => {
            dii.remove(AGENT_PENDING_COMMAND);
            Err(failed(r.error_message()))
        }
        // Not sent: the next heartbeat runs the step again. (The parameters are not kept:
        // they may hold the config drive, which must not show in driver_internal_info.)
        Err(AgentClientError::Busy) => {
            dii.insert(
                AGENT_PENDING_COMMAND.into(),
                json!({"name": name, "sent": false}),
            );
            Ok(Progress::Wait)
        }
        Err(e) => {
            dii.remove(AGENT_PENDING_COMMAND);
            Err(DriverError::client(e))
        }
    }
}

/// The instance's checksum by Ironic's rules (`image::checksum`), as image_info fields.
fn checksum_fields(
    ii: &crate::model::JsonObject,
    allow_md5: bool,
) -> Result<crate::model::JsonObject, DriverError> {
    let spec = spec_of(ii, allow_md5)?;
    let mut out = crate::model::JsonObject::new();
    if let Some(spec) = spec {
        out.insert("os_hash_algo".into(), json!(spec.algo.name()));
        out.insert("os_hash_value".into(), json!(spec.hex));
        if spec.algo == crate::image::checksum::HashAlgo::Md5 {
            out.insert("checksum".into(), json!(spec.hex));
        }
    }
    Ok(out)
}

fn spec_of(
    ii: &crate::model::JsonObject,
    allow_md5: bool,
) -> Result<Option<crate::image::checksum::ChecksumSpec>, DriverError> {
    crate::image::checksum::ChecksumSpec::from_instance_info(
        str_of(ii, "image_os_hash_algo"),
        str_of(ii, "image_os_hash_value"),
        str_of(ii, "image_checksum"),
        allow_md5,
    )
    .map_err(|e| DriverError::InvalidParameterValue(format!("Invalid image checksum: {e}")))
}

/// `instance_info` checks that need no network: an image, in a form the agent can fetch,
/// with a checksum it can verify.
fn check_instance_info(ctx: &TaskContext<'_>) -> Result<(), DriverError> {
    let ii = &ctx.node.instance_info;
    let Some(source) = str_of(ii, "image_source") else {
        return Err(DriverError::MissingParameterValue(format!(
            "Cannot validate image information for node {} because one or more parameters are missing from its instance_info: image_source",
            ctx.node.uuid
        )));
    };
    let remote = source.starts_with("http://") || source.starts_with("https://");
    if !remote && !source.starts_with("file://") {
        return Err(DriverError::InvalidParameterValue(format!(
            "image_source {source:?} is not an http(s):// or file:// URL"
        )));
    }
    let sums = checksum_fields(ii, ctx.config.agent.allow_md5_checksum)?;
    if remote && sums.is_empty() {
        return Err(DriverError::MissingParameterValue(format!(
            "Node {} has no image checksum: set instance_info image_checksum (or image_os_hash_algo and image_os_hash_value)",
            ctx.node.uuid
        )));
    }
    if let Some(f) = str_of(ii, "image_disk_format") {
        if !matches!(f, "raw" | "qcow2") {
            return Err(DriverError::InvalidParameterValue(format!(
                "image_disk_format {f:?} is not supported; use raw or qcow2"
            )));
        }
    }
    Ok(())
}

/// `image_info` for the agent's write_image: where to download, how to verify.
fn image_info(ctx: &TaskContext<'_>) -> Result<Value, DriverError> {
    let ii = &ctx.node.instance_info;
    check_instance_info(ctx)?;
    let source = str_of(ii, "image_source").unwrap_or_default();
    let url = str_of(&ctx.node.driver_internal_info, AGENT_IMAGE_URL)
        .unwrap_or(source)
        .to_string();
    let mut info = checksum_fields(ii, ctx.config.agent.allow_md5_checksum)?;
    // A cached copy carries its own (possibly converted) format and digest.
    if let Some(Value::Object(cached)) = ctx.node.driver_internal_info.get(AGENT_IMAGE) {
        for (k, v) in cached {
            info.insert(k.clone(), v.clone());
        }
    }
    let id = source.rsplit('/').next().unwrap_or(source);
    info.insert("id".into(), json!(id));
    info.insert("urls".into(), json!([url]));
    info.entry("disk_format")
        .or_insert_with(|| json!(str_of(ii, "image_disk_format").unwrap_or("raw")));
    info.insert("container_format".into(), json!("bare"));
    info.insert("stream_raw_images".into(), json!(true));
    info.insert("image_type".into(), json!("whole-disk"));
    info.insert("node_uuid".into(), json!(ctx.node.uuid));
    Ok(Value::Object(info))
}

/// Refuse an image URL that does not answer before rebooting anything (Ironic's HEAD
/// probe); local files are checked for existence.
async fn probe_image(ctx: &TaskContext<'_>) -> Result<(), DriverError> {
    let source = str_of(&ctx.node.instance_info, "image_source").unwrap_or_default();
    if let Some(path) = source.strip_prefix("file://") {
        return match std::fs::metadata(path) {
            Ok(m) if m.is_file() => Ok(()),
            _ => Err(DriverError::InvalidParameterValue(format!(
                "Validation of image href {source} failed, reason: no such file"
            ))),
        };
    }
    let http = reqwest::Client::builder()
        .timeout(ctx.config.agent.command_timeout)
        .build()
        .map_err(DriverError::client)?;
    match http.head(source).send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(DriverError::InvalidParameterValue(format!(
            "Validation of image href {source} failed, reason: Got HTTP code {} instead of 200 in response to HEAD request.",
            r.status().as_u16()
        ))),
        Err(e) => Err(DriverError::InvalidParameterValue(format!(
            "Validation of image href {source} failed, reason: {e}"
        ))),
    }
}

/// The config drive for the agent: Ironic's gzip+base64 image (or URL) as given; the JSON
/// form is built into a config-2 ISO9660 image first.
fn configdrive(ctx: &TaskContext<'_>) -> Result<Value, DriverError> {
    match ctx.node.instance_info.get("configdrive") {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(Value::String(s)) => Ok(json!(s)),
        Some(v @ Value::Object(_)) => {
            let iso = crate::image::configdrive::build(v).map_err(|e| {
                DriverError::InvalidParameterValue(format!("Invalid configdrive: {e}"))
            })?;
            Ok(json!(crate::image::configdrive::encode(&iso)))
        }
        Some(_) => Err(DriverError::InvalidParameterValue(
            "configdrive must be a string or a JSON object".into(),
        )),
    }
}

/// Whether ironbox downloads the image and serves it (file:// images, or
/// `image_download_source = local` in config or instance_info).
fn served_locally(ctx: &TaskContext<'_>) -> bool {
    let ii = &ctx.node.instance_info;
    str_of(ii, "image_source").is_some_and(|s| s.starts_with("file://"))
        || str_of(ii, "image_download_source")
            .unwrap_or(ctx.config.agent.image_download_source.as_str())
            == ImageDownloadSource::Local.as_str()
}

/// Download `source` into the image cache and give the URL ironbox's boot HTTP server
/// (`base`) serves the cached copy at (for the agent, or for a BMC's virtual media), with
/// the cache entry.
pub async fn cached_image_url(
    cache: &crate::image::cache::ImageCache,
    base: &str,
    source: &str,
    spec: Option<crate::image::checksum::ChecksumSpec>,
    convert_to_raw: bool,
) -> Result<(String, crate::image::cache::CachedImage), DriverError> {
    let cached = cache
        .fetch(source, spec, convert_to_raw)
        .await
        .map_err(|e| DriverError::Image {
            image: source.to_string(),
            source: Box::new(e),
        })?;
    let name = cached
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((format!("{base}/images/{name}"), cached))
}

/// Download the image into the cache (verified, converted to raw when configured) and
/// point the agent at ironbox's copy.
async fn cache_image(ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
    let ii = &ctx.node.instance_info;
    let source = str_of(ii, "image_source").unwrap_or_default().to_string();
    let spec = spec_of(ii, ctx.config.agent.allow_md5_checksum)?;
    let cache = ctx
        .images
        .clone()
        .ok_or_else(|| DriverError::Failed("ironbox has no image cache".into()))?;
    let Some(base) = ctx.urls.boot_http.clone() else {
        return Err(DriverError::MissingParameterValue(format!(
            "Image {source} must be served by ironbox, which needs a boot network ([dhcp] interface) for its HTTP server"
        )));
    };
    let (url, cached) = cached_image_url(
        &cache,
        &base,
        &source,
        spec,
        ctx.config.default.force_raw_images,
    )
    .await?;
    let dii = &mut ctx.node.driver_internal_info;
    dii.insert(AGENT_IMAGE_URL.into(), json!(url));
    dii.insert(
        AGENT_IMAGE.into(),
        json!({"os_hash_algo": "sha256", "os_hash_value": cached.sha256,
               "disk_format": cached.format.name(), "checksum": null}),
    );
    Ok(())
}

/// The step kind of the node's state (deploy where the state has none, as it always was).
fn step_kind(ctx: &TaskContext<'_>) -> StepKind {
    StepKind::of_state(&ctx.node.provision_state).unwrap_or(StepKind::Deploy)
}

/// `<kind>.get_<kind>_steps`: `{"kind", "steps": [{"interface", "step", "priority"}]}`
/// from the agent's per-hardware-manager lists.
/// None: the agent is busy; ask again on its next heartbeat.
async fn fetch_agent_steps(ctx: &TaskContext<'_>) -> Result<Option<Value>, DriverError> {
    let kind = step_kind(ctx);
    let params = json!({"node": node_for_agent(ctx), "ports": ports_for_agent(ctx)});
    let r = match client(ctx)?
        .execute(&format!("{kind}.get_{kind}_steps"), params, true)
        .await
    {
        Err(AgentClientError::Busy) => return Ok(None),
        other => other.map_err(DriverError::client)?,
    };
    if !r.succeeded() {
        return Err(failed(format!(
            "get_{kind}_steps failed: {}",
            r.error_message()
        )));
    }
    let by_manager = r
        .command_result
        .as_ref()
        .and_then(|v| v.get(format!("{kind}_steps")))
        .and_then(Value::as_object)
        .ok_or_else(|| {
            failed(format!(
                "the agent's get_{kind}_steps answer has no {kind}_steps"
            ))
        })?;
    let steps: Vec<Value> = by_manager
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|s| {
            Some(
                json!({"interface": s.get("interface")?.as_str()?, "step": s.get("step")?.as_str()?,
                        "priority": s.get("priority").cloned().unwrap_or(json!(0))}),
            )
        })
        .collect();
    Ok(Some(json!({"kind": kind.name(), "steps": steps})))
}

/// Refuse a step the running agent did not offer (when it told us its steps).
pub(super) fn agent_offers(ctx: &TaskContext<'_>, step: &str) -> Result<(), DriverError> {
    let dii = &ctx.node.driver_internal_info;
    let kind = step_kind(ctx);
    let cached = dii.get(AGENT_STEPS);
    if cached.and_then(|c| c.get("kind")).and_then(Value::as_str) != Some(kind.name()) {
        return Ok(());
    }
    let steps: Vec<String> = agent_steps(dii, kind)
        .into_iter()
        .filter(|(i, _)| i == "deploy")
        .map(|(_, s)| s)
        .collect();
    if steps.iter().any(|s| s == step) {
        Ok(())
    } else {
        Err(DriverError::InvalidParameterValue(format!(
            "The agent does not offer {kind} step deploy.{step}; it offers: {}",
            steps.join(", ")
        )))
    }
}

/// A clean or service step the running agent reported beyond ironbox's own (IPA's
/// burn-in, express erase, NVRAM cleaning...): it runs in the agent.
fn agent_only_step(ctx: &TaskContext<'_>, step: &str) -> bool {
    let kind = step_kind(ctx);
    kind != StepKind::Deploy
        && agent_steps(&ctx.node.driver_internal_info, kind)
            .iter()
            .any(|(i, s)| i == "deploy" && s == step)
}

/// Wait for the machine to switch itself off after the agent's in-band power-off, then
/// make sure with the BMC.
pub(super) async fn wait_powered_off(
    hw: &Driver,
    ctx: &mut TaskContext<'_>,
) -> Result<(), DriverError> {
    let a = &ctx.config.agent;
    let (tries, every) = (
        a.post_deploy_get_power_state_retries,
        a.post_deploy_get_power_state_retry_interval_ms,
    );
    for _ in 0..tries {
        if hw.power.get_power_state(ctx).await.ok().as_deref() == Some(POWER_OFF) {
            ctx.node.power_state = Some(POWER_OFF.into());
            return Ok(());
        }
        tokio::time::sleep(every).await;
    }
    tracing::info!(node = %ctx.node.uuid, "agent did not power the node off in time; powering off through the BMC");
    hw.power.set_power_state(ctx, POWER_OFF, None).await
}

#[async_trait]
impl StepInterface for DirectDeploy {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        // A boot mode that contradicts the node's capability fails here, not after the write.
        boot_mode::deploy_boot_mode(ctx)?;
        check_instance_info(ctx)
    }
    fn deploy_steps(&self) -> Vec<Step> {
        vec![
            step("deploy", 100, false),
            step("write_image", 80, false),
            step("prepare_instance_boot", 60, false),
            step("tear_down_agent", 40, false),
            step("boot_instance", 20, false),
        ]
    }
    fn clean_steps(&self) -> Vec<Step> {
        vec![
            step(
                "erase_devices_metadata",
                self.erase_devices_metadata_priority,
                true,
            ),
            step("erase_devices", self.erase_devices_priority, true),
        ]
    }
}

#[async_trait]
impl DeployInterface for DirectDeploy {
    /// Check the image, then boot the agent and wait for it.
    async fn deploy(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Progress, DriverError> {
        check_instance_info(ctx)?;
        configdrive(ctx)?;
        for k in [AGENT_IMAGE, AGENT_IMAGE_URL] {
            ctx.node.driver_internal_info.remove(k);
        }
        if served_locally(ctx) {
            cache_image(ctx).await?;
        } else {
            probe_image(ctx).await?;
        }
        boot_agent(hw, ctx, "the deploy ramdisk", "").await?;
        Ok(Progress::Wait)
    }

    async fn run_step(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
        step: &Step,
    ) -> Result<Progress, DriverError> {
        let params = |ctx: &TaskContext<'_>, kind: &str, step: Value| json!({"step": step, "node": node_for_agent(ctx), "ports": ports_for_agent(ctx), format!("{kind}_version"): null});
        match step.step.as_str() {
            "deploy" => self.deploy(hw, ctx).await,
            "write_image" => {
                agent_offers(ctx, "write_image")?;
                let args =
                    json!({"image_info": image_info(ctx)?, "configdrive": configdrive(ctx)?});
                let p = params(
                    ctx,
                    "deploy",
                    json!({"interface": "deploy", "step": "write_image", "args": args}),
                );
                send(ctx, "deploy.execute_deploy_step", p).await
            }
            "prepare_instance_boot" => {
                let mode = boot_mode::deploy_boot_mode(ctx)?;
                let c = client(ctx)?;
                // Informative only for whole-disk images, so failures are just logged.
                match c
                    .execute("standby.get_partition_uuids", json!({}), true)
                    .await
                {
                    Ok(r) => {
                        if let Some(root) = r
                            .command_result
                            .as_ref()
                            .and_then(|v| v.get("root uuid"))
                            .cloned()
                        {
                            ctx.node
                                .driver_internal_info
                                .insert(ROOT_UUID_OR_DISK_ID.into(), root);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(node = %ctx.node.uuid, error = %e, "get_partition_uuids failed")
                    }
                }
                // As Ironic: a whole-disk image gets a bootloader install only in UEFI
                // mode, where the agent registers the image's EFI loader in NVRAM.
                if mode == BootMode::Uefi {
                    let root = ctx.node.driver_internal_info.get(ROOT_UUID_OR_DISK_ID);
                    let params = json!({"root_uuid": root, "efi_system_part_uuid": null,
                        "prep_boot_part_uuid": null, "target_boot_mode": mode.as_str()});
                    let r = c
                        .execute("image.install_bootloader", params, true)
                        .await
                        .map_err(DriverError::client)?;
                    if !r.succeeded() {
                        return Err(failed(format!(
                            "Failed to install a bootloader when deploying node {}: {}",
                            ctx.node.uuid,
                            r.error_message()
                        )));
                    }
                }
                hw.boot.prepare_instance(ctx).await?;
                // Machines network-boot first; the disk must be chosen explicitly (Ironic
                // does this in the boot interface's prepare_instance).
                if hw.management.supported_boot_devices(ctx).contains(&"disk") {
                    hw.management.set_boot_device(ctx, "disk", true).await?;
                }
                Ok(Progress::Done)
            }
            "tear_down_agent" => {
                if let Ok(c) = client(ctx) {
                    if let Err(e) = c.execute("standby.sync", json!({}), true).await {
                        tracing::warn!(node = %ctx.node.uuid, error = %e, "agent sync failed");
                    }
                    if let Err(e) = c.execute("standby.power_off", json!({}), false).await {
                        tracing::warn!(node = %ctx.node.uuid, error = %e, "agent power off failed");
                    }
                }
                wait_powered_off(hw, ctx).await?;
                forget_agent(&mut ctx.node.driver_internal_info);
                Ok(Progress::Done)
            }
            "boot_instance" => {
                hw.power.set_power_state(ctx, POWER_ON, None).await?;
                Ok(Progress::Done)
            }
            s if AGENT_CLEAN_STEPS.contains(&s) || agent_only_step(ctx, s) => {
                agent_offers(ctx, s)?;
                let kind = step_kind(ctx);
                let p = params(
                    ctx,
                    kind.name(),
                    json!({"interface": "deploy", "step": s, "priority": step.priority, "args": step.args, "abortable": true, "reboot_requested": false}),
                );
                send(ctx, &format!("{kind}.execute_{kind}_step"), p).await
            }
            _ => self.execute_step(ctx, step).await,
        }
    }

    async fn prepare_cleaning(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
        steps: &[Step],
    ) -> Result<Progress, DriverError> {
        // Every deploy-interface clean step but the reserved ones runs in the agent (a
        // manual one unknown here is checked against what the agent offers once it is up).
        if !steps
            .iter()
            .any(|s| s.interface == "deploy" && !s.reserved())
        {
            return Ok(Progress::Done);
        }
        boot_agent(hw, ctx, "the cleaning ramdisk", "").await?;
        Ok(Progress::Wait)
    }

    async fn tear_down_cleaning(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
    ) -> Result<(), DriverError> {
        let booted = ctx.node.driver_internal_info.contains_key(AGENT_URL)
            || BootIntent::of(&ctx.node.driver_internal_info).is_some();
        forget_agent(&mut ctx.node.driver_internal_info);
        ctx.node.driver_internal_info.remove(AGENT_PENDING_COMMAND);
        if booted {
            hw.power.set_power_state(ctx, POWER_OFF, None).await?;
            hw.boot.clean_up_ramdisk(ctx).await?;
        }
        Ok(())
    }

    async fn heartbeat(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Progress, DriverError> {
        let Some(Value::Object(p)) = ctx
            .node
            .driver_internal_info
            .get(AGENT_PENDING_COMMAND)
            .cloned()
        else {
            // Nothing outstanding: the agent has just come up. Ask it once which steps it
            // offers (as Ironic does), so a step it lacks fails clearly before it is sent.
            if !ctx.node.driver_internal_info.contains_key(AGENT_STEPS) {
                let Some(offered) = fetch_agent_steps(ctx).await? else {
                    return Ok(Progress::Wait);
                };
                ctx.node
                    .driver_internal_info
                    .insert(AGENT_STEPS.into(), offered);
            }
            return Ok(Progress::Done);
        };
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if p.get("sent") != Some(&Value::Bool(true)) {
            let current = ctx.node.current_step(step_kind(ctx));
            let step: Step = serde_json::from_value(Value::Object(current.clone()))
                .map_err(|e| failed(format!("no step to retry: {e}")))?;
            ctx.node.driver_internal_info.remove(AGENT_PENDING_COMMAND);
            return self.run_step(hw, ctx, &step).await;
        }
        let command = p
            .get("command")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match client(ctx)?.last(&command).await {
            Ok(Some(r)) if r.running() => Ok(Progress::Wait),
            Ok(Some(r)) => settle(ctx, &name, Ok(r)),
            Ok(None) => {
                ctx.node.driver_internal_info.remove(AGENT_PENDING_COMMAND);
                Err(failed(format!(
                    "the agent has no record of command {command}; it was restarted"
                )))
            }
            Err(AgentClientError::Busy) => Ok(Progress::Wait),
            Err(e) => Err(DriverError::client(e)),
        }
    }

    async fn tear_down(&self, hw: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        hw.power.set_power_state(ctx, POWER_OFF, None).await?;
        hw.boot.clean_up_instance(ctx).await?;
        forget_agent(&mut ctx.node.driver_internal_info);
        for k in [AGENT_PENDING_COMMAND, AGENT_IMAGE, AGENT_IMAGE_URL] {
            ctx.node.driver_internal_info.remove(k);
        }
        Ok(())
    }

    async fn take_over(&self, _: &Driver, _: &mut TaskContext<'_>) -> Result<(), DriverError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ii(v: Value) -> crate::model::JsonObject {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn checksums_by_ironics_rules() {
        let sha = "a".repeat(64);
        let got = checksum_fields(&ii(json!({"image_checksum": sha})), false).unwrap();
        assert_eq!(got["os_hash_algo"], "sha256");
        let got = checksum_fields(
            &ii(json!({"image_checksum": format!("sha512:{}", "B".repeat(128))})),
            false,
        )
        .unwrap();
        assert_eq!(
            (got["os_hash_algo"].as_str(), got["os_hash_value"].as_str()),
            (Some("sha512"), Some("b".repeat(128).as_str()))
        );
        let got = checksum_fields(
            &ii(json!({"image_os_hash_algo": "SHA256", "image_os_hash_value": sha})),
            false,
        )
        .unwrap();
        assert_eq!(got["os_hash_algo"], "sha256");
        assert!(checksum_fields(&ii(json!({"image_checksum": "0".repeat(32)})), false).is_err());
        assert!(checksum_fields(&ii(json!({"image_checksum": "0".repeat(32)})), true).is_ok());
        assert!(checksum_fields(&ii(json!({"image_checksum": "abc"})), false).is_err());
        assert!(checksum_fields(&ii(json!({"image_checksum": "crc32:abcd"})), false).is_err());
        assert!(checksum_fields(
            &ii(json!({"image_checksum": format!("sha256:{}", "z".repeat(64))})),
            false
        )
        .is_err());
        assert!(checksum_fields(&ii(json!({})), false).unwrap().is_empty());
    }
}
