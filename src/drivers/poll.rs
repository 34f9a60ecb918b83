//! Waiting for hardware: the one loop that asks again until the answer comes or the time
//! is up, and the power-state wait the ipmitool and redfish power interfaces share on it.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::DriverError;

/// How often a power interface asks the BMC whether the power state changed.
const POWER_POLL: Duration = Duration::from_millis(500);

/// Call `probe` until it returns `Some`, sleeping `every` between calls. `Ok(None)`: a
/// probe made after `deadline` still found nothing. A probe's error ends the wait at once.
/// The first probe runs immediately, so an answer that is already there costs no sleep.
pub async fn poll_until<T, E, F, Fut>(
    deadline: Instant,
    every: Duration,
    mut probe: F,
) -> Result<Option<T>, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, E>>,
{
    loop {
        if let Some(v) = probe().await? {
            return Ok(Some(v));
        }
        if Instant::now() > deadline {
            return Ok(None);
        }
        tokio::time::sleep(every).await;
    }
}

/// Wait until `is_on` reports `on`, asking every 500 ms; Timeout after `within`.
pub async fn wait_for_power<F, Fut>(
    on: bool,
    within: Duration,
    mut is_on: F,
) -> Result<(), DriverError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, DriverError>>,
{
    let reached = poll_until(Instant::now() + within, POWER_POLL, || {
        let now = is_on();
        async move { Ok::<_, DriverError>((now.await? == on).then_some(())) }
    })
    .await?;
    reached.ok_or_else(|| {
        DriverError::Timeout(format!(
            "the BMC did not report power {} within {} s",
            if on { "on" } else { "off" },
            within.as_secs()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test(start_paused = true)]
    async fn an_answer_already_there_costs_no_sleep() {
        let start = Instant::now();
        let got = poll_until(
            start + Duration::from_secs(5),
            Duration::from_secs(1),
            || async { Ok::<_, ()>(Some(7)) },
        )
        .await;
        assert_eq!(got, Ok(Some(7)));
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn probes_every_interval_until_the_answer_comes() {
        let start = Instant::now();
        let calls = Cell::new(0);
        let got = poll_until(
            start + Duration::from_secs(10),
            Duration::from_secs(2),
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move { Ok::<_, ()>((n == 3).then_some(n)) }
            },
        )
        .await;
        assert_eq!(got, Ok(Some(3)));
        assert_eq!(start.elapsed(), Duration::from_secs(4), "two sleeps of 2 s");
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_deadline_with_one_last_probe() {
        let start = Instant::now();
        let calls = Cell::new(0);
        let got = poll_until(
            start + Duration::from_secs(3),
            Duration::from_secs(1),
            || {
                calls.set(calls.get() + 1);
                async { Ok::<Option<()>, ()>(None) }
            },
        )
        .await;
        assert_eq!(got, Ok(None));
        // Probes at 0, 1, 2, 3 s (not yet past the deadline) and 4 s (past it).
        assert_eq!(calls.get(), 5);
        assert_eq!(start.elapsed(), Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_error_ends_the_wait_at_once() {
        let start = Instant::now();
        let got: Result<Option<()>, &str> = poll_until(
            start + Duration::from_secs(60),
            Duration::from_secs(1),
            || async { Err("BMC unreachable") },
        )
        .await;
        assert_eq!(got, Err("BMC unreachable"));
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn power_waits_report_the_state_they_missed() {
        let start = Instant::now();
        let e = wait_for_power(true, Duration::from_secs(2), || async { Ok(false) })
            .await
            .unwrap_err();
        assert!(
            matches!(&e, DriverError::Timeout(m) if m == "the BMC did not report power on within 2 s"),
            "{e:?}"
        );
        assert!(start.elapsed() <= Duration::from_secs(3));
        let polls = Cell::new(0);
        wait_for_power(false, Duration::from_secs(2), || {
            polls.set(polls.get() + 1);
            let off = polls.get() > 1;
            async move { Ok(!off) }
        })
        .await
        .unwrap();
        assert_eq!(polls.get(), 2, "asked again after {POWER_POLL:?}");
    }
}
