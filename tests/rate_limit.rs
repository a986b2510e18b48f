//! RunPod's rate limit (issue 20): every REST v2 answer carries
//! `RateLimit-Policy` and `RateLimit`; past the quota, 429 with
//! `Retry-After`. Limits differ between accounts, so the fake's quota is
//! set per test. rpd reads the headers on every answer and paces its
//! requests, one pacer for all the configs one rpd applies; a stop or a
//! delete refused for the rate limit is waited out, never given up.
//!
//! The apply tests run the whole job over a real sshd on 127.0.0.1 (they
//! skip without one) and take a minute or more: a 20-a-minute quota makes
//! an apply that needs more requests wait for the next minute.

mod common;
#[path = "fakes/rest_v2.rs"]
mod fake;

use std::time::Instant;

use common::hello::HELLO;
use common::sshd::Sshd;
use common::{Test, World};
use fake::FakeRestV2;

/// rpd pointed at the fake, reading a changing pod every 50 ms at most (the
/// pacer slows that down as the quota runs low).
fn runpod<'w>(world: &'w World, fake: &FakeRestV2) -> Test<'w> {
    world
        .on_rest_v2(&fake.url())
        .env("RPD_POLL_INTERVAL_MS", "50")
}

fn over_ssh(world: &World) -> Option<(FakeRestV2, Sshd)> {
    let sshd = Sshd::start()?;
    let fake = FakeRestV2::start();
    fake.set_ssh("127.0.0.1", sshd.port, &sshd.user);
    world.hello_over_ssh(&sshd);
    Some((fake, sshd))
}

/// How many requests of each kind the fake served, for the failure text.
fn summary(fake: &FakeRestV2) -> String {
    format!(
        "{} requests, {} refused: {:?}",
        fake.requests().len(),
        fake.rate_limited(),
        fake.all_calls()
    )
}

/// With 20 requests a minute, a cold apply whose image takes 12 reads to
/// pull needs more requests than one minute allows: rpd spreads them as
/// the quota runs low and waits for the next window instead of running
/// into it. At most one 429 (none, with the fake's exact resets).
#[test]
fn a_cold_apply_under_a_20_a_minute_quota_earns_at_most_one_429() {
    let world = World::new();
    let Some((fake, _sshd)) = over_ssh(&world) else {
        return;
    };
    fake.set_rate_limit(20);
    fake.set_pull_reads(12);
    let began = Instant::now();
    runpod(&world, &fake)
        .args(["apply", "-y", HELLO])
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    eprintln!(
        "cold apply at 20/min: {:.1} s, {}",
        began.elapsed().as_secs_f64(),
        summary(&fake)
    );
    assert!(fake.rate_limited() <= 1, "{}", summary(&fake));
    assert!(fake.calls("getPod") >= 12, "the pull was read through");
    fake.assert_all_valid();
}

/// hello, and `n` more configs like it (own name, own paths on the pod).
fn configs(world: &World, n: usize) -> Vec<String> {
    let text = world.read(HELLO);
    let mut paths = vec![HELLO.to_string()];
    for i in 1..=n {
        let path = format!("examples/hello{i}.yaml");
        let renamed = text
            .replace("name: hello\n", &format!("name: hello{i}\n"))
            .replace("/hello/", &format!("/hello{i}/"))
            .replace("artifacts/hello/", &format!("artifacts/hello{i}/"));
        world.write(&path, &renamed);
        paths.push(path);
    }
    paths
}

/// Several configs applied together in one rpd share one pacer: together
/// they stay under the quota as one apply does.
#[test]
fn several_configs_applied_together_share_the_quota() {
    let world = World::new();
    let Some((fake, _sshd)) = over_ssh(&world) else {
        return;
    };
    fake.set_rate_limit(20);
    fake.set_pull_reads(4);
    let paths = configs(&world, 2);
    let mut args = vec!["apply", "-y"];
    args.extend(paths.iter().map(String::as_str));
    let began = Instant::now();
    let mut test = runpod(&world, &fake).args(&args);
    for name in ["hello", "hello1", "hello2"] {
        test = test
            .stdout_has(&format!(
                "{name}: apply complete! Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped."
            ))
            .stderr_has(&format!("{name}: Lifecycle on_success: recycle\n"));
    }
    test.run();
    eprintln!(
        "3 configs at 20/min: {:.1} s, {}",
        began.elapsed().as_secs_f64(),
        summary(&fake)
    );
    assert_eq!(fake.calls("createPod"), 3);
    assert!(fake.rate_limited() <= 1, "{}", summary(&fake));
    fake.assert_all_valid();
}

/// A stop RunPod keeps refusing for the rate limit is waited out as
/// `Retry-After` says, saying so, however many times it takes (within 15
/// minutes): giving up would leave the pod billing.
#[test]
fn a_stop_refused_for_the_rate_limit_is_waited_out_never_given_up() {
    let world = World::new();
    let Some((fake, _sshd)) = over_ssh(&world) else {
        return;
    };
    // More refusals than the client's and apply's retries together.
    fake.fail_next("podAction:stop", 429, 12, Some(0));
    runpod(&world, &fake)
        .args(["apply", "-y", HELLO])
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("hello: RunPod's rate limit: waiting 1 s before stopping pod [POD]\n")
        .run();
    assert_eq!(
        fake.calls("podAction:stop"),
        13,
        "asked until it went through"
    );
    assert_eq!(
        fake.pods()[0].status,
        rpd::model::PodStatus::Exited,
        "stopped, not left billing"
    );
}

/// The same for a delete (here the lifecycle's).
#[test]
fn a_delete_refused_for_the_rate_limit_is_waited_out_never_given_up() {
    let world = World::new();
    let Some((fake, _sshd)) = over_ssh(&world) else {
        return;
    };
    world.edit(HELLO, "on_success: recycle", "on_success: delete");
    fake.fail_next("deletePod", 429, 12, Some(0));
    runpod(&world, &fake)
        .args(["apply", "-y", HELLO])
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 1 destroyed, 0 stopped.")
        .stderr_has("hello: RunPod's rate limit: waiting 1 s before deleting pod [POD]\n")
        .run();
    assert_eq!(fake.calls("deletePod"), 13);
    assert!(fake.pods().is_empty(), "deleted, not left billing");
}

/// Not a test: measures a cold apply (12-read pull, RunPod's default poll
/// schedule) with no rate limit and with RunPod's example quota of 60 a
/// minute, to show what pacing costs. Run with
/// `RPD_REQUIRE_SSHD=1 cargo test --release --test rate_limit -- --ignored --nocapture`
/// (`RPD_BENCH_RUNS`, default 3).
#[test]
#[ignore]
fn measure_a_cold_apply_with_and_without_a_60_a_minute_quota() {
    let runs: usize = std::env::var("RPD_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let mut report = Vec::new();
    for quota in [None, Some(60)] {
        let mut times = Vec::new();
        for _ in 0..runs {
            let world = World::new();
            let Some((fake, _sshd)) = over_ssh(&world) else {
                return;
            };
            if let Some(q) = quota {
                fake.set_rate_limit(q);
            }
            fake.set_pull_reads(12);
            let began = Instant::now();
            world
                .on_rest_v2(&fake.url())
                .args(["apply", "-y", HELLO])
                .stdout_has("hello: apply complete!")
                .stderr_has("hello: Lifecycle on_success: recycle\n")
                .run();
            times.push(began.elapsed().as_secs_f64());
            assert_eq!(fake.rate_limited(), 0, "{}", summary(&fake));
        }
        times.sort_by(f64::total_cmp);
        report.push(format!(
            "{}: median {:.2} s of {:?}",
            quota.map_or("no limit".to_string(), |q| format!("{q}/minute")),
            times[times.len() / 2],
            times
        ));
    }
    eprintln!("cold apply, 12-read pull:\n  {}", report.join("\n  "));
}
