//! `StepKind`: clean, deploy and service steps, and the one table saying which provision
//! states belong to which kind (so a waiting or held node knows what it waits on).

use super::node::Node;
use super::states::*;
use super::JsonObject;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Clean,
    Deploy,
    Service,
}

/// Ironic's states per step kind: (kind, running, waiting for the agent, held). A node in
/// any of these has a current step of that kind (`clean_step`, `deploy_step`,
/// `service_step`) and a plan in `driver_internal_info`.
const STATES: [(StepKind, &str, &str, &str); 3] = [
    (StepKind::Clean, CLEANING, CLEAN_WAIT, CLEAN_HOLD),
    (StepKind::Deploy, DEPLOYING, WAIT_CALLBACK, DEPLOY_HOLD),
    (StepKind::Service, SERVICING, SERVICE_WAIT, SERVICE_HOLD),
];

impl StepKind {
    /// `clean`, `deploy` or `service`, as in Ironic's messages and `get_<kind>_steps`.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Clean => "clean",
            StepKind::Deploy => "deploy",
            StepKind::Service => "service",
        }
    }

    /// The kind of steps a node in `state` runs, waits on or holds; None outside steps
    /// (rescue, inspection, stable states...).
    pub fn of_state(state: &str) -> Option<StepKind> {
        STATES
            .iter()
            .find(|(_, run, wait, hold)| [*run, *wait, *hold].contains(&state))
            .map(|(k, ..)| *k)
    }

    /// The kind whose agent callback a node in `state` waits for (`clean wait`,
    /// `wait call-back`, `service wait`); None in any other state.
    pub fn waiting_in(state: &str) -> Option<StepKind> {
        STATES
            .iter()
            .find(|(_, _, wait, _)| *wait == state)
            .map(|(k, ..)| *k)
    }
}

impl std::fmt::Display for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Node {
    /// The step of `kind` running now (empty when none): `clean_step`, `deploy_step` or
    /// `service_step`.
    pub fn current_step(&self, kind: StepKind) -> &JsonObject {
        match kind {
            StepKind::Clean => &self.clean_step,
            StepKind::Deploy => &self.deploy_step,
            StepKind::Service => &self.service_step,
        }
    }

    pub fn current_step_mut(&mut self, kind: StepKind) -> &mut JsonObject {
        match kind {
            StepKind::Clean => &mut self.clean_step,
            StepKind::Deploy => &mut self.deploy_step,
            StepKind::Service => &mut self.service_step,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table as Ironic's state machine has it: running, waiting and held states map to
    /// their kind; everything else (rescue and inspection waits included) to none.
    #[test]
    fn states_to_kinds() {
        use StepKind::*;
        let expect = [
            (CLEANING, Some(Clean)),
            (CLEAN_WAIT, Some(Clean)),
            (CLEAN_HOLD, Some(Clean)),
            (DEPLOYING, Some(Deploy)),
            (WAIT_CALLBACK, Some(Deploy)),
            (DEPLOY_HOLD, Some(Deploy)),
            (SERVICING, Some(Service)),
            (SERVICE_WAIT, Some(Service)),
            (SERVICE_HOLD, Some(Service)),
        ];
        for s in ALL_PROVISION_STATES {
            let want = expect.iter().find(|(st, _)| st == s).and_then(|(_, k)| *k);
            assert_eq!(StepKind::of_state(s), want, "{s}");
            let waits = [CLEAN_WAIT, WAIT_CALLBACK, SERVICE_WAIT].contains(s);
            assert_eq!(StepKind::waiting_in(s), want.filter(|_| waits), "{s}");
        }
        assert_eq!(StepKind::of_state("bogus"), None);
        assert_eq!(StepKind::waiting_in(RESCUE_WAIT), None);
        assert_eq!(StepKind::waiting_in(INSPECT_WAIT), None);
    }

    #[test]
    fn current_step_follows_kind() {
        let mut n = Node::default();
        n.current_step_mut(StepKind::Service)
            .insert("step".into(), "x".into());
        assert_eq!(
            n.service_step.get("step").and_then(|v| v.as_str()),
            Some("x")
        );
        assert!(n.current_step(StepKind::Clean).is_empty());
        assert!(n.current_step(StepKind::Deploy).is_empty());
        assert_eq!(n.current_step(StepKind::Service), &n.service_step);
        assert_eq!(
            [StepKind::Clean, StepKind::Deploy, StepKind::Service].map(StepKind::name),
            ["clean", "deploy", "service"]
        );
    }
}
