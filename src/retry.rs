//! Every wait in rpd goes through here: one way to repeat a call that failed
//! and one way to look again at something that is changing.
//!
//! - [`Backoff`] with [`retry`] (or [`retry_with`]): repeat a call while the
//!   caller's predicate says its error may pass, waiting a growing, jittered
//!   delay, or the wait the server asked for (the caller's hint), within a
//!   number of retries, a total wait and a deadline. Built on `backon`.
//! - [`PollSchedule`] with [`poll`] (or [`poll_blocking`]): look, and look
//!   again after `first`, each later wait `factor` times the one before up
//!   to `max` (to `later.max` once nothing changed for `later.after`), back
//!   to `first` whenever what is watched changes.
//!
//! - [`pace::Pacer`]: waits before requests so that they stay under a
//!   server's rate limit, read from its answers.
//!
//! Generic on purpose: it knows neither provider nor transport errors (the
//! data plane uses it too and must not import the control plane); callers
//! say what is worth repeating and what the server asked for.

use std::future::Future;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder, Retryable, RetryableWithContext};

/// Backoff delays get up to this fraction added at random, so that clients
/// that failed together do not come back together. A server's own wait
/// (`Retry-After`) is kept as it is.
pub const JITTER: f32 = 0.1;

/// How a failed call is repeated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The wait before the second try.
    pub first_delay: Duration,
    /// Each later wait is the one before times this.
    pub factor: f32,
    /// No single backoff wait above this (`None`: no cap).
    pub max_delay: Option<Duration>,
    /// Tries after the first (`None`: as many as the limits below allow).
    pub retries: Option<usize>,
    /// The waits, server hints included, never add up to more than this.
    pub max_total_wait: Option<Duration>,
    /// No wait that would end at or after this instant.
    pub deadline: Option<Instant>,
    /// Up to this fraction is added at random to each backoff wait.
    pub jitter: f32,
}

impl Backoff {
    /// `first_delay`, doubling each time, with no limit until one is set.
    pub const fn exponential(first_delay: Duration) -> Backoff {
        Backoff {
            first_delay,
            factor: 2.0,
            max_delay: None,
            retries: None,
            max_total_wait: None,
            deadline: None,
            jitter: JITTER,
        }
    }

    /// The same wait each time.
    pub const fn constant(delay: Duration) -> Backoff {
        Backoff {
            factor: 1.0,
            max_delay: Some(delay),
            ..Backoff::exponential(delay)
        }
    }

    pub const fn retries(self, retries: usize) -> Backoff {
        Backoff {
            retries: Some(retries),
            ..self
        }
    }

    pub const fn max_delay(self, max_delay: Duration) -> Backoff {
        Backoff {
            max_delay: Some(max_delay),
            ..self
        }
    }

    pub const fn max_total_wait(self, max_total_wait: Duration) -> Backoff {
        Backoff {
            max_total_wait: Some(max_total_wait),
            ..self
        }
    }

    pub const fn until(self, deadline: Instant) -> Backoff {
        Backoff {
            deadline: Some(deadline),
            ..self
        }
    }

    pub const fn without_jitter(self) -> Backoff {
        Backoff {
            jitter: 0.0,
            ..self
        }
    }

    /// The backoff waits, jittered, before the total and deadline limits.
    fn delays(&self) -> impl Iterator<Item = Duration> + Send + Sync + Unpin + use<> {
        let mut builder = ExponentialBuilder::new()
            .with_min_delay(self.first_delay)
            .with_factor(self.factor);
        builder = match self.max_delay {
            Some(max) => builder.with_max_delay(max),
            None => builder.without_max_delay(),
        };
        builder = match self.retries {
            Some(retries) => builder.with_max_times(retries),
            None => builder.without_max_times(),
        };
        let jitter = f64::from(self.jitter.max(0.0));
        builder
            .build()
            .map(move |delay| delay.mul_f64(1.0 + jitter * rand::random::<f64>()))
    }

    fn limits(&self) -> Limits {
        Limits {
            waited: Duration::ZERO,
            max_total_wait: self.max_total_wait,
            deadline: self.deadline,
        }
    }
}

/// What has been waited so far, against the total and the deadline.
#[derive(Debug, Clone, Copy)]
struct Limits {
    waited: Duration,
    max_total_wait: Option<Duration>,
    deadline: Option<Instant>,
}

impl Limits {
    /// `delay`, counted, if waiting it keeps within the limits.
    fn allow(&mut self, delay: Duration) -> Option<Duration> {
        let waited = self.waited.checked_add(delay)?;
        if self.max_total_wait.is_some_and(|max| waited > max) {
            return None;
        }
        if self
            .deadline
            .is_some_and(|deadline| Instant::now() + delay >= deadline)
        {
            return None;
        }
        self.waited = waited;
        Some(delay)
    }
}

/// Runs `call` until it succeeds, fails with an error `retryable` refuses,
/// or `backoff` has no wait left; the last result is returned. A wait that
/// `server_wait` reads from the error (a `Retry-After`) replaces the backoff
/// wait, and counts against the same limits.
pub async fn retry<T, E, Fut>(
    backoff: &Backoff,
    call: impl FnMut() -> Fut,
    retryable: impl FnMut(&E) -> bool,
    mut server_wait: impl FnMut(&E) -> Option<Duration>,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, E>>,
{
    let mut limits = backoff.limits();
    call.retry(backoff.delays())
        .when(retryable)
        .adjust(move |err, next| limits.allow(server_wait(err).unwrap_or(next?)))
        .await
}

/// [`retry`] for a call that needs `context` mutably (moved into each try
/// and handed back with its result), and with no server to ask for waits.
pub async fn retry_with<C, T, E, Fut>(
    backoff: &Backoff,
    context: C,
    call: impl FnMut(C) -> Fut,
    retryable: impl FnMut(&E) -> bool,
) -> (C, Result<T, E>)
where
    Fut: Future<Output = (C, Result<T, E>)>,
{
    let mut limits = backoff.limits();
    call.retry(backoff.delays().map_while(move |delay| limits.allow(delay)))
        .context(context)
        .when(retryable)
        .await
}

/// How often to look at something that is changing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollSchedule {
    /// The first wait, and the wait after each change.
    pub first: Duration,
    /// Each later wait is the one before times this.
    pub factor: f64,
    /// No wait above this...
    pub max: Duration,
    /// ...until nothing has changed for a while: a long wait is then read
    /// less often (fewer calls against an API's quota).
    pub later: Option<Patience>,
}

/// After `after` of waits with nothing changed, waits may grow to `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Patience {
    pub after: Duration,
    pub max: Duration,
}

impl PollSchedule {
    /// The same wait every time.
    pub const fn every(interval: Duration) -> PollSchedule {
        PollSchedule {
            first: interval,
            factor: 1.0,
            max: interval,
            later: None,
        }
    }

    /// `first`, then growing by `factor` up to `max` (a `max` below `first`
    /// or a `factor` below 1 is read as "never grow").
    pub fn backing_off(first: Duration, factor: f64, max: Duration) -> PollSchedule {
        PollSchedule {
            first,
            factor: factor.max(1.0),
            max: max.max(first),
            later: None,
        }
    }

    /// The schedule's waits, from the first.
    pub fn start<K>(&self) -> Poller<K> {
        Poller {
            schedule: *self,
            next: self.first,
            seen: None,
            unchanged_for: Duration::ZERO,
        }
    }
}

/// A schedule under way: the waits so far and what the last look saw.
#[derive(Debug, Clone)]
pub struct Poller<K = ()> {
    schedule: PollSchedule,
    next: Duration,
    seen: Option<K>,
    /// The waits since the last change.
    unchanged_for: Duration,
}

impl<K: PartialEq> Poller<K> {
    /// The wait before the next look; each call moves the schedule on.
    pub fn next_wait(&mut self) -> Duration {
        let PollSchedule {
            first,
            factor,
            max,
            later,
        } = self.schedule;
        let max = match later {
            Some(later) if self.unchanged_for >= later.after => later.max.max(max),
            _ => max,
        }
        .max(first);
        let wait = self.next.clamp(first, max);
        let grown = Duration::try_from_secs_f64(wait.as_secs_f64() * factor).unwrap_or(max);
        self.next = grown.clamp(first, max);
        self.unchanged_for = self.unchanged_for.saturating_add(wait);
        wait
    }

    /// Notes what a look saw: something else than the look before saw
    /// starts the schedule again from `first`.
    pub fn saw(&mut self, now: K) {
        if self.seen.as_ref().is_some_and(|before| *before != now) {
            self.next = self.schedule.first;
            self.unchanged_for = Duration::ZERO;
        }
        self.seen = Some(now);
    }
}

/// What one look found.
#[derive(Debug, Clone, PartialEq)]
pub enum Look<T, K = ()> {
    /// Done looking, with this.
    Done(T),
    /// Not yet: look again. What was seen resets the schedule when it
    /// differs from the look before.
    Again(K),
}

/// Looks until `look` is done, waiting between looks as `schedule` says.
/// Deadlines and interrupts are the caller's: `look` answers `Done` past
/// its deadline; an interrupt drops this future (a look only reads).
pub async fn poll<T, K: PartialEq>(
    schedule: &PollSchedule,
    mut look: impl AsyncFnMut() -> Look<T, K>,
) -> T {
    let mut poller = schedule.start();
    loop {
        match look().await {
            Look::Done(value) => return value,
            Look::Again(seen) => {
                poller.saw(seen);
                tokio::time::sleep(poller.next_wait()).await;
            }
        }
    }
}

/// [`poll`] for code that cannot await (a lock wait on a blocking thread).
pub fn poll_blocking<T, K: PartialEq>(
    schedule: &PollSchedule,
    mut look: impl FnMut() -> Look<T, K>,
) -> T {
    let mut poller = schedule.start();
    loop {
        match look() {
            Look::Done(value) => return value,
            Look::Again(seen) => {
                poller.saw(seen);
                std::thread::sleep(poller.next_wait());
            }
        }
    }
}

pub mod pace;

#[cfg(test)]
mod tests;
