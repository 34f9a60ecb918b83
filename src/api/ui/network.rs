//! The Network page (`/ui/network`): the boot servers' state (DHCP mode, interface, range,
//! leases in use and free) and their recent events (`model::netlog`: every DHCP answer and
//! every dropped packet with its reason, TFTP and HTTP fetches), kept live over SSE.

use std::net::Ipv4Addr;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::super::error::ApiError;
use super::super::State;
use super::live::{encode, Event};
use super::{fragment, page, Chrome, UiUser};
use crate::config::DhcpMode;
use crate::model::netlog::NetEvent;

/// How many recent events the page shows.
const SHOWN: usize = 200;
/// How often the live stream looks for new events (the ring has no notifier; a look is a
/// counter read).
const TICK: Duration = Duration::from_secs(1);

/// Leases in use and free addresses of a full-mode range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseCounts {
    pub size: u64,
    pub in_use: u64,
    pub free: u64,
}

/// From the lease rows (ip, mac, state, expires_at) at `now` (unix seconds): bound and
/// declined addresses that have not expired are taken, the rest of the range is free.
pub fn lease_counts(
    rows: &[(String, String, String, i64)],
    range: (Ipv4Addr, Ipv4Addr),
    now: i64,
) -> LeaseCounts {
    let (a, b) = (u32::from(range.0), u32::from(range.1));
    let size = u64::from(b.saturating_sub(a)) + u64::from(a <= b);
    let in_range = |ip: &str| {
        ip.parse::<Ipv4Addr>()
            .is_ok_and(|i| (a..=b).contains(&u32::from(i)))
    };
    let taken = |state: &str| state == "bound" || state == "declined";
    let in_use = rows
        .iter()
        .filter(|(ip, _, st, exp)| in_range(ip) && taken(st) && *exp > now)
        .count() as u64;
    LeaseCounts {
        size,
        in_use,
        free: size.saturating_sub(in_use),
    }
}

#[derive(Template)]
#[template(path = "ui/network_events.html")]
struct EventsFrag {
    events: Vec<NetEvent>,
    leases: Option<LeaseCounts>,
}

#[derive(Template)]
#[template(path = "ui/network.html")]
struct NetworkPage {
    chrome: Chrome,
    interface: Option<String>,
    mode: String,
    range: Option<String>,
    lease_time: u64,
    allow_unknown: bool,
    events: Vec<NetEvent>,
    leases: Option<LeaseCounts>,
}

async fn leases(state: &State) -> Result<Option<LeaseCounts>, ApiError> {
    let d = &state.config.dhcp;
    let (Some(a), Some(b), DhcpMode::Full) = (d.range_start, d.range_end, d.mode) else {
        return Ok(None);
    };
    let rows = state.store.lease_list().await?;
    Ok(Some(lease_counts(
        &rows,
        (a, b),
        chrono::Utc::now().timestamp(),
    )))
}

async fn show(user: UiUser, state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let d = &state.config.dhcp;
    Ok(page(
        StatusCode::OK,
        &NetworkPage {
            chrome: user.chrome("network"),
            interface: d.interface.clone(),
            mode: d.mode.to_string(),
            range: d
                .range_start
                .zip(d.range_end)
                .map(|(a, b)| format!("{a} – {b}")),
            lease_time: d.lease_time.as_secs(),
            allow_unknown: d.allow_unknown_clients
                || d.interface
                    .as_deref()
                    .is_some_and(|i| state.config.auto_discovery.on_network(i)),
            events: state.store.netlog().recent(SHOWN),
            leases: leases(&state).await?,
        },
    ))
}

/// `GET /ui/network/events`: the events table and lease counts again whenever a new
/// event arrived.
async fn events(_user: UiUser, state: web::Data<State>) -> HttpResponse {
    let state = state.into_inner();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let seen = state.store.netlog().last_seq();
    let body = futures_util::stream::unfold(
        (state, tick, seen, 0u32),
        |(state, mut tick, seen, mut idle)| async move {
            loop {
                tick.tick().await;
                let now = state.store.netlog().last_seq();
                if now == seen {
                    idle += 1;
                    // A comment now and then finds a viewer that has gone.
                    if idle >= 15 {
                        let keep = Bytes::from_static(b": keep-alive\n\n");
                        return Some((Ok::<_, actix_web::Error>(keep), (state, tick, seen, 0)));
                    }
                    continue;
                }
                let leases = leases(&state).await.ok().flatten();
                let frag = EventsFrag {
                    events: state.store.netlog().recent(SHOWN),
                    leases,
                };
                let Ok(html) = fragment(&frag) else {
                    continue;
                };
                let out = encode(&[Event::new("netlog", html)]);
                return Some((Ok(out), (state, tick, now, 0)));
            }
        },
    );
    super::live::event_stream(body)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/network").route(web::get().to(show)))
        .service(web::resource("/network/events").route(web::get().to(events)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ip: &str, state: &str, exp: i64) -> (String, String, String, i64) {
        (ip.into(), "52:54:00:00:00:01".into(), state.into(), exp)
    }

    #[test]
    fn leases_in_use_are_bound_or_declined_and_unexpired_inside_the_range() {
        let range = (Ipv4Addr::new(10, 0, 0, 100), Ipv4Addr::new(10, 0, 0, 109));
        let rows = [
            row("10.0.0.100", "bound", 200),
            row("10.0.0.101", "bound", 50),
            row("10.0.0.102", "reserved", 500),
            row("10.0.0.103", "declined", 500),
            row("10.0.0.200", "bound", 500),
            row("garbage", "bound", 500),
        ];
        assert_eq!(
            lease_counts(&rows, range, 100),
            LeaseCounts {
                size: 10,
                in_use: 2,
                free: 8
            }
        );
        let one = (Ipv4Addr::new(10, 0, 0, 5), Ipv4Addr::new(10, 0, 0, 5));
        assert_eq!(lease_counts(&[], one, 0).size, 1);
    }
}
