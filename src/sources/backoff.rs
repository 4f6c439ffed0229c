//! Reconnect delays: exponential backoff with full jitter, so that many consoles losing the
//! same server do not come back in lockstep.

use std::time::Duration;

use super::error::ClientError;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BackoffPolicy {
    /// Ceiling of the first delay.
    pub base: Duration,
    /// Ceiling of every delay; also the delay after the server refused our credentials.
    pub cap: Duration,
    /// A connection that stayed up this long counts as healthy and resets the backoff.
    pub healthy_after: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(15),
            healthy_after: Duration::from_secs(10),
        }
    }
}

/// Counts consecutive failures and turns them into delays.
#[derive(Clone, Debug)]
pub struct Backoff {
    policy: BackoffPolicy,
    failures: u32,
}

impl Backoff {
    pub fn new(policy: BackoffPolicy) -> Self {
        Backoff {
            policy,
            failures: 0,
        }
    }

    /// Consecutive failures since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// An attempt went through: the next failure starts from the first delay again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// The delay before the next attempt, after a session that failed with `error`.
    /// `live_for` is how long the session had been live, if it got that far: a healthy spell
    /// starts the backoff over. `jitter` in `[0, 1)` picks a point of the window
    /// `[0, min(cap, base * 2^failures))`. A failure only the user can fix (credentials, URL)
    /// waits the whole cap.
    pub fn delay_after(
        &mut self,
        error: &ClientError,
        live_for: Option<Duration>,
        jitter: f64,
    ) -> Duration {
        self.delay(error.is_persistent(), live_for, jitter)
    }

    /// [`Backoff::delay_after`] for any failure: `persistent` when only the user can fix it.
    pub fn delay(&mut self, persistent: bool, live_for: Option<Duration>, jitter: f64) -> Duration {
        if live_for.is_some_and(|live| live >= self.policy.healthy_after) {
            self.failures = 0;
        }
        let delay = if persistent {
            self.policy.cap
        } else {
            self.window().mul_f64(jitter.clamp(0.0, 1.0))
        };
        self.failures = self.failures.saturating_add(1);
        delay
    }

    fn window(&self) -> Duration {
        // 2^31 times any base is past any sensible cap; stop doubling there.
        let factor = 2u32.saturating_pow(self.failures.min(31));
        self.policy.base.saturating_mul(factor).min(self.policy.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff::new(BackoffPolicy {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(15),
            healthy_after: Duration::from_secs(10),
        })
    }

    fn refused() -> ClientError {
        ClientError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            reason: "connection refused".into(),
        }
    }

    fn unauthorized() -> ClientError {
        ClientError::Unauthorized {
            detail: "token rejected".into(),
        }
    }

    #[test]
    fn windows_double_up_to_the_cap() {
        let mut backoff = backoff();
        // A jitter just under 1 shows the window's ceiling.
        let ceilings: Vec<u128> = (0..9)
            .map(|_| backoff.delay_after(&refused(), None, 0.999_999).as_millis())
            .collect();
        assert_eq!(
            ceilings,
            vec![249, 499, 999, 1999, 3999, 7999, 14999, 14999, 14999]
        );
        assert_eq!(backoff.failures(), 9);
    }

    #[test]
    fn jitter_picks_a_point_of_the_window() {
        let mut backoff = backoff();
        assert_eq!(backoff.delay_after(&refused(), None, 0.0), Duration::ZERO);
        assert_eq!(
            backoff.delay_after(&refused(), None, 0.5),
            Duration::from_millis(250)
        );
        assert_eq!(
            backoff.delay_after(&refused(), None, 0.25),
            Duration::from_millis(250)
        );
        // Out-of-range jitter is clamped rather than trusted.
        assert_eq!(
            backoff.delay_after(&refused(), None, 7.0),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn a_healthy_spell_starts_over_but_a_flap_does_not() {
        let mut backoff = backoff();
        for _ in 0..5 {
            backoff.delay_after(&refused(), None, 0.5);
        }
        let flap = Some(Duration::from_secs(2));
        assert_eq!(
            backoff.delay_after(&refused(), flap, 0.5),
            Duration::from_secs(4)
        );
        assert_eq!(backoff.failures(), 6);
        let healthy = Some(Duration::from_secs(10));
        assert_eq!(
            backoff.delay_after(&refused(), healthy, 0.5),
            Duration::from_millis(125)
        );
        assert_eq!(backoff.failures(), 1);
    }

    #[test]
    fn refused_credentials_wait_the_cap_from_the_first_failure() {
        let mut backoff = backoff();
        assert_eq!(
            backoff.delay_after(&unauthorized(), None, 0.0),
            Duration::from_secs(15)
        );
        assert_eq!(
            backoff.delay_after(&unauthorized(), None, 0.0),
            Duration::from_secs(15)
        );
        assert_eq!(backoff.failures(), 2);
    }

    #[test]
    fn many_failures_neither_overflow_nor_pass_the_cap() {
        let mut backoff = backoff();
        for _ in 0..100 {
            assert!(backoff.delay_after(&refused(), None, 0.999) <= Duration::from_secs(15));
        }
    }
}
