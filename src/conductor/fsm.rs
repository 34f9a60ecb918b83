//! THE provision state machine: every (state, event) → state transition Ironic allows, as one
//! table, plus the API verbs that fire events and the microversion each needs. Nothing else
//! decides whether a provision state may change; `task::NodeTask::process_event` is the one
//! door that applies a transition.

use crate::model::states::*;

/// Events: the ones the API fires (verbs) and the ones the conductor fires internally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    Manage,
    Provide,
    Inspect,
    Clean,
    Deploy,
    Rebuild,
    Delete,
    Rescue,
    Unrescue,
    Adopt,
    Abort,
    Unhold,
    Service,
    // conductor-internal
    Done,
    Fail,
    Wait,
    Resume,
    Hold,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::Manage => "manage",
            Event::Provide => "provide",
            Event::Inspect => "inspect",
            Event::Clean => "clean",
            Event::Deploy => "deploy",
            Event::Rebuild => "rebuild",
            Event::Delete => "delete",
            Event::Rescue => "rescue",
            Event::Unrescue => "unrescue",
            Event::Adopt => "adopt",
            Event::Abort => "abort",
            Event::Unhold => "unhold",
            Event::Service => "service",
            Event::Done => "done",
            Event::Fail => "fail",
            Event::Wait => "wait",
            Event::Resume => "resume",
            Event::Hold => "hold",
        }
    }
}

use Event::*;

/// (from, event, to). Ironic's state_machine.py, as a flat list.
pub const TRANSITIONS: &[(&str, Event, &str)] = &[
    (ENROLL, Manage, VERIFYING),
    (VERIFYING, Done, MANAGEABLE),
    (VERIFYING, Fail, ENROLL),
    (MANAGEABLE, Provide, CLEANING),
    (MANAGEABLE, Clean, CLEANING),
    (MANAGEABLE, Inspect, INSPECTING),
    (MANAGEABLE, Adopt, ADOPTING),
    (AVAILABLE, Manage, MANAGEABLE),
    (AVAILABLE, Deploy, DEPLOYING),
    (INSPECTING, Done, MANAGEABLE),
    (INSPECTING, Wait, INSPECT_WAIT),
    (INSPECTING, Fail, INSPECT_FAILED),
    (INSPECT_WAIT, Resume, INSPECTING),
    (INSPECT_WAIT, Done, MANAGEABLE),
    (INSPECT_WAIT, Fail, INSPECT_FAILED),
    (INSPECT_WAIT, Abort, INSPECT_FAILED),
    (INSPECT_FAILED, Manage, MANAGEABLE),
    (INSPECT_FAILED, Inspect, INSPECTING),
    (CLEANING, Wait, CLEAN_WAIT),
    (CLEANING, Hold, CLEAN_HOLD),
    (CLEANING, Done, AVAILABLE),
    (CLEANING, Manage, MANAGEABLE),
    (CLEANING, Fail, CLEAN_FAILED),
    (CLEAN_WAIT, Resume, CLEANING),
    (CLEAN_WAIT, Hold, CLEAN_HOLD),
    (CLEAN_WAIT, Fail, CLEAN_FAILED),
    (CLEAN_WAIT, Abort, CLEAN_FAILED),
    (CLEAN_HOLD, Unhold, CLEAN_WAIT),
    (CLEAN_HOLD, Abort, CLEAN_FAILED),
    (CLEAN_FAILED, Manage, MANAGEABLE),
    (DEPLOYING, Wait, WAIT_CALLBACK),
    (DEPLOYING, Hold, DEPLOY_HOLD),
    (DEPLOYING, Done, ACTIVE),
    (DEPLOYING, Fail, DEPLOY_FAILED),
    (WAIT_CALLBACK, Resume, DEPLOYING),
    (WAIT_CALLBACK, Hold, DEPLOY_HOLD),
    (WAIT_CALLBACK, Fail, DEPLOY_FAILED),
    (WAIT_CALLBACK, Abort, DEPLOY_FAILED),
    (WAIT_CALLBACK, Delete, DELETING),
    (DEPLOY_HOLD, Unhold, WAIT_CALLBACK),
    (DEPLOY_HOLD, Abort, DEPLOY_FAILED),
    (DEPLOY_FAILED, Rebuild, DEPLOYING),
    (DEPLOY_FAILED, Deploy, DEPLOYING),
    (DEPLOY_FAILED, Delete, DELETING),
    (ACTIVE, Rebuild, DEPLOYING),
    (ACTIVE, Delete, DELETING),
    (ACTIVE, Rescue, RESCUING),
    (ACTIVE, Service, SERVICING),
    (DELETING, Clean, CLEANING),
    (DELETING, Fail, ERROR),
    (ERROR, Rebuild, DEPLOYING),
    (ERROR, Delete, DELETING),
    (ADOPTING, Done, ACTIVE),
    (ADOPTING, Fail, ADOPT_FAILED),
    (ADOPT_FAILED, Adopt, ADOPTING),
    (ADOPT_FAILED, Manage, MANAGEABLE),
    (RESCUING, Wait, RESCUE_WAIT),
    (RESCUING, Done, RESCUE),
    (RESCUING, Fail, RESCUE_FAILED),
    (RESCUE_WAIT, Resume, RESCUING),
    (RESCUE_WAIT, Fail, RESCUE_FAILED),
    (RESCUE_WAIT, Abort, RESCUE_FAILED),
    (RESCUE_WAIT, Delete, DELETING),
    (RESCUE, Rescue, RESCUING),
    (RESCUE, Unrescue, UNRESCUING),
    (RESCUE, Delete, DELETING),
    (RESCUE_FAILED, Rescue, RESCUING),
    (RESCUE_FAILED, Unrescue, UNRESCUING),
    (RESCUE_FAILED, Delete, DELETING),
    (UNRESCUING, Done, ACTIVE),
    (UNRESCUING, Fail, UNRESCUE_FAILED),
    (UNRESCUE_FAILED, Rescue, RESCUING),
    (UNRESCUE_FAILED, Unrescue, UNRESCUING),
    (UNRESCUE_FAILED, Delete, DELETING),
    (SERVICING, Done, ACTIVE),
    (SERVICING, Wait, SERVICE_WAIT),
    (SERVICING, Hold, SERVICE_HOLD),
    (SERVICING, Fail, SERVICE_FAILED),
    (SERVICE_WAIT, Resume, SERVICING),
    (SERVICE_WAIT, Hold, SERVICE_HOLD),
    (SERVICE_WAIT, Fail, SERVICE_FAILED),
    (SERVICE_WAIT, Abort, SERVICE_FAILED),
    (SERVICE_WAIT, Delete, DELETING),
    (SERVICE_HOLD, Unhold, SERVICE_WAIT),
    (SERVICE_HOLD, Service, SERVICING),
    (SERVICE_HOLD, Fail, SERVICE_FAILED),
    (SERVICE_HOLD, Abort, SERVICE_FAILED),
    (SERVICE_FAILED, Service, SERVICING),
    (SERVICE_FAILED, Rescue, RESCUING),
    (SERVICE_FAILED, Wait, SERVICE_WAIT),
    (SERVICE_FAILED, Hold, SERVICE_HOLD),
    (SERVICE_FAILED, Delete, DELETING),
    (SERVICE_FAILED, Abort, ACTIVE),
];

/// The state `event` leads to from `from`, if the table allows it.
pub fn next(from: &str, event: Event) -> Option<&'static str> {
    TRANSITIONS
        .iter()
        .find(|(f, e, _)| *f == from && *e == event)
        .map(|(_, _, to)| *to)
}

/// API verb → (event, first microversion that accepts the verb).
pub const VERBS: &[(&str, Event, u32)] = &[
    ("manage", Manage, 4),
    ("provide", Provide, 4),
    ("inspect", Inspect, 6),
    ("abort", Abort, 13),
    ("clean", Clean, 15),
    ("adopt", Adopt, 17),
    ("active", Deploy, 1),
    ("deploy", Deploy, 73),
    ("rebuild", Rebuild, 1),
    ("deleted", Delete, 1),
    ("undeploy", Delete, 73),
    ("rescue", Rescue, 38),
    ("unrescue", Unrescue, 38),
    ("unhold", Unhold, 85),
    ("service", Service, 87),
];

pub fn verb(name: &str) -> Option<(Event, u32)> {
    VERBS
        .iter()
        .find(|(v, _, _)| *v == name)
        .map(|(_, e, min)| (*e, *min))
}

/// The API verbs the table accepts from `state`, in `VERBS` order (both spellings of an
/// aliased verb, e.g. `active` and `deploy`). The UI's action buttons come from here.
pub fn verbs_from(state: &str) -> Vec<&'static str> {
    VERBS
        .iter()
        .filter(|(_, e, _)| next(state, *e).is_some())
        .map(|(v, _, _)| *v)
        .collect()
}

/// Stable states: nothing happens to a node here until someone asks.
pub const STABLE: &[&str] = &[ENROLL, MANAGEABLE, AVAILABLE, ACTIVE, ERROR, RESCUE];

/// A state a node rests in until someone asks: stable, or a failure a verb must clear.
/// Provision durations (metrics) run from a verb leaving one to arriving at the next.
pub fn is_resting(state: &str) -> bool {
    STABLE.contains(&state) || state.ends_with(" failed")
}

/// Where a node that was mid-work when its conductor died is moved (the `fail` edge of the
/// state it was in). `*wait` states are left to their callback timeouts.
pub const FAIL_ON_RESTART: &[&str] = &[
    DEPLOYING, CLEANING, VERIFYING, INSPECTING, ADOPTING, RESCUING, UNRESCUING, DELETING, SERVICING,
];

/// `target_provision_state` after `event` moves a node from `from` to `to`: cleared in a
/// stable state, set by the verb that started the work, otherwise kept as it was.
pub fn target_for(from: &str, event: Event, to: &str, current: Option<&str>) -> Option<String> {
    if STABLE.contains(&to) {
        return None;
    }
    let t = match event {
        Manage | Inspect => MANAGEABLE,
        Provide | Delete => AVAILABLE,
        // Cleaning after a tear-down ends in available; manual cleaning in manageable.
        Clean => {
            if from == DELETING {
                AVAILABLE
            } else {
                MANAGEABLE
            }
        }
        Deploy | Rebuild | Adopt | Unrescue | Service => ACTIVE,
        Rescue => RESCUE,
        Done | Fail | Wait | Resume | Hold | Abort | Unhold => return current.map(str::to_string),
    };
    Some(t.to_string())
}

/// Graphviz rendering of the table (kept as `tests/golden/states.dot`).
pub fn to_dot() -> String {
    let mut out = String::from("digraph ironbox_provision_states {\n  rankdir=LR;\n");
    for s in STABLE {
        out.push_str(&format!("  \"{s}\" [shape=box, style=bold];\n"));
    }
    for (from, ev, to) in TRANSITIONS {
        out.push_str(&format!(
            "  \"{from}\" -> \"{to}\" [label=\"{}\"];\n",
            ev.name()
        ));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn no_duplicate_edges() {
        let mut seen = HashSet::new();
        for (f, e, _) in TRANSITIONS {
            assert!(seen.insert((*f, *e)), "duplicate ({f}, {e:?})");
        }
    }

    #[test]
    fn every_state_is_reachable_from_enroll_and_known() {
        let mut reached: HashSet<&str> = HashSet::from([ENROLL]);
        loop {
            let before = reached.len();
            for (f, _, t) in TRANSITIONS {
                if reached.contains(f) {
                    reached.insert(t);
                }
            }
            if reached.len() == before {
                break;
            }
        }
        for s in ALL_PROVISION_STATES {
            assert!(reached.contains(s), "{s} unreachable");
        }
        for (f, _, t) in TRANSITIONS {
            assert!(ALL_PROVISION_STATES.contains(f) && ALL_PROVISION_STATES.contains(t));
        }
    }

    #[test]
    fn transient_states_can_fail_and_waits_can_abort() {
        for s in [
            VERIFYING,
            INSPECTING,
            INSPECT_WAIT,
            CLEANING,
            CLEAN_WAIT,
            DEPLOYING,
            WAIT_CALLBACK,
            DELETING,
            ADOPTING,
            RESCUING,
            RESCUE_WAIT,
            UNRESCUING,
            SERVICING,
            SERVICE_WAIT,
        ] {
            assert!(next(s, Fail).is_some(), "{s} has no fail edge");
        }
        for s in [
            INSPECT_WAIT,
            CLEAN_WAIT,
            CLEAN_HOLD,
            WAIT_CALLBACK,
            DEPLOY_HOLD,
            RESCUE_WAIT,
            SERVICE_WAIT,
            SERVICE_HOLD,
        ] {
            assert!(next(s, Abort).is_some(), "{s} cannot be aborted");
        }
        for s in FAIL_ON_RESTART {
            assert!(next(s, Fail).is_some());
        }
        // Ironic's explicit refusals.
        assert_eq!(next(AVAILABLE, Provide), None);
        assert_eq!(next(AVAILABLE, Inspect), None);
        assert_eq!(next(CLEAN_FAILED, Provide), None);
        assert_eq!(next(DEPLOYING, Abort), None);
    }

    #[test]
    fn verbs_map_to_events() {
        assert_eq!(verb("active"), Some((Deploy, 1)));
        assert_eq!(verb("undeploy"), Some((Delete, 73)));
        assert_eq!(verb("bogus"), None);
    }

    #[test]
    fn verbs_from_follows_the_table_for_every_state() {
        for s in ALL_PROVISION_STATES {
            let verbs = verbs_from(s);
            for (v, e, _) in VERBS {
                assert_eq!(verbs.contains(v), next(s, *e).is_some(), "{s}: {v}");
            }
        }
        assert_eq!(verbs_from(ENROLL), ["manage"]);
        assert_eq!(
            verbs_from(MANAGEABLE),
            ["provide", "inspect", "clean", "adopt"]
        );
        assert_eq!(verbs_from(AVAILABLE), ["manage", "active", "deploy"]);
        assert_eq!(
            verbs_from(ACTIVE),
            ["rebuild", "deleted", "undeploy", "rescue", "service"]
        );
        assert_eq!(verbs_from(WAIT_CALLBACK), ["abort", "deleted", "undeploy"]);
        assert!(verbs_from(DEPLOYING).is_empty());
        assert!(verbs_from(CLEANING).contains(&"manage"));
    }

    #[test]
    fn diagram_is_current() {
        let golden =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/states.dot");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, to_dot()).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(golden).unwrap_or_default(),
            to_dot(),
            "rerun with UPDATE_GOLDEN=1"
        );
    }
}
