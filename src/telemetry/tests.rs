//! The findings of the recorded runs in fixtures/telemetry/ (one run
//! directory per case, in TELEMETRY.md's format).

use super::dmesg::{KernelTime, XidBlame};
use super::*;

fn fixture(case: &str) -> RunTelemetry {
    read(&fixtures::path(case))
}

fn kinds(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| {
            serde_json::to_value(f).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn a_busy_gpu_run_says_only_how_busy_and_how_full() {
    let telemetry = fixture("busy-gpu");
    let findings = telemetry.findings();
    assert_eq!(kinds(&findings), ["gpu_use"]);
    let Finding::GpuUse { gpus } = &findings[0] else {
        unreachable!()
    };
    assert_eq!(gpus[0].mem_peak_mb, Some(23650.0));
    assert_eq!(gpus[0].mem_total_mb, Some(24564.0));
    assert_eq!(
        findings[0].severity(),
        Severity::Advice,
        "96 % is close to full"
    );
    assert_eq!(telemetry.gpu_names(), ["NVIDIA RTX A5000"]);
    assert_eq!(telemetry.driver(), Some(("550.54.15", Some("12.4"))));
    let series = telemetry.series();
    let measures: Vec<Measure> = series.iter().map(|s| s.measure).collect();
    assert_eq!(measures, [Measure::GpuUtil, Measure::GpuMemory]);
    assert_eq!(series[0].points.len(), 21);
}

#[test]
fn an_idle_gpu_run_says_it_may_be_cpu_or_input_bound() {
    let findings = fixture("idle-gpu").findings();
    assert_eq!(kinds(&findings), ["gpu_idle", "gpu_use"]);
    assert_eq!(
        findings[0],
        Finding::GpuIdle {
            idle_pct: 80.0,
            samples: 20
        }
    );
}

#[test]
fn an_oom_kill_and_xid_errors_come_first() {
    let findings = fixture("oom-xid").findings();
    assert_eq!(
        kinds(&findings),
        [
            "oom_kill",
            "xid",
            "xid",
            "gpu_hot",
            "host_memory_nearly_full",
            "gpu_use"
        ]
    );
    assert_eq!(
        findings[0],
        Finding::OomKill {
            at: Some(KernelTime::SinceBoot(8811.90012)),
            process: Some("python".into()),
            pid: Some(4242),
            cgroup: true,
            more: 0,
        }
    );
    let Finding::Xid {
        code, blame, count, ..
    } = &findings[2]
    else {
        unreachable!()
    };
    assert_eq!((*code, *blame, *count), (79, Some(XidBlame::Host), 2));
}

#[test]
fn uncorrected_ecc_errors_say_when_they_were_first_seen() {
    let findings = fixture("ecc").findings();
    assert_eq!(kinds(&findings), ["ecc_errors", "gpu_use"]);
    assert_eq!(
        findings[0],
        Finding::EccErrors {
            gpus: vec![0],
            errors: 3,
            first_at: Some("2026-11-20T10:03:00Z".parse().unwrap()),
        }
    );
}

#[test]
fn two_gpus_one_unused() {
    let telemetry = fixture("two-gpus");
    let findings = telemetry.findings();
    assert_eq!(kinds(&findings), ["gpus_unused", "gpu_use"]);
    assert_eq!(
        findings[0],
        Finding::GpusUnused {
            idle: vec![1],
            busy: vec![0]
        }
    );
    let gpus: Vec<Option<u32>> = telemetry.series().iter().map(|s| s.gpu).collect();
    assert_eq!(gpus, [Some(0), Some(1), Some(0), Some(1)]);
}

#[test]
fn a_cpu_only_run_has_no_gpu_finding_and_draws_cpu_and_host_memory() {
    let telemetry = fixture("cpu-only");
    let findings = telemetry.findings();
    assert_eq!(kinds(&findings), ["disk_nearly_full", "host_use"]);
    let measures: Vec<Measure> = telemetry.series().iter().map(|s| s.measure).collect();
    assert_eq!(measures, [Measure::Cpu, Measure::HostMemory]);
}

#[test]
fn torn_and_garbage_files_give_what_can_be_read() {
    let telemetry = fixture("torn-garbage");
    let metrics = telemetry.metrics.as_ref().unwrap();
    assert_eq!(metrics.samples, 4);
    assert!(metrics.torn_last_line);
    assert_eq!(metrics.skipped_lines, 5);
    assert_eq!(telemetry.pod_status_at_end, None);
    assert_eq!(telemetry.dmesg.as_ref().unwrap().xids, []);
    assert_eq!(kinds(&telemetry.findings()), ["oom_kill", "gpu_use"]);
    assert!(telemetry.unreadable.is_empty());
}

#[test]
fn runpod_deploys_own_files_are_read() {
    let telemetry = fixture("runpod-deploy");
    let metrics = telemetry.metrics.as_ref().unwrap();
    assert_eq!(metrics.samples, 6, "its event line is no sample");
    assert_eq!(metrics.skipped_lines, 0);
    assert_eq!(metrics.mean_cpu_pct(), None);
    assert_eq!(
        kinds(&telemetry.findings()),
        ["pod_status_at_end", "gpu_use"]
    );
}

#[test]
fn a_run_without_telemetry_reads_as_empty_and_odd_files_are_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let empty = read(dir.path());
    assert!(empty.is_empty());
    assert!(empty.findings().is_empty());
    assert!(empty.series().is_empty());
    std::fs::create_dir(dir.path().join(METRICS_FILE)).unwrap();
    let odd = read(dir.path());
    assert_eq!(odd.unreadable.len(), 1);
    assert_eq!(
        odd.unreadable[0].why,
        "it is a directory, not a regular file"
    );
    assert!(read(&dir.path().join("gone")).is_empty());
}

/// The host's kernel log goes back to its boot, and on RunPod it is the
/// whole host's: only the kernel events of the run's own window (from the
/// samples' `host_uptime_sec`) are this run's.
#[test]
fn kernel_events_from_before_the_run_are_not_the_runs() {
    let telemetry = fixture("old-kernel-events");
    let dmesg = telemetry.dmesg.as_ref().unwrap();
    assert_eq!(dmesg.oom_kills.len(), 1, "{dmesg:?}");
    assert_eq!(dmesg.oom_kills[0].pid, Some(4242));
    assert!(
        dmesg.xids.is_empty(),
        "the Xid came hours before: {dmesg:?}"
    );
    assert_eq!(kinds(&telemetry.findings())[0], "oom_kill");
    let metrics = telemetry.metrics.as_ref().unwrap();
    assert_eq!(metrics.uptime_window, Some((86400.12, 86460.11)));
}
