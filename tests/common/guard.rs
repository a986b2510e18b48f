//! For the tests of jobs that outlive the laptop (issue 11): hello with a
//! short unattended grace, its only pod, and rpd killed mid-job.

use super::hello::HELLO;
use super::{Background, World};

/// hello's guard stops the pod 2 s after the job ends without an rpd.
pub fn short_grace(world: &World) {
    world.edit(
        HELLO,
        "  on_failure: stop\n",
        "  on_failure: stop\n  unattended_stop_after_sec: 2\n",
    );
}

pub fn only_pod(world: &World) -> serde_json::Value {
    let pods = world.pods();
    assert_eq!(pods.len(), 1, "one pod: {pods:#?}");
    pods[0].clone()
}

pub fn pod_id(world: &World) -> String {
    only_pod(world)["id"].as_str().unwrap().to_string()
}

pub fn status(world: &World) -> String {
    only_pod(world)["status"].as_str().unwrap().to_string()
}

/// Waits until the state records the launched job (the script may start
/// a moment before rpd writes that down).
pub fn wait_for_the_launch_to_be_recorded(world: &World) {
    super::wait_until(
        std::time::Duration::from_secs(30),
        "the state to record the launched job",
        || {
            world
                .state(super::hello::HELLO_STATE)
                .is_some_and(|s| s["launched_job"]["tag"].is_string())
        },
    );
}

/// rpd (running `world`'s hello), killed with SIGKILL once the held job
/// runs and the state records it; the job then ends.
pub fn kill_rpd_then_end_the_job(world: &World, apply: Background) {
    wait_for_the_launch_to_be_recorded(world);
    apply.signal(libc::SIGKILL);
    apply.release_job();
    let run = apply.wait();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&run.output.status),
        Some(libc::SIGKILL)
    );
}

/// Waits until the pod's guard has stopped it.
pub fn wait_for_the_guard_to_stop_the_pod(world: &World) {
    super::wait_until(
        std::time::Duration::from_secs(60),
        "the guard to stop the pod",
        || status(world) == "EXITED",
    );
}

/// hello, launched with a 2 s max runtime and rpd killed at once (the
/// job, held, never ends by itself); returns once the guard has killed the
/// job at its deadline and stopped the pod.
pub fn past_the_deadline_with_rpd_gone(world: &World) {
    short_grace(world);
    let apply = world.apply_in_background_env(&[("RPD_MAX_RUNTIME", "2s")]);
    wait_for_the_launch_to_be_recorded(world);
    apply.signal(libc::SIGKILL);
    wait_for_the_guard_to_stop_the_pod(world);
}
