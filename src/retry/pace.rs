//! Pacing requests to a server's rate limit, read from its answers.
//!
//! A server like RunPod's REST v2 says on every answer what its quota is
//! (windows of `quota` requests every `window`) and what is left of each
//! window (`remaining`, resetting in so long). One [`Pacer`] per client,
//! shared by every task that uses it (all the configs of one `rpd apply`),
//! turns that into waits before requests, so that they stay under the
//! quota instead of earning 429s:
//!
//! - While nothing is known yet (the first request, or a window that reset
//!   on this side's clock), one request goes at a time: its answer says how
//!   much is left. An answer without rate-limit headers says the caller is
//!   not limited, and nothing is paced.
//! - Requests are sent freely while a window has plenty left. Once what is
//!   left falls below a third of the quota, routine requests (reads, polls,
//!   creates) are spread over the time until the window resets, so polling
//!   slows down as the quota runs low instead of running into the wall.
//! - A tenth of the quota is kept for urgent requests (a stop, a delete):
//!   routine ones wait for the reset rather than take it, because a stop
//!   that cannot be sent leaves a pod billing.
//!
//! Generic on purpose (no HTTP here): the REST v2 client reads the headers
//! and says which requests are urgent. [`decide`] is a pure function of
//! the state and the time, tested without a clock.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Whether a request may use the quota kept back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Reads, polls, creates, starts: wait for the reset rather than use
    /// the reserve.
    Routine,
    /// Stops and deletes: giving up on them leaves a pod billing.
    Urgent,
}

/// A window's quota, as the server's policy states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub quota: u32,
    pub window: Duration,
}

/// What is left of a window, as one answer states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Left {
    pub name: String,
    pub remaining: u32,
    pub resets_in: Duration,
}

/// One window as this side knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub name: String,
    pub quota: u32,
    pub window: Duration,
    pub remaining: u32,
    pub resets_at: Instant,
    /// False after the window reset on this side's clock: no answer has
    /// said yet what is left of the new one.
    pub synced: bool,
}

impl Window {
    /// What routine requests leave alone.
    fn reserve(&self) -> u32 {
        (self.quota / 10).max(1)
    }

    /// Below this, routine requests are spread until the reset.
    fn low_water(&self) -> u32 {
        (self.quota / 3).max(1)
    }
}

/// Everything the pacer knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub windows: Vec<Window>,
    /// An answer came back without rate-limit headers: not limited.
    pub unlimited: bool,
    /// Requests sent whose answers have not been read.
    pub in_flight: u32,
    /// When the last routine request was sent.
    pub last_routine: Option<Instant>,
}

/// What [`decide`] says about one request now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Go,
    /// Wait this long (or until an answer comes back), then ask again.
    Wait {
        wait: Duration,
        /// The window that is short, if it is a quota wait (not merely one
        /// request at a time while nothing is known).
        window: Option<String>,
    },
}

/// How long one request waits before asking again while another one
/// finds out what is left: long enough not to spin, short enough that a
/// lost answer does not stall anything.
const PROBE_WAIT: Duration = Duration::from_secs(2);

/// Whether a request may go at `now`, and if not, how long to wait. A
/// `Go` is not yet counted: see [`State::sent`].
pub fn decide(state: &mut State, urgency: Urgency, now: Instant) -> Decision {
    for window in &mut state.windows {
        if now >= window.resets_at {
            window.remaining = window.quota;
            window.resets_at = now + window.window;
            window.synced = false;
        }
    }
    if state.unlimited && state.windows.is_empty() {
        return Decision::Go;
    }
    let unknown = state.windows.is_empty() || state.windows.iter().any(|w| !w.synced);
    if unknown {
        return if state.in_flight == 0 {
            Decision::Go
        } else {
            Decision::Wait {
                wait: PROBE_WAIT,
                window: None,
            }
        };
    }
    let mut longest: Option<(Duration, String)> = None;
    for window in &state.windows {
        let available = window.remaining.saturating_sub(state.in_flight);
        let reserve = match urgency {
            Urgency::Urgent => 0,
            Urgency::Routine => window.reserve(),
        };
        let until_reset = window.resets_at.saturating_duration_since(now);
        let wait = if available <= reserve {
            until_reset
        } else if urgency == Urgency::Routine && available - reserve < window.low_water() {
            // Spread what is left over the time left.
            let spacing = until_reset / (available - reserve);
            state
                .last_routine
                .map(|last| (last + spacing).saturating_duration_since(now))
                .unwrap_or_default()
        } else {
            Duration::ZERO
        };
        if !wait.is_zero() && longest.as_ref().is_none_or(|(w, _)| wait > *w) {
            longest = Some((wait, window.name.clone()));
        }
    }
    match longest {
        None => Decision::Go,
        Some((wait, name)) => Decision::Wait {
            wait,
            window: Some(name),
        },
    }
}

impl State {
    /// A request was sent at `now`.
    pub fn sent(&mut self, urgency: Urgency, now: Instant) {
        self.in_flight += 1;
        if urgency == Urgency::Routine {
            self.last_routine = Some(now);
        }
    }

    /// Its answer came back at `now` with these headers (none: the answer
    /// had none, or there was no answer).
    pub fn answered(&mut self, limits: Option<(Vec<Policy>, Vec<Left>)>, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let Some((policies, lefts)) = limits else {
            return;
        };
        if policies.is_empty() && lefts.is_empty() {
            self.unlimited = true;
            return;
        }
        self.unlimited = false;
        for left in lefts {
            let resets_at = now + left.resets_in;
            let policy = policies.iter().find(|p| p.name == left.name);
            match self.windows.iter_mut().find(|w| w.name == left.name) {
                Some(window) => {
                    if let Some(policy) = policy {
                        window.quota = policy.quota;
                        window.window = policy.window;
                    }
                    let same = abs_diff(resets_at, window.resets_at) <= Duration::from_secs(1);
                    if same && window.synced {
                        // Answers overtake each other: the lowest count is
                        // the latest.
                        window.remaining = window.remaining.min(left.remaining);
                    } else if same || resets_at > window.resets_at || !window.synced {
                        window.remaining = left.remaining;
                        window.resets_at = resets_at;
                        window.synced = true;
                    }
                    // Else an answer from a window already over: stale.
                }
                None => {
                    let (quota, window) = policy
                        .map(|p| (p.quota, p.window))
                        .unwrap_or((left.remaining.max(1), left.resets_in));
                    self.windows.push(Window {
                        name: left.name,
                        quota,
                        window,
                        remaining: left.remaining,
                        resets_at,
                        synced: true,
                    });
                }
            }
        }
    }
}

fn abs_diff(a: Instant, b: Instant) -> Duration {
    a.saturating_duration_since(b)
        .max(b.saturating_duration_since(a))
}

/// One pacer per client: every task's requests go through it.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
    answered: tokio::sync::Notify,
    /// The longest wait for another request's answer while nothing is
    /// known (an answer normally ends it first).
    probe_wait: Duration,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer {
            state: Mutex::default(),
            answered: tokio::sync::Notify::new(),
            probe_wait: PROBE_WAIT,
        }
    }
}

/// A request under way: say what its answer said with [`Permit::answered`];
/// dropped without it, the request counts as answered without headers.
pub struct Permit<'a> {
    pacer: &'a Pacer,
    done: bool,
}

impl Permit<'_> {
    pub fn answered(mut self, limits: Option<(Vec<Policy>, Vec<Left>)>) {
        self.done = true;
        self.pacer.answered(limits);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done {
            // No answer to learn from (a network failure, or the request
            // was dropped): not a sign of being unlimited.
            self.pacer.release();
        }
    }
}

impl Pacer {
    pub fn new() -> Pacer {
        Pacer::default()
    }

    /// Waits until a request may go; `on_wait` hears of each wait (how
    /// long, and for which window) before it starts.
    pub async fn acquire(
        &self,
        urgency: Urgency,
        mut on_wait: impl FnMut(Duration, Option<&str>),
    ) -> Permit<'_> {
        loop {
            // Registered before deciding, so that an answer that comes
            // back between the decision and the wait is not missed.
            let answered = self.answered.notified();
            let decision = {
                let mut state = self.lock();
                let now = Instant::now();
                let decision = decide(&mut state, urgency, now);
                if decision == Decision::Go {
                    state.sent(urgency, now);
                }
                decision
            };
            match decision {
                Decision::Go => {
                    return Permit {
                        pacer: self,
                        done: false,
                    };
                }
                Decision::Wait { wait, window } => {
                    let wait = if window.is_none() {
                        self.probe_wait
                    } else {
                        wait
                    };
                    on_wait(wait, window.as_deref());
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = answered => {}
                    }
                }
            }
        }
    }

    /// What is known now (for tests and diagnostics).
    pub fn snapshot(&self) -> State {
        self.lock().clone()
    }

    fn answered(&self, limits: Option<(Vec<Policy>, Vec<Left>)>) {
        self.lock()
            .answered(Some(limits.unwrap_or_default()), Instant::now());
        self.answered.notify_waiters();
    }

    fn release(&self) {
        self.lock().answered(None, Instant::now());
        self.answered.notify_waiters();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn limits(quota: u32, remaining: u32, resets_in: u64) -> Option<(Vec<Policy>, Vec<Left>)> {
        Some((
            vec![Policy {
                name: "minute".into(),
                quota,
                window: 60 * S,
            }],
            vec![Left {
                name: "minute".into(),
                remaining,
                resets_in: Duration::from_secs(resets_in),
            }],
        ))
    }

    /// Sends one request at `now` if it may go, and answers it at once.
    fn request(state: &mut State, urgency: Urgency, now: Instant, answer: u32) -> Decision {
        let decision = decide(state, urgency, now);
        if decision == Decision::Go {
            state.sent(urgency, now);
            let resets_in = state
                .windows
                .first()
                .map(|w| w.resets_at.saturating_duration_since(now).as_secs())
                .unwrap_or(60);
            state.answered(limits(20, answer, resets_in.max(1)), now);
        }
        decision
    }

    #[test]
    fn one_request_at_a_time_until_an_answer_says_what_is_left() {
        let t0 = Instant::now();
        let mut state = State::default();
        assert_eq!(decide(&mut state, Urgency::Routine, t0), Decision::Go);
        state.sent(Urgency::Routine, t0);
        assert!(matches!(
            decide(&mut state, Urgency::Routine, t0),
            Decision::Wait { window: None, .. }
        ));
        state.answered(limits(20, 19, 60), t0);
        assert_eq!(decide(&mut state, Urgency::Routine, t0), Decision::Go);
    }

    #[test]
    fn an_answer_without_headers_means_no_limit() {
        let t0 = Instant::now();
        let mut state = State::default();
        state.sent(Urgency::Routine, t0);
        state.answered(Some((Vec::new(), Vec::new())), t0);
        for _ in 0..100 {
            assert_eq!(decide(&mut state, Urgency::Routine, t0), Decision::Go);
            state.sent(Urgency::Routine, t0);
        }
    }

    #[test]
    fn requests_go_freely_while_plenty_is_left_then_spread_then_wait_for_the_reset() {
        let t0 = Instant::now();
        let mut state = State::default();
        // 20 a minute: a burst goes at once while a third of it is left.
        let mut sent = 0;
        let mut remaining = 20;
        while request(&mut state, Urgency::Routine, t0, remaining - 1) == Decision::Go {
            remaining -= 1;
            sent += 1;
        }
        // Available 20 - reserve 2: spreading starts below 6 left of 18.
        assert_eq!(sent, 13, "a burst, then spread");
        let Decision::Wait { wait, window } = decide(&mut state, Urgency::Routine, t0) else {
            panic!("spread");
        };
        assert_eq!(window.as_deref(), Some("minute"));
        assert_eq!(wait, 12 * S, "60 s left over 5 requests");
        // Spread: each later request waits its share of the time left.
        let mut now = t0;
        let mut waits = Vec::new();
        loop {
            match decide(&mut state, Urgency::Routine, now) {
                Decision::Go => {
                    request(&mut state, Urgency::Routine, now, remaining - 1);
                    remaining -= 1;
                }
                Decision::Wait { wait, .. } if now + wait < t0 + 60 * S => {
                    waits.push(wait.as_secs());
                    now += wait;
                }
                Decision::Wait { wait, .. } => {
                    waits.push(wait.as_secs());
                    break;
                }
            }
        }
        // 12 s apart until the window resets: what is left when it does
        // includes the reserve (2), kept for stops and deletes.
        assert_eq!(waits, [12, 12, 12, 12, 12]);
        assert_eq!(remaining, 3);
        assert_eq!(now + 12 * S, t0 + 60 * S, "the last wait ends at the reset");
        // A stop may still go, and uses the reserve.
        assert_eq!(decide(&mut state, Urgency::Urgent, now), Decision::Go);
    }

    #[test]
    fn a_window_that_resets_here_is_probed_before_it_is_trusted() {
        let t0 = Instant::now();
        let mut state = State::default();
        state.sent(Urgency::Routine, t0);
        state.answered(limits(20, 0, 10), t0);
        assert_eq!(
            decide(&mut state, Urgency::Routine, t0),
            Decision::Wait {
                wait: 10 * S,
                window: Some("minute".into())
            }
        );
        let Decision::Wait { wait, .. } = decide(&mut state, Urgency::Urgent, t0) else {
            panic!("nothing left, even for a stop");
        };
        assert_eq!(wait, 10 * S);
        let later = t0 + 10 * S;
        assert_eq!(decide(&mut state, Urgency::Routine, later), Decision::Go);
        state.sent(Urgency::Routine, later);
        assert!(matches!(
            decide(&mut state, Urgency::Routine, later),
            Decision::Wait { window: None, .. }
        ));
        state.answered(limits(20, 19, 60), later);
        assert_eq!(decide(&mut state, Urgency::Routine, later), Decision::Go);
    }

    #[test]
    fn answers_that_overtake_each_other_keep_the_lowest_count() {
        let t0 = Instant::now();
        let mut state = State::default();
        state.sent(Urgency::Routine, t0);
        state.answered(limits(20, 10, 30), t0);
        state.sent(Urgency::Routine, t0);
        state.answered(limits(20, 12, 30), t0);
        assert_eq!(state.windows[0].remaining, 10);
        // A new window (a later reset) replaces it.
        let later = t0 + 31 * S;
        state.sent(Urgency::Routine, later);
        state.answered(limits(20, 19, 60), later);
        assert_eq!(state.windows[0].remaining, 19);
        // An answer from the window before is stale.
        state.sent(Urgency::Routine, later);
        state.answered(limits(20, 3, 0), later);
        assert_eq!(state.windows[0].remaining, 19);
    }

    #[test]
    fn requests_in_flight_count_against_what_is_left() {
        let t0 = Instant::now();
        let mut state = State::default();
        state.sent(Urgency::Routine, t0);
        state.answered(limits(20, 5, 60), t0);
        for _ in 0..3 {
            state.sent(Urgency::Urgent, t0);
        }
        // 5 left, 3 on their way: 2, the reserve.
        assert!(matches!(
            decide(&mut state, Urgency::Routine, t0),
            Decision::Wait { .. }
        ));
        assert_eq!(decide(&mut state, Urgency::Urgent, t0), Decision::Go);
    }

    /// A request waiting for the first answer goes when it comes back (the
    /// probe wait here is an hour: only the answer can end it).
    #[tokio::test]
    async fn waiters_go_as_soon_as_the_probe_is_answered() {
        let pacer = std::sync::Arc::new(Pacer {
            probe_wait: Duration::from_secs(3600),
            ..Pacer::default()
        });
        let probe = pacer.acquire(Urgency::Routine, |_, _| {}).await;
        let (waiting_tx, waiting_rx) = tokio::sync::oneshot::channel();
        let waiter = {
            let pacer = pacer.clone();
            tokio::spawn(async move {
                let mut waiting = Some(waiting_tx);
                let permit = pacer
                    .acquire(Urgency::Routine, |_, _| {
                        if let Some(tx) = waiting.take() {
                            let _ = tx.send(());
                        }
                    })
                    .await;
                permit.answered(limits(20, 18, 60));
            })
        };
        waiting_rx.await.expect("the second request waits");
        probe.answered(limits(20, 19, 60));
        tokio::time::timeout(Duration::from_secs(60), waiter)
            .await
            .expect("woken by the answer")
            .unwrap();
        assert_eq!(pacer.snapshot().in_flight, 0);
        assert_eq!(pacer.snapshot().windows[0].remaining, 18);
    }
}
