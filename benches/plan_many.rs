//! Benchmark (not a timed test): `rpd plan` over 50 configs with 100 ms of
//! latency on every provider call, against planning them one by one.
//! Refresh runs concurrently, so 50 configs should cost about one round trip
//! (get + catalog), not 50. Run with `cargo bench --bench plan_many`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const CONFIGS: usize = 50;
const LATENCY_MS: u64 = 100;

fn rpd() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("rpd");
    assert!(path.exists(), "build rpd first (cargo build --release)");
    path
}

fn run(root: &Path, args: &[String]) -> std::process::Output {
    let out = Command::new(rpd())
        .args(args)
        .current_dir(root)
        .env("RPD_PROVIDER", "sim")
        .env("RPD_SIM_DIR", root.join("sim"))
        .env("HOME", root.join("home"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rpd {args:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut names = Vec::new();
    for i in 0..CONFIGS {
        let name = format!("job{i:02}.yaml");
        std::fs::write(
            root.join(&name),
            format!(
                "schema_version: 2\nname: job{i:02}\npod:\n  image: runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404\n  datacenters: [EU-RO-1, US-CA-2]\n  gpu_order: [\"NVIDIA GeForce RTX 4090\", \"NVIDIA RTX A5000\"]\n\
                 storage:\n  mode: ephemeral\n  volume_gb: 20\nrun:\n  script_path: /workspace/j/run.sh\n  log_path: /workspace/j/run.log\n  success_marker: OK\n  body: echo OK\n\
                 lifecycle:\n  on_success: recycle\n"
            ),
        )
        .unwrap();
        names.push(name);
    }
    run(root, &args(&["sim", "boot", "20", "10"]));
    for dc in ["EU-RO-1", "US-CA-2"] {
        for gpu in ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A5000"] {
            run(root, &args(&["sim", "stock", dc, gpu, "100"]));
        }
    }
    // Every config gets a recycled pod, so each plan reads a pod and the catalog.
    let mut apply = args(&["apply", "-y"]);
    apply.extend(names.iter().cloned());
    run(root, &apply);
    run(root, &args(&["sim", "latency", &LATENCY_MS.to_string()]));
    run(root, &args(&["sim", "calls", "--reset"]));

    let mut together = args(&["plan"]);
    together.extend(names.iter().cloned());
    let started = Instant::now();
    let out = run(root, &together);
    let all = started.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("will be resumed").count(),
        CONFIGS,
        "every config plans a resume"
    );
    let calls: serde_json::Value =
        serde_json::from_slice(&run(root, &args(&["sim", "calls", "--json", "--reset"])).stdout)
            .unwrap();

    let started = Instant::now();
    for name in &names {
        run(root, &args(&["plan", name]));
    }
    let one_by_one = started.elapsed().as_secs_f64();

    println!(
        "rpd plan over {CONFIGS} configs with {LATENCY_MS} ms per provider call ({} get, {} catalog calls):",
        calls["get"], calls["catalog"]
    );
    println!("  one `rpd plan` with all {CONFIGS} configs: {all:.3} s");
    println!("  {CONFIGS} `rpd plan` runs one by one:     {one_by_one:.3} s");
    println!(
        "  ratio (one by one / together): {:.1}x; goal for together: under 1.5 s",
        one_by_one / all
    );
}
