//! The body of `PUT /v1/nodes/{id}/states/provision`, parsed into a `ProvisionRequest`:
//! the verb, the microversion gates of each field, and Ironic's text for every refusal,
//! checked in the order Ironic checks them.

use serde_json::{Map, Value};

use super::super::error::ApiError;
use super::super::microversion::Version;
use super::super::views::{py_repr, Reader};
use super::object_with;
use crate::conductor::fsm::{self, Event};
use crate::conductor::provision::ProvisionArgs;
use crate::model::node::Node;
use crate::model::secrets::opaque;
use crate::model::states;

/// Every key the body may hold (`runbook` is resolved by the handler: `ProvisionRequest::runbook`).
const KEYS: &[&str] = &[
    "target",
    "configdrive",
    "clean_steps",
    "deploy_steps",
    "service_steps",
    "rescue_password",
    "disable_ramdisk",
    "runbook",
];

/// The verb a request names, as the FSM's verb table spells and gates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The API's word (`active` and `deploy` are both `Event::Deploy`).
    pub verb: &'static str,
    pub event: Event,
}

impl Target {
    /// The verb named `name` with the microversion that introduced it.
    fn lookup(name: &str) -> Option<(Target, u32)> {
        fsm::VERBS
            .iter()
            .find(|(verb, _, _)| *verb == name)
            .map(|(verb, event, since)| {
                (
                    Target {
                        verb,
                        event: *event,
                    },
                    *since,
                )
            })
    }

    fn deploys(self) -> bool {
        matches!(self.event, Event::Deploy | Event::Rebuild)
    }
}

/// A checked provision request: the verb and the arguments the conductor takes.
#[derive(Debug, Clone)]
pub struct ProvisionRequest {
    pub target: Target,
    pub args: ProvisionArgs,
}

/// The runbook a body names (1.92), if any: a string or null; an empty name is none.
pub fn runbook(obj: &Map<String, Value>, v: Version) -> Result<Option<&str>, ApiError> {
    match obj.get("runbook") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(_)) if !v.at_least(92) => Err(ApiError::not_acceptable()),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ApiError::bad_request(format!(
            "Expected types <class 'NoneType'>, <class 'str'> for runbook: {other}"
        ))),
    }
}

/// The body's object, refused before the node is looked up when it is not an object or
/// has a key no verb takes (Ironic's schema check comes before its node lookup).
pub fn provision_body(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    object_with(body, KEYS)
}

impl ProvisionRequest {
    /// Parse `obj` (from `provision_body`) for `node` at microversion `v`.
    pub fn parse(
        obj: &Map<String, Value>,
        v: Version,
        node: &Node,
    ) -> Result<ProvisionRequest, ApiError> {
        let name = obj
            .get("target")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::missing_argument("target"))?;
        let (target, since) = Target::lookup(name).ok_or_else(|| {
            ApiError::invalid_state_requested(name, &node.uuid, &node.provision_state)
        })?;
        if !v.at_least(since) {
            return Err(ApiError::not_acceptable());
        }
        runbook(obj, v)?;
        let event = target.event;
        let has = |key: &str| obj.contains_key(key);
        let only_with = |key: &str, ok: bool, verbs: &str| -> Result<(), ApiError> {
            match has(key) && !ok {
                true => Err(ApiError::only_valid_with_target(key, verbs)),
                false => Ok(()),
            }
        };
        only_with("clean_steps", event == Event::Clean, "clean")?;
        only_with("service_steps", event == Event::Service, "service")?;
        only_with(
            "deploy_steps",
            target.deploys(),
            "active, deploy or rebuild",
        )?;
        only_with("rescue_password", event == Event::Rescue, "rescue")?;
        only_with(
            "disable_ramdisk",
            matches!(event, Event::Clean | Event::Service),
            "clean or service",
        )?;
        if has("configdrive") && !target.deploys() {
            return Err(ApiError::bad_request("Adding a config drive is only supported when setting provision state to active, deploy or rebuild"));
        }
        let disable_ramdisk_since = if event == Event::Service { 108 } else { 70 };
        let too_new = (has("deploy_steps") && !v.at_least(69))
            || (has("disable_ramdisk") && !v.at_least(disable_ramdisk_since))
            || (event == Event::Rebuild && has("configdrive") && !v.at_least(35))
            || (event == Event::Abort && !v.at_least(abort_since(&node.provision_state)));
        if too_new {
            return Err(ApiError::not_acceptable());
        }
        let body = Reader { res: "body" };
        let args = ProvisionArgs {
            configdrive: obj
                .get("configdrive")
                .map(|c| configdrive(c, v))
                .transpose()?
                .flatten(),
            clean_steps: obj.get("clean_steps").cloned(),
            deploy_steps: obj.get("deploy_steps").cloned(),
            service_steps: obj.get("service_steps").cloned(),
            rescue_password: obj
                .get("rescue_password")
                .map(|p| body.secret_str(p))
                .transpose()?,
            disable_ramdisk: obj
                .get("disable_ramdisk")
                .map(|d| body.bool("disable_ramdisk", d))
                .transpose()?,
        };
        Ok(ProvisionRequest { target, args })
    }
}

/// `abort` from inspect wait came with 1.41, from deploy wait (`wait call-back`) with 1.110.
fn abort_since(state: &str) -> u32 {
    match state {
        states::INSPECT_WAIT => 41,
        states::WAIT_CALLBACK => 110,
        _ => 1,
    }
}

/// A config drive: an image (base64 gzipped ISO9660) or URL as a non-empty string, or from
/// 1.56 an object of the parts to build one from. Null means none; "" is refused.
fn configdrive(c: &Value, v: Version) -> Result<Option<Value>, ApiError> {
    match c {
        Value::Null => Ok(None),
        Value::String(s) if !s.is_empty() => Ok(Some(c.clone())),
        Value::Object(o) if v.at_least(56) => {
            let allowed: &[&str] = if v.at_least(59) {
                &["meta_data", "network_data", "user_data", "vendor_data"]
            } else {
                &["meta_data", "network_data", "user_data"]
            };
            if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(ApiError::bad_request(format!(
                    "Invalid configdrive: unexpected key '{k}'; allowed keys are {}",
                    allowed.join(", ")
                )));
            }
            for k in ["meta_data", "network_data", "vendor_data"] {
                if o.get(k).is_some_and(|x| !x.is_object() && !x.is_null()) {
                    return Err(ApiError::bad_request(format!(
                        "Invalid configdrive: {k} must be a JSON object"
                    )));
                }
            }
            Ok(Some(c.clone()))
        }
        other => Err(ApiError::bad_request(format!("Invalid configdrive {}: expected a base64-encoded gzipped ISO9660 image or a URL (or, from 1.56, a JSON object)", py_repr(&opaque(other))))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(state: &str) -> Node {
        Node {
            uuid: "1be26c0b-03f2-4d2e-ae87-c02d7f33c123".into(),
            provision_state: state.into(),
            ..Default::default()
        }
    }

    fn parse_at(body: Value, minor: u32, state: &str) -> Result<ProvisionRequest, ApiError> {
        let obj = provision_body(&body)?;
        ProvisionRequest::parse(obj, Version(minor), &node(state))
    }

    fn parse(body: Value) -> Result<ProvisionRequest, ApiError> {
        parse_at(body, 115, states::AVAILABLE)
    }

    /// The refusal's status and text.
    fn refusal(r: Result<ProvisionRequest, ApiError>) -> (u16, String) {
        match r {
            Ok(req) => panic!("accepted: {req:?}"),
            Err(e) => (e.status.as_u16(), e.message),
        }
    }

    fn not_acceptable(r: Result<ProvisionRequest, ApiError>) {
        assert_eq!(refusal(r), (406, "Request not acceptable.".into()));
    }

    fn bad(r: Result<ProvisionRequest, ApiError>, text: &str) {
        assert_eq!(refusal(r), (400, text.into()));
    }

    #[test]
    fn a_plain_verb() {
        let r = parse(json!({"target": "deploy"})).unwrap();
        assert_eq!(r.target.verb, "deploy");
        assert_eq!(r.target.event, Event::Deploy);
        assert!(r.args.configdrive.is_none() && r.args.deploy_steps.is_none());
        let r = parse(json!({"target": "deleted"})).unwrap();
        assert_eq!(r.target.event, Event::Delete);
    }

    #[test]
    fn every_argument_reaches_the_conductor() {
        let steps = json!([{"interface": "deploy", "step": "erase_devices"}]);
        let r = parse(json!({"target": "active", "configdrive": "http://cd/x.iso",
                             "deploy_steps": steps}))
        .unwrap();
        assert_eq!(r.args.configdrive, Some(json!("http://cd/x.iso")));
        assert_eq!(r.args.deploy_steps, Some(steps.clone()));
        let r = parse(json!({"target": "clean", "clean_steps": steps, "disable_ramdisk": "yes"}))
            .unwrap();
        assert_eq!(r.args.clean_steps, Some(steps));
        assert_eq!(r.args.disable_ramdisk, Some(true));
        let r = parse(json!({"target": "rescue", "rescue_password": "pw"})).unwrap();
        assert_eq!(r.args.rescue_password.as_deref(), Some("pw"));
        let r = parse(json!({"target": "active", "configdrive": null})).unwrap();
        assert!(r.args.configdrive.is_none());
    }

    #[test]
    fn the_body_must_be_an_object_of_known_keys() {
        bad(
            parse(json!([1])),
            "Schema error for body: [1] is not of type 'object'",
        );
        bad(
            parse(json!({"target": "deploy", "bogus": 1})),
            "Unknown argument: \"bogus\"",
        );
    }

    #[test]
    fn target_is_required() {
        bad(parse(json!({})), "Missing argument: \"target\"");
        bad(parse(json!({"target": 5})), "Missing argument: \"target\"");
    }

    #[test]
    fn an_unknown_target_names_the_node_and_its_state() {
        bad(
            parse(json!({"target": "warp speed"})),
            "The requested action \"warp speed\" can not be performed on node \
             \"1be26c0b-03f2-4d2e-ae87-c02d7f33c123\" while it is in state \"available\".",
        );
    }

    #[test]
    fn verbs_newer_than_the_version_are_not_acceptable() {
        not_acceptable(parse_at(json!({"target": "deploy"}), 72, states::AVAILABLE));
        assert!(parse_at(json!({"target": "deploy"}), 73, states::AVAILABLE).is_ok());
        not_acceptable(parse_at(json!({"target": "service"}), 86, states::ACTIVE));
        not_acceptable(parse_at(json!({"target": "manage"}), 3, states::ENROLL));
        assert!(parse_at(json!({"target": "active"}), 1, states::AVAILABLE).is_ok());
    }

    #[test]
    fn runbook_is_a_name_from_1_92() {
        not_acceptable(parse_at(
            json!({"target": "clean", "runbook": "r"}),
            91,
            states::MANAGEABLE,
        ));
        assert!(parse_at(
            json!({"target": "clean", "runbook": null}),
            91,
            states::MANAGEABLE
        )
        .is_ok());
        assert!(parse(json!({"target": "clean", "runbook": "r"})).is_ok());
        bad(
            parse(json!({"target": "clean", "runbook": 5})),
            "Expected types <class 'NoneType'>, <class 'str'> for runbook: 5",
        );
        let body = json!({"target": "clean", "runbook": "CUSTOM_R"});
        let obj = provision_body(&body).unwrap();
        assert_eq!(runbook(obj, Version(92)).unwrap(), Some("CUSTOM_R"));
        let body = json!({"target": "clean", "runbook": ""});
        assert_eq!(
            runbook(provision_body(&body).unwrap(), Version(92)).unwrap(),
            None
        );
    }

    #[test]
    fn arguments_only_go_with_their_verbs() {
        let cases = [
            ("clean_steps", "deploy", "clean"),
            ("service_steps", "clean", "service"),
            ("deploy_steps", "clean", "active, deploy or rebuild"),
            ("rescue_password", "deploy", "rescue"),
            ("disable_ramdisk", "deploy", "clean or service"),
        ];
        for (key, verb, verbs) in cases {
            bad(
                parse(json!({"target": verb, key: "x"})),
                &format!("\"{key}\" is only valid when setting target provision state to {verbs}"),
            );
        }
        bad(
            parse(json!({"target": "clean", "configdrive": "x"})),
            "Adding a config drive is only supported when setting provision state to active, deploy or rebuild",
        );
    }

    #[test]
    fn arguments_newer_than_the_version_are_not_acceptable() {
        let at = |body, minor| parse_at(body, minor, states::AVAILABLE);
        not_acceptable(at(json!({"target": "active", "deploy_steps": []}), 68));
        assert!(at(json!({"target": "active", "deploy_steps": []}), 69).is_ok());
        not_acceptable(at(json!({"target": "clean", "disable_ramdisk": true}), 69));
        assert!(at(json!({"target": "clean", "disable_ramdisk": true}), 70).is_ok());
        not_acceptable(at(
            json!({"target": "service", "disable_ramdisk": true}),
            107,
        ));
        not_acceptable(at(json!({"target": "rebuild", "configdrive": "x"}), 34));
        assert!(at(json!({"target": "active", "configdrive": "x"}), 34).is_ok());
    }

    #[test]
    fn abort_from_a_wait_state_needs_that_states_version() {
        let abort = || json!({"target": "abort"});
        not_acceptable(parse_at(abort(), 40, states::INSPECT_WAIT));
        assert!(parse_at(abort(), 41, states::INSPECT_WAIT).is_ok());
        not_acceptable(parse_at(abort(), 109, states::WAIT_CALLBACK));
        assert!(parse_at(abort(), 109, states::CLEAN_WAIT).is_ok());
    }

    /// Each verb from the version Ironic's history gives it (406 one below); 1.13's abort is
    /// from `clean wait`.
    #[test]
    fn every_verb_arrives_at_its_version() {
        for (target, minor, state) in [
            ("manage", 4, states::ENROLL),
            ("provide", 4, states::MANAGEABLE),
            ("inspect", 6, states::MANAGEABLE),
            ("abort", 13, states::CLEAN_WAIT),
            ("clean", 15, states::MANAGEABLE),
            ("adopt", 17, states::MANAGEABLE),
            ("rescue", 38, states::ACTIVE),
            ("unrescue", 38, states::RESCUE),
            ("deploy", 73, states::AVAILABLE),
            ("undeploy", 73, states::ACTIVE),
            ("unhold", 85, states::CLEAN_HOLD),
            ("service", 87, states::ACTIVE),
        ] {
            let mut body = json!({"target": target});
            match target {
                "clean" => body["clean_steps"] = json!([]),
                "service" => body["service_steps"] = json!([]),
                "rescue" => body["rescue_password"] = json!("pw"),
                _ => {}
            }
            let body = || body.clone();
            not_acceptable(parse_at(body(), minor - 1, state));
            assert!(
                parse_at(body(), minor, state).is_ok(),
                "{target} at 1.{minor}"
            );
        }
        // The arguments that came later: a config drive on rebuild (1.35), disable_ramdisk
        // for servicing (1.108).
        let rebuild = json!({"target": "rebuild", "configdrive": "http://x/cd"});
        assert!(parse_at(rebuild, 35, states::ACTIVE).is_ok());
        let service = json!({"target": "service", "service_steps": [], "disable_ramdisk": true});
        assert!(parse_at(service, 108, states::ACTIVE).is_ok());
    }

    #[test]
    fn configdrive_shapes() {
        let at = |cd: Value, minor| {
            parse_at(
                json!({"target": "active", "configdrive": cd}),
                minor,
                states::AVAILABLE,
            )
        };
        bad(
            at(json!(""), 115),
            "Invalid configdrive '': expected a base64-encoded gzipped ISO9660 image or a URL (or, from 1.56, a JSON object)",
        );
        bad(
            at(json!({"user_data": "x"}), 55),
            "Invalid configdrive {'user_data': '******'}: expected a base64-encoded gzipped ISO9660 image or a URL (or, from 1.56, a JSON object)",
        );
        assert!(at(json!({"user_data": "x", "meta_data": {}}), 56).is_ok());
        bad(
            at(json!({"vendor_data": {}}), 58),
            "Invalid configdrive: unexpected key 'vendor_data'; allowed keys are meta_data, network_data, user_data",
        );
        assert!(at(json!({"vendor_data": {}}), 59).is_ok());
        bad(
            at(json!({"network_data": [1]}), 115),
            "Invalid configdrive: network_data must be a JSON object",
        );
    }

    #[test]
    fn wrong_types() {
        bad(
            parse(json!({"target": "rescue", "rescue_password": 5})),
            "Schema error for body: '******' is not of type 'string'",
        );
        bad(
            parse(json!({"target": "clean", "clean_steps": [], "disable_ramdisk": 3})),
            "Schema error for body: 3 is not of type 'string', 'boolean'",
        );
    }
}
