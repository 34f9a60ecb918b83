//! A per-minute cap on events (discovery boots and enrollments): a sliding one-minute
//! window, so a flood of unknown machines is bounded without a background task.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// At most `limit` events in any 60 s; `None` = unlimited.
#[derive(Debug, Default)]
pub struct PerMinute {
    limit: Option<u32>,
    seen: Mutex<VecDeque<Instant>>,
}

impl PerMinute {
    pub fn new(limit: Option<u32>) -> PerMinute {
        PerMinute {
            limit,
            seen: Mutex::default(),
        }
    }

    /// Count an event now if the window has room; false when the cap is reached.
    pub fn allow(&self) -> bool {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> bool {
        let Some(limit) = self.limit else {
            return true;
        };
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while seen
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            seen.pop_front();
        }
        if seen.len() >= limit as usize {
            return false;
        }
        seen.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_a_minute_then_recovers() {
        let r = PerMinute::new(Some(3));
        let t0 = Instant::now();
        assert!((0..3).all(|_| r.allow_at(t0)));
        assert!(!r.allow_at(t0 + Duration::from_secs(59)));
        assert!(r.allow_at(t0 + WINDOW));
        assert!((0..1000).all(|_| PerMinute::new(None).allow()));
    }
}
