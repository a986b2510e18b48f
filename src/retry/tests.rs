use std::sync::Mutex;

use super::*;

const MS: Duration = Duration::from_millis(1);

/// The waits a backoff would take if every try failed.
fn waits(backoff: &Backoff) -> Vec<Duration> {
    let mut limits = backoff.limits();
    backoff
        .delays()
        .take(50)
        .map_while(|d| limits.allow(d))
        .collect()
}

#[test]
fn exponential_waits_double_up_to_the_cap_and_stop_after_the_retries() {
    let backoff = Backoff::exponential(Duration::from_secs(2))
        .max_delay(Duration::from_secs(5))
        .retries(4)
        .without_jitter();
    let secs: Vec<u64> = waits(&backoff).iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [2, 4, 5, 5]);
    let constant = Backoff::constant(500 * MS).retries(3).without_jitter();
    assert_eq!(waits(&constant), [500 * MS; 3]);
}

#[test]
fn the_total_wait_and_the_deadline_end_the_waits() {
    let total = Backoff::exponential(Duration::from_secs(1))
        .max_total_wait(Duration::from_secs(7))
        .without_jitter();
    let secs: Vec<u64> = waits(&total).iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [1, 2, 4], "1 + 2 + 4 = 7; one more would pass 7");
    let soon = Instant::now() + Duration::from_secs(3);
    let deadline = Backoff::exponential(Duration::from_secs(1))
        .until(soon)
        .without_jitter();
    let secs: Vec<u64> = waits(&deadline).iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [1, 2], "the deadline is checked per wait, from now");
}

#[test]
fn jitter_adds_at_most_its_fraction_and_never_shortens_a_wait() {
    let backoff = Backoff::constant(Duration::from_secs(1)).retries(200);
    let all = waits(&backoff);
    assert_eq!(all.len(), 50);
    for wait in &all {
        assert!(*wait >= Duration::from_secs(1), "{wait:?}");
        assert!(*wait <= Duration::from_millis(1100), "{wait:?}");
    }
    assert!(
        all.iter().any(|w| *w != all[0]),
        "the waits differ: {all:?}"
    );
}

#[derive(Debug, PartialEq)]
enum Failure {
    Busy,
    Wait(Duration),
    Fatal,
}

/// A call that fails with `failures` in order, then succeeds; it counts
/// its tries.
fn flaky(failures: Vec<Failure>) -> (Mutex<Vec<Failure>>, Mutex<u32>) {
    let mut failures = failures;
    failures.reverse();
    (Mutex::new(failures), Mutex::new(0))
}

async fn try_once(state: &(Mutex<Vec<Failure>>, Mutex<u32>)) -> Result<u32, Failure> {
    *state.1.lock().unwrap() += 1;
    match state.0.lock().unwrap().pop() {
        Some(failure) => Err(failure),
        None => Ok(*state.1.lock().unwrap()),
    }
}

fn retryable(failure: &Failure) -> bool {
    *failure != Failure::Fatal
}

fn hint(failure: &Failure) -> Option<Duration> {
    match failure {
        Failure::Wait(wait) => Some(*wait),
        _ => None,
    }
}

#[tokio::test]
async fn a_call_is_retried_while_its_error_allows_and_retries_remain() {
    let backoff = Backoff::constant(MS).retries(2);
    let state = flaky(vec![Failure::Busy, Failure::Busy]);
    let result = retry(&backoff, || try_once(&state), retryable, hint).await;
    assert_eq!(result, Ok(3), "succeeds on the third try");

    let state = flaky(vec![Failure::Busy, Failure::Busy, Failure::Busy]);
    let result = retry(&backoff, || try_once(&state), retryable, hint).await;
    assert_eq!(result, Err(Failure::Busy), "the last error is returned");
    assert_eq!(*state.1.lock().unwrap(), 3);

    let state = flaky(vec![Failure::Fatal]);
    let result = retry(&backoff, || try_once(&state), retryable, hint).await;
    assert_eq!(result, Err(Failure::Fatal), "never repeated");
    assert_eq!(*state.1.lock().unwrap(), 1);
}

#[tokio::test]
async fn a_servers_wait_replaces_the_backoff_within_the_total() {
    let backoff = Backoff::constant(MS)
        .retries(3)
        .max_total_wait(Duration::from_millis(200));
    let state = flaky(vec![Failure::Wait(Duration::from_millis(120))]);
    let began = Instant::now();
    let result = retry(&backoff, || try_once(&state), retryable, hint).await;
    assert_eq!(result, Ok(2));
    assert!(
        began.elapsed() >= Duration::from_millis(120),
        "waited as asked"
    );

    let state = flaky(vec![Failure::Wait(Duration::from_secs(60))]);
    let began = Instant::now();
    let result = retry(&backoff, || try_once(&state), retryable, hint).await;
    assert_eq!(
        result,
        Err(Failure::Wait(Duration::from_secs(60))),
        "a wait past the total is not slept through"
    );
    assert!(began.elapsed() < Duration::from_secs(5));

    let spent = Backoff::constant(MS).retries(0);
    let state = flaky(vec![Failure::Wait(MS)]);
    let result = retry(&spent, || try_once(&state), retryable, hint).await;
    assert_eq!(
        result,
        Err(Failure::Wait(MS)),
        "a hint gives no retry beyond the count"
    );
}

#[tokio::test]
async fn a_call_with_context_gets_it_back_with_its_result() {
    let backoff = Backoff::constant(MS).retries(5);
    let (tries, result) = retry_with(
        &backoff,
        0u32,
        |tries: u32| async move {
            let tries = tries + 1;
            (
                tries,
                if tries < 3 {
                    Err(Failure::Busy)
                } else {
                    Ok(())
                },
            )
        },
        retryable,
    )
    .await;
    assert_eq!((tries, result), (3, Ok(())));
    let (tries, result) = retry_with(
        &backoff.max_total_wait(2 * MS).without_jitter(),
        0u32,
        |tries: u32| async move { (tries + 1, Err::<(), _>(Failure::Busy)) },
        retryable,
    )
    .await;
    assert_eq!(
        (tries, result),
        (3, Err(Failure::Busy)),
        "two waits of 1 ms fit in 2 ms"
    );
}

#[test]
fn a_poll_schedule_grows_by_its_factor_up_to_its_max() {
    let schedule = PollSchedule::backing_off(500 * MS, 2.0, Duration::from_secs(5));
    let mut poller = schedule.start::<()>();
    let waits: Vec<Duration> = (0..7).map(|_| poller.next_wait()).collect();
    assert_eq!(
        waits,
        [500, 1000, 2000, 4000, 5000, 5000, 5000].map(|ms| ms * MS)
    );
}

#[test]
fn a_change_starts_the_schedule_again() {
    let schedule = PollSchedule::backing_off(500 * MS, 2.0, Duration::from_secs(5));
    let mut poller = schedule.start();
    poller.saw("STARTING");
    assert_eq!(poller.next_wait(), 500 * MS);
    poller.saw("STARTING");
    assert_eq!(poller.next_wait(), 1000 * MS);
    poller.saw("STARTING");
    assert_eq!(poller.next_wait(), 2000 * MS);
    poller.saw("RUNNING");
    assert_eq!(poller.next_wait(), 500 * MS, "reset on the change");
    poller.saw("RUNNING");
    assert_eq!(poller.next_wait(), 1000 * MS);
}

#[test]
fn a_long_wait_with_no_change_grows_to_the_later_max_and_a_change_ends_it() {
    let schedule = PollSchedule {
        later: Some(Patience {
            after: Duration::from_secs(3),
            max: Duration::from_secs(4),
        }),
        ..PollSchedule::backing_off(500 * MS, 2.0, Duration::from_secs(1))
    };
    let mut poller = schedule.start();
    let mut waits = Vec::new();
    for _ in 0..7 {
        poller.saw("STARTING");
        waits.push(poller.next_wait());
    }
    assert_eq!(
        waits,
        [500, 1000, 1000, 1000, 1000, 2000, 4000].map(|ms| ms * MS),
        "1 s waits until 3 s passed unchanged, then growing to 4 s"
    );
    poller.saw("RUNNING");
    assert_eq!(poller.next_wait(), 500 * MS, "reset on the change");
    poller.saw("RUNNING");
    assert_eq!(poller.next_wait(), 1000 * MS, "and patient again from zero");
    poller.saw("RUNNING");
    assert_eq!(poller.next_wait(), 1000 * MS);
}

#[test]
fn a_poll_schedule_stays_between_first_and_max() {
    let constant = PollSchedule::every(Duration::from_secs(5));
    let mut poller = constant.start();
    for i in 0..20 {
        poller.saw(i % 3);
        assert_eq!(poller.next_wait(), Duration::from_secs(5));
    }
    for (first, factor, max) in [(100, 0.5, 1000), (100, 3.0, 50), (100, 1e30, 700)] {
        let schedule = PollSchedule::backing_off(first * MS, factor, max * MS);
        let mut poller = schedule.start::<()>();
        for _ in 0..30 {
            let wait = poller.next_wait();
            assert!(wait >= first * MS, "{wait:?} for {schedule:?}");
            assert!(
                wait <= (max * MS).max(first * MS),
                "{wait:?} for {schedule:?}"
            );
        }
    }
}

#[tokio::test]
async fn poll_looks_until_done() {
    let mut looks = 0;
    let found = poll(&PollSchedule::every(MS), async || {
        looks += 1;
        if looks == 4 {
            Look::Done(looks)
        } else {
            Look::Again(())
        }
    })
    .await;
    assert_eq!(found, 4);
    let mut looks = 0;
    let found = poll_blocking(&PollSchedule::every(MS), || {
        looks += 1;
        if looks == 2 {
            Look::Done("there")
        } else {
            Look::Again(())
        }
    });
    assert_eq!((found, looks), ("there", 2));
}
