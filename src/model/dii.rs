//! Every `driver_internal_info` key ironbox reads or writes (Ironic's names where Ironic
//! has one), and `forget_agent`, the one place that decides what "the agent is gone" wipes.

use super::step::StepKind;
use super::JsonObject;

// The running agent, written by lookup and heartbeat.
/// Where the agent listens (the heartbeat's `callback_url`).
pub const AGENT_URL: &str = "agent_url";
/// The token issued at lookup; every call to and from the agent carries it.
pub const AGENT_TOKEN: &str = "agent_secret_token";
/// Ironic's flag for a token handed over before boot (virtual media); ironbox never sets
/// it, but a node moved from Ironic may carry it, and it dies with the agent too.
pub const AGENT_TOKEN_PREGENERATED: &str = "agent_secret_token_pregenerated";
/// The agent's TLS certificate (PEM), to verify its callback URL.
pub const AGENT_VERIFY_CA: &str = "agent_verify_ca";
pub const AGENT_VERSION: &str = "agent_version";
pub const AGENT_LAST_HEARTBEAT: &str = "agent_last_heartbeat";
/// The steps the running agent said it offers (asked once per agent boot):
/// `{"kind": "clean"|"deploy"|"service", "steps": [..]}`.
pub const AGENT_STEPS: &str = "agent_cached_steps";
/// The agent command a parked step waits for: `{"name", "command"?, "sent"}`.
pub const AGENT_PENDING_COMMAND: &str = "agent_pending_command";

// Deploy.
/// The URL the agent downloads the image from when the conductor serves a cached copy.
pub const AGENT_IMAGE_URL: &str = "agent_image_url";
/// That cached copy's format and digest (overriding instance_info's).
pub const AGENT_IMAGE: &str = "agent_image";
/// The root partition or disk the agent wrote the image to (`get_partition_uuids`).
pub const ROOT_UUID_OR_DISK_ID: &str = "root_uuid_or_disk_id";
/// `disable_ramdisk` from the provision request (clean/service without the agent).
pub const DISABLE_RAMDISK: &str = "disable_ramdisk";

// Boot.
/// What the node should network-boot next (`model::boot::BootIntent`).
pub const BOOT_INTENT: &str = "boot_intent";
/// The boot device the fake management interface pretends to have set.
pub const FAKE_BOOT_DEVICE: &str = "fake_boot_device";
pub const FAKE_BOOT_DEVICE_PERSISTENT: &str = "fake_boot_device_persistent";
/// The indicator states set through the fake management interface (`name@component` →
/// state); Ironic's fake answers `on` for every indicator and sets none.
pub const FAKE_INDICATORS: &str = "fake_indicators";
/// The fake management's virtual media: `{device type: image URL}` of what is inserted.
pub const FAKE_VMEDIA: &str = "fake_vmedia";
/// The boot device Redfish restores after a one-time override (`drivers::redfish`, which
/// still names it `RESTORE_KEY` itself).
pub const REDFISH_BOOT_DEVICE: &str = "redfish_boot_device";

// Step plans.
/// The step list of a plan of `kind`: `clean_steps`, `deploy_steps`, `service_steps`.
pub fn steps_key(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Clean => "clean_steps",
        StepKind::Deploy => "deploy_steps",
        StepKind::Service => "service_steps",
    }
}

/// The index of the next step of that plan: `clean_step_index`, ...
pub fn step_index_key(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Clean => "clean_step_index",
        StepKind::Deploy => "deploy_step_index",
        StepKind::Service => "service_step_index",
    }
}

/// The agent is gone (powered off, rebooted, torn down): forget where it was, its token,
/// certificate, version, last heartbeat and the steps it offered, so the next boot must look
/// up again, gets a new token, and is asked for its steps afresh. A command it was running
/// (`AGENT_PENDING_COMMAND`) is the caller's to drop: a power-off mid-step keeps it.
pub fn forget_agent(dii: &mut JsonObject) {
    for k in [
        AGENT_URL,
        AGENT_TOKEN,
        AGENT_TOKEN_PREGENERATED,
        AGENT_VERIFY_CA,
        AGENT_VERSION,
        AGENT_LAST_HEARTBEAT,
        AGENT_STEPS,
    ] {
        dii.remove(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forget_agent_wipes_every_agent_key_and_nothing_else() {
        let mut dii = JsonObject::new();
        for k in [
            AGENT_URL,
            AGENT_TOKEN,
            AGENT_TOKEN_PREGENERATED,
            AGENT_VERIFY_CA,
            AGENT_VERSION,
            AGENT_LAST_HEARTBEAT,
            AGENT_STEPS,
            AGENT_PENDING_COMMAND,
            BOOT_INTENT,
            AGENT_IMAGE,
            steps_key(StepKind::Clean),
            step_index_key(StepKind::Clean),
        ] {
            dii.insert(k.into(), json!(1));
        }
        forget_agent(&mut dii);
        let mut left: Vec<&str> = dii.keys().map(String::as_str).collect();
        left.sort_unstable();
        assert_eq!(
            left,
            [
                AGENT_IMAGE,
                AGENT_PENDING_COMMAND,
                BOOT_INTENT,
                "clean_step_index",
                "clean_steps"
            ]
        );
    }

    #[test]
    fn plan_keys() {
        assert_eq!(steps_key(StepKind::Deploy), "deploy_steps");
        assert_eq!(step_index_key(StepKind::Service), "service_step_index");
    }
}
