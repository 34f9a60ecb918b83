//! The registry's exposition in both formats, the provision duration's start and end, and
//! the bound on free-form label values.

use std::time::Duration;

use super::*;

fn text(openmetrics: bool) -> String {
    encode(
        &vec![
            ("active".into(), Some("power on".into()), false, 3),
            ("enroll".into(), None, true, 2),
        ],
        openmetrics,
    )
    .unwrap()
}

#[test]
fn both_formats_carry_node_gauges_and_counters() {
    api_request("/v1/nodes/{node}", "GET", 200, Duration::from_millis(2));
    let om = text(true);
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(
        om.contains("ironbox_nodes{provision_state=\"active\"} 3"),
        "{om}"
    );
    assert!(om.contains("ironbox_nodes_by_power_state{power_state=\"none\"} 2"));
    assert!(om.contains("ironbox_nodes_in_maintenance 2"));
    assert!(om.contains(
        "ironbox_api_requests_total{route=\"/v1/nodes/{node}\",method=\"GET\",status=\"200\"}"
    ));
    let prom = text(false);
    assert!(!prom.contains("# EOF"));
    assert!(
        prom.contains("# TYPE ironbox_api_requests_total counter"),
        "{prom}"
    );
}

#[test]
fn a_verb_is_timed_until_the_node_rests() {
    // The registry is process-wide and other unit tests move nodes through the real state
    // machine in parallel, so this test uses a verb and states no real transition has.
    let node = "1be26c0b-03f2-4d2e-ae87-c02d7f33c781";
    provision_transition(node, "t-rest", "t-verb", "t-busy", (true, false));
    provision_transition(node, "t-busy", "t-wait", "t-waiting", (false, false));
    provision_transition(node, "t-waiting", "t-done", "t-rested", (false, true));
    let om = text(true);
    assert!(
        om.contains("ironbox_provision_duration_seconds_count{verb=\"t-verb\",to=\"t-rested\"} 1"),
        "{om}"
    );
    assert!(om.contains(
        "ironbox_provision_transitions_total{from=\"t-rest\",event=\"t-verb\",to=\"t-busy\"} 1"
    ));
    assert!(!om.contains(node), "node UUIDs never become labels");
}

#[test]
fn free_form_step_names_are_bounded() {
    for i in 0..(MAX_SERIES + 50) {
        step(
            "deploy",
            &format!("made_up_{i}"),
            true,
            Duration::from_secs(1),
        );
    }
    assert!(text(true).contains("step=\"other\""));
}
