//! What examples/hello.yaml makes rpd print, for tests that compare it.

use super::{edited, unindent};

pub const HELLO: &str = "examples/hello.yaml";
pub const HELLO_STATE: &str = "examples/.rpd/hello.state.json";

/// What `apply` prints on stdout: the plan it carries out, then its summary.
pub fn applied(plan: &str, summary: &str) -> String {
    format!("{}\n\n{}", unindent(plan), unindent(summary))
}

/// What `apply` prints after the plan when hello's job succeeded; `pods`
/// counts what it did ("1 created, 0 resumed, 0 destroyed, 1 stopped").
pub fn succeeded(pods: &str) -> String {
    format!(
        "hello: apply complete! Pods: {pods}. Job succeeded in [ELAPSED].\n  Run directory: [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN]\n"
    )
}

/// `rpd plan examples/hello.yaml` with nothing recorded.
pub const CREATE_PLAN: &str = r#"
    rpd plan for examples/hello.yaml (job "hello")

    rpd will perform the following actions:

      # pod "hello" will be created
      + pod "hello" {
          + image             = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404"
          + gpu               = "NVIDIA GeForce RTX 4090" (first with stock, see candidates)
          + gpu_count         = 1
          + datacenter        = "EU-RO-1" (first with stock, see candidates)
          + cloud_type        = "SECURE"
          + container_disk_gb = 20
          + storage_mode      = "ephemeral"
          + volume_gb         = 20
          + volume_mount      = "/workspace"
          + ports             = ["22/tcp"]
          + id                = (known after apply)
        }

      Candidates, in order:
         1. EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock high
         2. EU-RO-1 / NVIDIA RTX A5000             $0.27/hr  stock high
         3. US-CA-2 / NVIDIA GeForce RTX 4090      $0.44/hr  stock high
         4. US-CA-2 / NVIDIA RTX A5000             $0.27/hr  stock high

      Steps:
        1. create pod "hello" on the first candidate with capacity (no pod recorded)
        2. wait until the pod runs and its shell answers (up to 15m00s)
        3. setup: 1 command
        4. staging: 1 push (incremental)
        5. launch /workspace/hello/run.sh, detached
        6. follow the job until it exits or prints a marker (timeout 10m00s)
        7. pull the log and 1 artifact
        8. if the job succeeds: recycle (stop the pod) (kept to resume next time)
        9. if the job fails: stop the pod (kept for forensics; the next apply creates a fresh pod)

    Note: the pod stops itself at about [DATE] [TIME] UTC (max runtime, counted from the job's start) or 10 minutes after the job ends if rpd is not attached (rpd's guard on the pod; lifecycle.unattended_stop_after_sec)

    Plan: 1 to create, 0 to resume, 0 to destroy, 1 to stop.
    Cost: $0.44/hr while running; $4.00/month ($0.13/day) while paused for reuse (20 GB volume).
"#;

/// The plan for hello's recycled pod, shown as `[PAUSED]`.
pub const RESUME_PLAN: &str = r#"
    rpd plan for examples/hello.yaml (job "hello")

    rpd will perform the following actions:

      # pod "hello" ([PAUSED]) will be resumed (EXITED -> RUNNING)
      ~ pod "hello" {
          ~ status = "EXITED" -> "RUNNING"
            # (no attribute changes)
        }

      Candidates if the resume fails, in order:
         1. EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock high
         2. EU-RO-1 / NVIDIA RTX A5000             $0.27/hr  stock high
         3. US-CA-2 / NVIDIA GeForce RTX 4090      $0.44/hr  stock high
         4. US-CA-2 / NVIDIA RTX A5000             $0.27/hr  stock high

      Steps:
        1. resume paused pod [PAUSED]
           if its host has no free GPU: try again for up to 2m00s, then delete [PAUSED] (its volume is lost) and create on the candidates if one has stock; with none, keep it paused and stop
        2. wait until the pod runs and its shell answers (up to 15m00s)
        3. setup: 1 command
        4. staging: 1 push (incremental)
        5. launch /workspace/hello/run.sh, detached
        6. follow the job until it exits or prints a marker (timeout 10m00s)
        7. pull the log and 1 artifact
        8. if the job succeeds: recycle (stop the pod) (kept to resume next time)
        9. if the job fails: stop the pod (kept for forensics; the next apply creates a fresh pod)

    Note: a resumed pod keeps /workspace (its volume); its container disk (apt packages, caches outside /workspace) was wiped when it stopped, so setup runs again
    Note: the pod stops itself at about [DATE] [TIME] UTC (max runtime, counted from the job's start) or 10 minutes after the job ends if rpd is not attached (rpd's guard on the pod; lifecycle.unattended_stop_after_sec)
    Note: pod [PAUSED] was last used less than a day ago (paused since [DATE]); its volume bills $0.13/day ($4.00/month) while it is paused

    Plan: 0 to create, 1 to resume, 0 to destroy, 1 to stop.
    Cost: $0.44/hr while running; $4.00/month ($0.13/day) while paused for reuse (20 GB volume).
"#;

/// The plan to update hello's paused pod `[PAUSED]` to the new image.
pub const UPDATE_PLAN: &str = r#"
    rpd plan for examples/hello.yaml (job "hello")

    rpd will perform the following actions:

      # pod "hello" ([PAUSED]) will be updated in place, then resumed (EXITED -> RUNNING)
      # (because image can change on [PAUSED] itself: its volume is kept)
      ~ pod "hello" {
          ~ image  = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404" -> "runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404"
          ~ status = "EXITED" -> "RUNNING"
            # (9 unchanged attributes hidden)
        }

      Candidates if the resume fails, in order:
         1. EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock high
         2. EU-RO-1 / NVIDIA RTX A5000             $0.27/hr  stock high
         3. US-CA-2 / NVIDIA GeForce RTX 4090      $0.44/hr  stock high
         4. US-CA-2 / NVIDIA RTX A5000             $0.27/hr  stock high

      Steps:
         1. update pod [PAUSED] in place: image (image can change on [PAUSED] itself: its volume is kept)
         2. resume paused pod [PAUSED]
            if its host has no free GPU: try again for up to 2m00s, then delete [PAUSED] (its volume is lost) and create on the candidates if one has stock; with none, keep it paused and stop
         3. wait until the pod runs and its shell answers (up to 15m00s)
         4. setup: 1 command
         5. staging: 1 push (incremental)
         6. launch /workspace/hello/run.sh, detached
         7. follow the job until it exits or prints a marker (timeout 10m00s)
         8. pull the log and 1 artifact
         9. if the job succeeds: recycle (stop the pod) (kept to resume next time)
        10. if the job fails: stop the pod (kept for forensics; the next apply creates a fresh pod)

    Note: the container restarts with the new image: /workspace is kept, the container disk is wiped, setup runs again
    Note: the pod stops itself at about [DATE] [TIME] UTC (max runtime, counted from the job's start) or 10 minutes after the job ends if rpd is not attached (rpd's guard on the pod; lifecycle.unattended_stop_after_sec)
    Note: pod [PAUSED] was last used less than a day ago (paused since [DATE]); its volume bills $0.13/day ($4.00/month) while it is paused

    Plan: 0 to create, 1 to resume, 0 to destroy, 1 to stop.
    Cost: $0.44/hr while running; $4.00/month ($0.13/day) while paused for reuse (20 GB volume).
"#;

/// The plan after hello's pod, shown as `[GONE]`, was deleted outside rpd.
pub fn deleted_plan() -> String {
    let plan = with_block(
        CREATE_PLAN,
        "rpd will perform",
        "
        Changes made outside rpd:
          # pod \"hello\" ([GONE]) has been deleted
        ─────────────────────────────────────────────────────────────────────────────

        ",
    );
    edited(
        &plan,
        "(no pod recorded)",
        "([GONE] was deleted outside rpd)",
    )
}

/// The plan when hello's pod, shown as `[RUNNING]`, is already running.
pub const RUNNING_PLAN: &str = r#"
    rpd plan for examples/hello.yaml (job "hello")

    rpd will perform the following actions:

      # pod "hello" ([RUNNING]) is already RUNNING; the job runs on it

      Steps:
        1. use running pod [RUNNING] ([RUNNING] is already running)
        2. wait until the pod runs and its shell answers (up to 15m00s)
        3. setup: 1 command
        4. staging: 1 push (incremental)
        5. launch /workspace/hello/run.sh, detached
        6. follow the job until it exits or prints a marker (timeout 10m00s)
        7. pull the log and 1 artifact
        8. if the job succeeds: recycle (stop the pod) (kept to resume next time)
        9. if the job fails: stop the pod (kept for forensics; the next apply creates a fresh pod)

    Note: the pod stops itself at about [DATE] [TIME] UTC (max runtime, counted from the job's start) or 10 minutes after the job ends if rpd is not attached (rpd's guard on the pod; lifecycle.unattended_stop_after_sec)

    Plan: 0 to create, 0 to resume, 0 to destroy, 1 to stop.
    Cost: $0.44/hr while running; $4.00/month ($0.13/day) while paused for reuse (20 GB volume).
"#;

/// `plan` (unindented) with `block` (unindented) inserted before the line
/// that starts with `before`, which must occur once.
pub fn with_block(plan: &str, before: &str, block: &str) -> String {
    let plan = unindent(plan);
    edited(&plan, before, &format!("{}{before}", unindent(block)))
}

/// CREATE_PLAN with its candidate lines (the part a stock or price test is
/// about) replaced by `candidates`.
pub fn create_plan_with_candidates(candidates: &str) -> String {
    let plan = unindent(CREATE_PLAN);
    let (head, rest) = plan
        .split_once("  Candidates, in order:\n")
        .expect("a candidates block");
    let (_, tail) = rest.split_once("\n\n").expect("the end of the block");
    let lines: String = unindent(candidates)
        .lines()
        .map(|line| format!("     {line}\n"))
        .collect();
    format!("{head}  Candidates, in order:\n{lines}\n{tail}")
}
