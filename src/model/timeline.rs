//! A node's boot timeline: its history rows grouped per provisioning attempt (an attempt
//! starts at a provision verb), each row classified (dhcp, tftp, http, agent, step, power,
//! state, error), steps given an end and a duration, runs of agent heartbeats folded into
//! one row, and every row placed on a bar scaled to its attempt. Pure: the machine page
//! renders it.

use chrono::{DateTime, FixedOffset};

use super::history::{HistoryEvent, SEVERITY_ERROR};

/// What a row is about; `name()` is also its CSS class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dhcp,
    Tftp,
    Http,
    Agent,
    Step,
    Power,
    State,
    Error,
    Other,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Dhcp => "dhcp",
            Kind::Tftp => "tftp",
            Kind::Http => "http",
            Kind::Agent => "agent",
            Kind::Step => "step",
            Kind::Power => "power",
            Kind::State => "state",
            Kind::Error => "error",
            Kind::Other => "event",
        }
    }
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub at: String,
    pub kind: Kind,
    pub text: String,
    /// Steps: when the step ended (its end row, else the next step or state change);
    /// folded heartbeats: the last one.
    pub end: Option<String>,
    pub duration: Option<f64>,
    /// Folded heartbeats: how many.
    pub count: u32,
    /// Where the row sits on its attempt's bar, in percent of the attempt.
    pub bar_left: f64,
    pub bar_width: f64,
}

/// Every row from one provision verb up to the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The verb that started it (`deploy`, `clean`...), `earlier` for rows before the first.
    pub verb: String,
    pub started: String,
    pub last: String,
    pub duration: f64,
    /// The provision state after the attempt's last state change.
    pub state: Option<String>,
    pub failed: bool,
    pub rows: Vec<Row>,
}

/// Events that start an attempt. Conductor-internal events (`done`, `wait`...) and the
/// verbs that act on a running attempt (`abort`, `unhold`) do not.
const ATTEMPT_VERBS: &[&str] = &[
    "manage", "provide", "inspect", "clean", "deploy", "rebuild", "delete", "rescue", "unrescue",
    "adopt", "service",
];

fn parse(t: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(t).ok()
}

fn secs_between(a: &str, b: &str) -> Option<f64> {
    let (a, b) = (parse(a)?, parse(b)?);
    Some(((b - a).num_microseconds()? as f64 / 1e6).max(0.0))
}

fn classify(ev: &HistoryEvent) -> Kind {
    let t = ev.event_type.as_str();
    if ev.severity == SEVERITY_ERROR {
        return Kind::Error;
    }
    if t == "boot_network" {
        return if ev.event.starts_with("DHCP") {
            Kind::Dhcp
        } else if ev.event.starts_with("TFTP") {
            Kind::Tftp
        } else if ev.event.starts_with("HTTP") {
            Kind::Http
        } else {
            Kind::Other
        };
    }
    if t.starts_with("agent_") || t == "inspection" {
        Kind::Agent
    } else if t.ends_with("_step") || t.ends_with("_step_end") {
        Kind::Step
    } else if t.starts_with("power") {
        Kind::Power
    } else if t.starts_with("provision_") {
        Kind::State
    } else {
        Kind::Other
    }
}

/// `provision_deploy` → `deploy` when that verb starts an attempt.
fn attempt_verb(ev: &HistoryEvent) -> Option<&str> {
    ev.event_type
        .strip_prefix("provision_")
        .filter(|v| ATTEMPT_VERBS.contains(v))
}

/// The attempts in `events` (oldest first, as history is listed), newest attempt first.
pub fn build(events: &[HistoryEvent]) -> Vec<Attempt> {
    let mut attempts: Vec<Attempt> = Vec::new();
    for ev in events {
        // The cleaning a tear-down goes on to is part of the undeploy.
        let verb = attempt_verb(ev).filter(|v| {
            !(*v == "clean"
                && attempts
                    .last()
                    .is_some_and(|a| a.state.as_deref() == Some(super::states::DELETING)))
        });
        if verb.is_some() || attempts.is_empty() {
            attempts.push(Attempt {
                verb: verb.unwrap_or("earlier").to_string(),
                started: ev.created_at.clone(),
                last: ev.created_at.clone(),
                duration: 0.0,
                state: None,
                failed: false,
                rows: Vec::new(),
            });
        }
        let Some(a) = attempts.last_mut() else {
            continue;
        };
        a.last = ev.created_at.clone();
        if ev.event_type.starts_with("provision_") {
            a.state = ev.state.clone();
        }
        if ev.severity == SEVERITY_ERROR {
            a.failed = true;
        }
        add_row(&mut a.rows, ev);
    }
    for a in &mut attempts {
        finish(a);
    }
    attempts.reverse();
    attempts
}

/// An event's text as the history API shows it: URL passwords and secrets masked.
fn shown(event: &str) -> String {
    crate::model::secrets::mask_text(event).into_owned()
}

fn add_row(rows: &mut Vec<Row>, ev: &HistoryEvent) {
    let kind = classify(ev);
    // A step's end row closes its start row rather than adding one.
    if ev.event_type.ends_with("_step_end") {
        if let Some(start) = rows
            .iter_mut()
            .rev()
            .find(|r| r.kind == Kind::Step && r.end.is_none())
        {
            start.end = Some(ev.created_at.clone());
            start.duration = ev
                .duration_seconds
                .or_else(|| secs_between(&start.at, &ev.created_at));
            if ev.severity == SEVERITY_ERROR {
                start.kind = Kind::Error;
                start.text = shown(&ev.event);
            }
            return;
        }
    }
    // Consecutive heartbeats: one row with a count, the first and the last.
    if ev.event_type == "agent_heartbeat" {
        if let Some(prev) = rows.last_mut().filter(|r| r.count > 0) {
            prev.count += 1;
            prev.end = Some(ev.created_at.clone());
            prev.duration = secs_between(&prev.at, &ev.created_at);
            return;
        }
    }
    rows.push(Row {
        at: ev.created_at.clone(),
        kind,
        text: shown(&ev.event),
        end: None,
        duration: ev.duration_seconds,
        count: u32::from(ev.event_type == "agent_heartbeat"),
        bar_left: 0.0,
        bar_width: 0.0,
    });
}

/// Open steps end where the next step or state change begins; then the bars.
fn finish(a: &mut Attempt) {
    let n = a.rows.len();
    for i in 0..n {
        let open = a
            .rows
            .get(i)
            .is_some_and(|r| r.kind == Kind::Step && r.end.is_none());
        if !open {
            continue;
        }
        let next = a
            .rows
            .iter()
            .skip(i + 1)
            .find(|r| matches!(r.kind, Kind::Step | Kind::State | Kind::Error))
            .map(|r| r.at.clone());
        if let (Some(row), Some(end)) = (a.rows.get_mut(i), next) {
            row.duration = secs_between(&row.at, &end);
            row.end = Some(end);
        }
    }
    a.duration = secs_between(&a.started, &a.last).unwrap_or(0.0);
    let span = a.duration;
    for r in &mut a.rows {
        let left = secs_between(&a.started, &r.at).unwrap_or(0.0);
        let width = r.duration.unwrap_or(0.0);
        if span > 0.0 {
            r.bar_left = (left / span * 100.0).clamp(0.0, 100.0);
            r.bar_width = (width / span * 100.0).clamp(0.0, 100.0 - r.bar_left);
        }
    }
}

/// `12.345` s → `12.3 s`, `75` → `1 min 15 s`: durations at a glance.
pub fn human(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        format!("{} min {} s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    } else {
        format!(
            "{} h {} min",
            (secs / 3600.0) as u64,
            ((secs % 3600.0) / 60.0) as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::history::SEVERITY_INFO;

    fn ev(sec: u32, event_type: &str, text: &str) -> HistoryEvent {
        HistoryEvent {
            event_type: event_type.into(),
            event: text.into(),
            severity: SEVERITY_INFO.into(),
            created_at: format!("2026-12-07T10:{:02}:{:02}.000000+00:00", sec / 60, sec % 60),
            ..Default::default()
        }
    }

    #[test]
    fn passwords_in_event_text_are_masked_as_the_history_api_masks_them() {
        let a = build(&[
            ev(0, "provision_deploy", "to deploying"),
            ev(
                1,
                "deploy_step",
                "Image download from http://bob:hunter2@img.lab/os.qcow2 failed",
            ),
        ]);
        let text: Vec<&str> = a
            .iter()
            .flat_map(|a| a.rows.iter().map(|r| r.text.as_str()))
            .collect();
        assert!(text.iter().all(|t| !t.contains("hunter2")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("img.lab")), "{text:?}");
    }

    #[test]
    fn groups_per_attempt_newest_first_with_steps_and_heartbeats() {
        let mut events = vec![
            ev(
                0,
                "provision_manage",
                "Node moved from \"enroll\" to \"verifying\" (manage)",
            ),
            ev(1, "provision_done", "to manageable"),
            ev(10, "provision_provide", "to cleaning"),
            ev(11, "power", "Power action \"power on\" succeeded"),
            ev(12, "boot_network", "DHCP Discover → Offer 10.0.0.5 (aa:bb)"),
            ev(13, "boot_network", "TFTP read of snponly.efi, 1024 bytes"),
            ev(14, "boot_network", "HTTP: GET /files/k, 2048 bytes"),
            ev(20, "agent_lookup", "Agent looked the node up"),
            ev(21, "agent_heartbeat", "hb"),
            ev(
                30,
                "clean_step",
                "Running clean step deploy.erase_devices_metadata",
            ),
            ev(31, "agent_heartbeat", "hb"),
            ev(41, "agent_heartbeat", "hb"),
            ev(51, "agent_heartbeat", "hb"),
            ev(
                60,
                "clean_step",
                "Running clean step raid.delete_configuration",
            ),
        ];
        let mut end = ev(
            70,
            "clean_step_end",
            "Finished clean step raid.delete_configuration",
        );
        end.duration_seconds = Some(9.5);
        events.push(end);
        let mut done = ev(110, "provision_done", "to available");
        done.state = Some("available".into());
        events.push(done);
        let attempts = build(&events);
        assert_eq!(attempts.len(), 2);
        let provide = &attempts[0];
        assert_eq!(provide.verb, "provide");
        assert_eq!(provide.state.as_deref(), Some("available"));
        assert_eq!(provide.duration, 100.0);
        assert_eq!(attempts[1].verb, "manage");
        let kinds: Vec<&str> = provide.rows.iter().map(|r| r.kind.name()).collect();
        assert_eq!(
            kinds,
            [
                "state", "power", "dhcp", "tftp", "http", "agent", "agent", "step", "agent",
                "step", "state"
            ]
        );
        // The first step ends where the next begins; the second has its own end row.
        let step1 = &provide.rows[7];
        assert_eq!(step1.duration, Some(30.0));
        assert_eq!(step1.bar_left, 20.0);
        assert_eq!(step1.bar_width, 30.0);
        let hb = &provide.rows[8];
        assert_eq!(hb.count, 3);
        assert_eq!(hb.duration, Some(20.0));
        let step2 = &provide.rows[9];
        assert_eq!(step2.duration, Some(9.5));
        assert!(step2.end.as_deref().is_some_and(|e| e.contains("10:01:10")));
        assert!(!provide.failed);
    }

    #[test]
    fn errors_mark_the_attempt_and_rows_before_any_verb_are_kept() {
        let mut fail = ev(5, "provision_fail", "Deploy step deploy.write_image failed");
        fail.severity = SEVERITY_ERROR.into();
        let events = vec![
            ev(0, "power_sync", "power state changed"),
            ev(1, "provision_deploy", "to deploying"),
            ev(2, "deploy_step", "Running deploy step deploy.write_image"),
            fail,
        ];
        let attempts = build(&events);
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[1].verb, "earlier");
        assert_eq!(attempts[1].rows[0].kind, Kind::Power);
        let deploy = &attempts[0];
        assert!(deploy.failed);
        assert_eq!(deploy.rows[1].duration, Some(3.0));
        assert_eq!(deploy.rows[2].kind, Kind::Error);
        assert!(build(&[]).is_empty());
    }

    #[test]
    fn the_cleaning_after_a_tear_down_belongs_to_the_undeploy() {
        let mut del = ev(0, "provision_delete", "to deleting");
        del.state = Some("deleting".into());
        let mut clean = ev(5, "provision_clean", "to cleaning");
        clean.state = Some("cleaning".into());
        let mut done = ev(9, "provision_done", "to available");
        done.state = Some("available".into());
        let attempts = build(&[del, clean, done, ev(20, "provision_clean", "manual")]);
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[1].verb, "delete");
        assert_eq!(attempts[1].rows.len(), 3);
        assert_eq!(attempts[1].state.as_deref(), Some("available"));
        assert_eq!(attempts[0].verb, "clean");
    }

    #[test]
    fn unparsable_times_give_no_durations_not_a_panic() {
        let mut a = ev(0, "provision_deploy", "x");
        a.created_at = "garbage".into();
        let mut b = ev(0, "deploy_step", "y");
        b.created_at = String::new();
        let attempts = build(&[a, b]);
        assert_eq!(attempts[0].rows[1].duration, None);
        assert_eq!(attempts[0].duration, 0.0);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(12.34), "12.3 s");
        assert_eq!(human(75.0), "1 min 15 s");
        assert_eq!(human(3725.0), "1 h 2 min");
    }
}
