//! Raw config -> validated [`Config`]: runpod-deploy's defaults and rules, its
//! template rendering, plus rpd's own checks. Every problem is collected (not
//! just the first) and located in the file.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use chrono::Utc;

use super::error::{ConfigError, Problem};
use super::locate::KeyIndex;
use super::raw::{RawCommand, RawConfig};
use super::serde_errors::{problem_from_serde, problem_from_syntax};
use super::template::{self, Variables};
use super::{
    Artifact, Budget, Command, Config, Job, LoadOptions, Push, RemoteEnv, Run, Secret,
    SecretSource, Telemetry, suggest,
};
use crate::known;
use crate::model::{CloudType, DesiredPod, Lifecycle, LifecycleAction, Storage};

pub const DEFAULT_FAILURE_MARKERS: [&str; 5] = [
    "Traceback",
    "OutOfMemoryError",
    "CUDA out of memory",
    "No space left on device",
    "Killed",
];

const DEFAULT_STAGING_EXCLUDES: [&str; 7] = [
    ".git/",
    ".venv/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".mypy_cache/",
    "**/__pycache__/",
    "**/*.pyc",
];

const RECYCLE_ON_FAILURE: &str = "lifecycle.on_failure cannot be 'recycle'; recycle is the success-path only because failed pods have potentially corrupted state. See Issue #90.";

pub fn from_text(path: &Path, text: &str, options: &LoadOptions) -> Result<Config, ConfigError> {
    let fail = |problems: Vec<Problem>| ConfigError {
        file: path.to_path_buf(),
        source: Some(text.to_string()),
        problems,
    };
    let index = KeyIndex::build(text);
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(fail(vec![Problem::new(None, "the config is empty").help(
            "a config needs at least `name`, `pod`, `storage` and `run`; see examples/hello.yaml",
        )]));
    }
    // Through a Value, so that a string field refuses `123` or `true` as
    // runpod-deploy does (serde_yaml alone would take the scalar's text);
    // serde_path_to_error names the key, the index locates it.
    let value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|err| fail(vec![problem_from_syntax(&err)]))?;
    let raw: RawConfig = serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        fail(vec![problem_from_serde(
            &path,
            &err.into_inner().to_string(),
            &index,
        )])
    })?;
    let mut checker = Checker {
        source: text,
        index: &index,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let config = checker.config(path, raw, options);
    if checker.problems.is_empty() {
        let mut config = config.expect("a config without problems is complete");
        config.warnings = checker.warnings;
        Ok(config)
    } else {
        Err(fail(checker.problems))
    }
}

struct Checker<'a> {
    source: &'a str,
    index: &'a KeyIndex,
    problems: Vec<Problem>,
    warnings: Vec<String>,
}

impl Checker<'_> {
    fn error(&mut self, path: &str, message: impl Into<String>) -> &mut Problem {
        let pos = self.index.value(path);
        self.problems.push(Problem::new(pos, message));
        self.problems.last_mut().expect("just pushed")
    }

    fn error_at_key(&mut self, path: &str, message: impl Into<String>) -> &mut Problem {
        let pos = self.index.key(path);
        self.problems.push(Problem::new(pos, message));
        self.problems.last_mut().expect("just pushed")
    }

    fn positive(&mut self, path: &str, value: Option<i64>, default: u32) -> u32 {
        match value {
            None => default,
            Some(v) if v > 0 && v <= i64::from(u32::MAX) => v as u32,
            Some(v) => {
                self.error(path, format!("`{path}` must be > 0, got {v}"));
                default
            }
        }
    }

    fn optional_positive(&mut self, path: &str, value: Option<i64>) -> Option<u32> {
        value.map(|v| self.positive(path, Some(v), 1))
    }

    fn positive_float(&mut self, path: &str, value: Option<f64>, default: f64) -> f64 {
        match value {
            None => default,
            Some(v) if v > 0.0 && v.is_finite() => v,
            Some(v) => {
                self.error(path, format!("`{path}` must be > 0, got {v}"));
                default
            }
        }
    }

    fn non_empty(&mut self, path: &str, value: &str) {
        if value.trim().is_empty() {
            self.error(path, format!("`{path}` must not be empty"));
        }
    }

    fn render(&mut self, path: &str, text: &str, vars: &Variables) -> String {
        match template::render(text, vars) {
            Ok(rendered) => rendered,
            Err(unknown) => {
                let help = match &unknown.suggestion {
                    Some(s) => format!(
                        "did you mean `{{{s}}}`? Define `{}` under `variables:` or pass --var {}=VALUE; bash's ${{{}}} is left as is",
                        unknown.name, unknown.name, unknown.name
                    ),
                    None => format!(
                        "define `{}` under `variables:` or pass --var {}=VALUE (known: {}); bash's ${{{}}} is left as is",
                        unknown.name,
                        unknown.name,
                        vars.keys().cloned().collect::<Vec<_>>().join(", "),
                        unknown.name
                    ),
                };
                // In a multi-line value, point at the line that uses it.
                let needle = format!("{{{}}}", unknown.name);
                let pos = self.index.value(path).map(|start| {
                    self.source
                        .lines()
                        .enumerate()
                        .skip(start.line - 1)
                        .find_map(|(i, line)| {
                            line.find(&needle).map(|col| super::locate::Pos {
                                line: i + 1,
                                col: col + 1,
                            })
                        })
                        .unwrap_or(start)
                });
                self.problems.push(
                    Problem::new(
                        pos,
                        format!(
                            "unknown template variable `{{{}}}` in `{path}`",
                            unknown.name
                        ),
                    )
                    .help(help),
                );
                text.to_string()
            }
        }
    }

    fn render_all(&mut self, path: &str, items: &[String], vars: &Variables) -> Vec<String> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.render(&format!("{path}[{i}]"), item, vars))
            .collect()
    }

    fn remote_path(&mut self, path: &str, value: &str) {
        if !(value.starts_with('/') || value.starts_with('{')) {
            self.error(
                path,
                format!(
                    "`{path}` must be an absolute path or start with a template, got {value:?}"
                ),
            )
            .help = Some("e.g. /workspace/job/run.sh or {volume_mount}/job/run.sh".into());
        }
    }

    fn lifecycle(
        &mut self,
        path: &str,
        value: Option<&str>,
        default: LifecycleAction,
    ) -> LifecycleAction {
        let Some(value) = value else { return default };
        let action = match value {
            "preserve" => LifecycleAction::Preserve,
            "stop" => LifecycleAction::Stop,
            "delete" => LifecycleAction::Delete,
            "recycle" => LifecycleAction::Recycle,
            other => {
                let allowed = ["preserve", "stop", "delete", "recycle"];
                let mut help = format!("allowed: {}", allowed.join(", "));
                if let Some(near) = suggest(other, allowed) {
                    help = format!("did you mean `{near}`? {help}");
                }
                self.error(
                    path,
                    format!(
                        "`{path}` must be one of preserve, stop, delete, recycle; got {other:?}"
                    ),
                )
                .help = Some(help);
                return default;
            }
        };
        if path == "lifecycle.on_failure" && action == LifecycleAction::Recycle {
            self.error(path, RECYCLE_ON_FAILURE).help =
                Some("use `stop` to keep the failed pod for forensics, or `delete`".into());
            return default;
        }
        action
    }

    fn config(&mut self, path: &Path, raw: RawConfig, options: &LoadOptions) -> Option<Config> {
        if let Some(v) = raw.schema_version
            && v != 2
        {
            self.error(
                "schema_version",
                format!("`schema_version` must be 2, got {v}"),
            )
            .help = Some("rpd reads runpod-deploy's schema_version 2 configs".into());
        }
        self.non_empty("name", &raw.name);

        let canonical_path = std::fs::canonicalize(path).unwrap_or_else(|_| absolute(path));
        let config_dir = canonical_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let now = options.now.unwrap_or_else(Utc::now);
        let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();

        // local
        let project_root_raw = raw.local.project_root.clone().unwrap_or_else(|| ".".into());
        let project_root = resolve_local(&project_root_raw, &config_dir);
        if dirs::home_dir().is_some_and(|home| normalize(&home) == project_root) {
            self.error(
                "local.project_root",
                format!("`local.project_root` resolves to your home directory ({}); this would stage all of it", project_root.display()),
            )
            .help = Some("for a YAML inside the repo at configs/runpod/, the usual value is '../..', not '../../..'".into());
        }
        // runpod-deploy's artifacts/runpod/<stamp>/, plus the config's name so
        // that configs applied together never share a run directory.
        let stem = canonical_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "config".into());
        let run_dir = project_root
            .join("artifacts")
            .join("runpod")
            .join(format!("{stamp}-{stem}"));

        // pod
        let pod = &raw.pod;
        self.non_empty("pod.image", &pod.image);
        if pod.datacenters.is_empty() {
            self.error(
                "pod.datacenters",
                "`pod.datacenters` must list at least one datacenter id",
            )
            .help = Some("e.g. [\"EU-RO-1\", \"US-CA-2\"]".into());
        }
        if pod.gpu_order.is_empty() {
            self.error(
                "pod.gpu_order",
                "`pod.gpu_order` must list at least one GPU type id",
            )
            .help = Some("e.g. [\"NVIDIA GeForce RTX 4090\"]".into());
        }
        for (i, gpu) in pod.gpu_order.iter().enumerate() {
            if gpu.trim().is_empty() {
                self.error(&format!("pod.gpu_order[{i}]"), "GPU ids must not be empty");
            } else if !known::is_known_gpu(gpu) {
                let hint = known::suggest_gpu(gpu)
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_default();
                self.warnings.push(format!(
                    "pod.gpu_order[{i}]: {gpu:?} is not a GPU id rpd knows{hint}"
                ));
            }
        }
        for (i, dc) in pod.datacenters.iter().enumerate() {
            if dc.trim().is_empty() {
                self.error(
                    &format!("pod.datacenters[{i}]"),
                    "datacenter ids must not be empty",
                );
            } else if !known::DATACENTERS.contains(&dc.as_str()) {
                let hint = suggest(dc, known::DATACENTERS.iter().copied())
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_default();
                self.warnings.push(format!(
                    "pod.datacenters[{i}]: {dc:?} is not a datacenter id rpd knows{hint}"
                ));
            }
        }
        let cloud_type = match pod.cloud_type.as_deref() {
            None => CloudType::Secure,
            Some(text) => CloudType::parse(text).unwrap_or_else(|| {
                self.error(
                    "pod.cloud_type",
                    format!("`pod.cloud_type` must be SECURE or COMMUNITY, got {text:?}"),
                )
                .help = Some("RunPod's REST v2 API has no ALL; list the cloud you want".into());
                CloudType::Secure
            }),
        };
        let container_disk_gb = self.positive("pod.container_disk_gb", pod.container_disk_gb, 20);
        let gpu_count = self.positive("pod.gpu_count", pod.gpu_count, 1);
        let min_vcpu_count = self.optional_positive("pod.min_vcpu_count", pod.min_vcpu_count);
        let min_memory_gb = self.optional_positive("pod.min_memory_gb", pod.min_memory_gb);
        if let Some(v) = &pod.python_version
            && !is_python_version(v)
        {
            self.error(
                "pod.python_version",
                format!("`pod.python_version` must look like '3.13' or '3.13.5', got {v:?}"),
            )
            .help = Some("pre-release suffixes are rejected for reproducibility".into());
        }
        let ports = self.ports(pod.ports.clone());
        if pod.spot || min_vcpu_count.is_some() || min_memory_gb.is_some() {
            self.warnings.push("pod.spot, pod.min_vcpu_count and pod.min_memory_gb have no REST v2 equivalent: the runpod provider ignores them; the runpodctl provider passes them when the installed runpodctl supports them".into());
        }

        // storage
        let st = &raw.storage;
        let mount = st
            .volume_mount
            .clone()
            .unwrap_or_else(|| "/workspace".into());
        if !mount.starts_with('/') {
            self.error(
                "storage.volume_mount",
                format!("`storage.volume_mount` must be absolute, got {mount:?}"),
            );
        }
        let storage = match st.mode.as_str() {
            "ephemeral" => {
                let gb = match st.volume_gb {
                    Some(v) if v > 0 => v.min(i64::from(u32::MAX)) as u32,
                    _ => {
                        let at = if st.volume_gb.is_some() {
                            "storage.volume_gb"
                        } else {
                            "storage"
                        };
                        self.error(at, "`storage.volume_gb` must be a positive number of GB for ephemeral storage")
                            .help = Some("e.g. `volume_gb: 20`".into());
                        0
                    }
                };
                if gb > 0 && gb < 10 {
                    self.warnings.push(format!("storage.volume_gb is {gb}: RunPod's REST v2 API requires at least 10 GB, so the runpod provider will refuse it"));
                }
                Storage::Ephemeral {
                    volume_gb: gb,
                    mount: mount.clone(),
                }
            }
            "network_volume" => {
                let name = st.volume_name.clone().unwrap_or_default();
                if name.is_empty() {
                    self.error(
                        "storage",
                        "`storage.volume_name` is required for network_volume storage",
                    )
                    .help =
                        Some("name a network volume that exists in the pod's datacenter".into());
                }
                if pod.datacenters.len() > 1 {
                    self.warnings.push("storage.mode is network_volume but pod.datacenters lists several datacenters: a network volume lives in one datacenter, so pin pod.datacenters to it".into());
                }
                Storage::NetworkVolume {
                    volume_name: name,
                    volume_id: None,
                    mount: mount.clone(),
                }
            }
            other => {
                let mut help = "allowed: ephemeral, network_volume".to_string();
                if let Some(near) = suggest(other, ["ephemeral", "network_volume"]) {
                    help = format!("did you mean `{near}`? {help}");
                }
                self.error(
                    "storage.mode",
                    format!(
                        "`storage.mode` must be 'network_volume' or 'ephemeral', got {other:?}"
                    ),
                )
                .help = Some(help);
                Storage::Ephemeral {
                    volume_gb: 0,
                    mount: mount.clone(),
                }
            }
        };

        // budget
        let b = &raw.budget;
        let cost_cap_usd = self.positive_float("budget.cost_cap_usd", b.cost_cap_usd, 10.0);
        let assumed = self.positive_float(
            "budget.assumed_hourly_rate_usd",
            b.assumed_hourly_rate_usd,
            1.65,
        );
        let max_runtime_minutes =
            self.optional_positive("budget.max_runtime_minutes", b.max_runtime_minutes);
        let poll_interval_sec = self.positive("budget.poll_interval_sec", b.poll_interval_sec, 60);
        let ssh_ready_timeout_sec =
            self.positive("budget.ssh_ready_timeout_sec", b.ssh_ready_timeout_sec, 900);
        let timeout_sec = match max_runtime_minutes {
            Some(m) => u64::from(m) * 60,
            None => (cost_cap_usd / assumed * 3600.0) as u64,
        };
        if assumed * (timeout_sec as f64 / 3600.0) > cost_cap_usd + 1e-9 {
            self.error(
                "budget.max_runtime_minutes",
                "configured timeout exceeds cost cap under the assumed hourly rate",
            )
            .help = Some(format!(
                "{} min at ${assumed}/hr costs ${:.2}, above cost_cap_usd ${cost_cap_usd}; lower max_runtime_minutes or raise the cap",
                timeout_sec / 60,
                assumed * timeout_sec as f64 / 3600.0
            ));
        }

        // telemetry
        let t = &raw.telemetry;
        let sample_interval_sec = match t.sample_interval_sec {
            None => 30,
            Some(v) if v >= 5 => v.min(i64::from(u32::MAX)) as u32,
            Some(v) => {
                self.error(
                    "telemetry.sample_interval_sec",
                    format!("`telemetry.sample_interval_sec` must be >= 5, got {v}"),
                );
                30
            }
        };

        // lifecycle
        let lifecycle = Lifecycle {
            on_success: self.lifecycle(
                "lifecycle.on_success",
                raw.lifecycle.on_success.as_deref(),
                LifecycleAction::Delete,
            ),
            on_failure: self.lifecycle(
                "lifecycle.on_failure",
                raw.lifecycle.on_failure.as_deref(),
                LifecycleAction::Stop,
            ),
        };

        // templates: pass 1 with the raw name and prefix, as runpod-deploy does
        let raw_prefix = raw
            .run_id_prefix
            .clone()
            .unwrap_or_else(|| raw.name.clone());
        let mut vars = Variables::new();
        vars.insert("config_dir".into(), config_dir.display().to_string());
        vars.insert("project_root".into(), project_root.display().to_string());
        vars.insert("run_dir".into(), run_dir.display().to_string());
        vars.insert("run_id".into(), format!("{raw_prefix}-{stamp}"));
        vars.insert("job_name".into(), raw.name.clone());
        vars.insert("volume_mount".into(), mount.clone());
        for (key, value) in &raw.variables {
            if !template::is_identifier(key) {
                self.error_at_key(
                    &format!("variables.{key}"),
                    format!("variable name {key:?} is not an identifier"),
                )
                .help = Some("use letters, digits and _, not starting with a digit".into());
                continue;
            }
            let rendered = self.render(&format!("variables.{key}"), value, &vars);
            vars.insert(key.clone(), rendered);
        }
        for (key, value) in &options.overrides {
            let rendered = match template::render(value, &vars) {
                Ok(r) => r,
                Err(unknown) => {
                    self.problems.push(Problem::new(
                        None,
                        format!(
                            "unknown template variable `{{{}}}` in the value of --var {key}",
                            unknown.name
                        ),
                    ));
                    value.clone()
                }
            };
            vars.insert(key.clone(), rendered);
        }
        // pass 2: name and run_id_prefix see every variable
        let name = self.render("name", &raw.name, &vars);
        let run_id_prefix = self.render(
            if raw.run_id_prefix.is_some() {
                "run_id_prefix"
            } else {
                "name"
            },
            &raw_prefix,
            &vars,
        );
        let run_id = format!("{run_id_prefix}-{stamp}");
        vars.insert("job_name".into(), name.clone());
        vars.insert("run_id".into(), run_id.clone());

        // state file: rendered (unlike runpod-deploy), one per config by default
        let (state_file, state_file_explicit) = match &raw.state_file {
            Some(text) => {
                for per_run in ["{run_id}", "{run_dir}"] {
                    if text.contains(per_run) {
                        self.error("state_file", format!("`state_file` uses {per_run}, which changes on every run: the next run would not find the pod this one recorded"))
                            .help = Some("use values that identify the job, e.g. {job_name} or your own variables such as {seed}".into());
                    }
                }
                let rendered = self.render("state_file", text, &vars);
                if rendered.trim().is_empty() {
                    self.error("state_file", "`state_file` must not be empty");
                }
                (resolve_local(&rendered, &config_dir), true)
            }
            None => (default_state_file(&canonical_path, &raw.name, &name), false),
        };

        let required_paths = raw
            .local
            .required_paths
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let rendered = self.render(&format!("local.required_paths[{i}]"), p, &vars);
                resolve_local(&rendered, &project_root)
            })
            .collect();

        let job = self.job(&raw, &vars, &project_root);

        // rpd renders pod.image too (runpod-deploy does not): an image name
        // cannot contain braces, so no config valid there changes meaning.
        let image = self.render("pod.image", &pod.image, &vars);

        let ssh_key_path = expand_home(raw.ssh.key_path.as_deref().unwrap_or("~/.ssh/id_ed25519"));

        if !self.problems.is_empty() {
            return None;
        }
        Some(Config {
            path: path.to_path_buf(),
            canonical_path,
            config_dir,
            schema_version: 2,
            name,
            raw_name: raw.name.clone(),
            run_id,
            run_id_prefix,
            state_file,
            state_file_explicit,
            project_root,
            run_dir,
            required_paths,
            pod: DesiredPod {
                image,
                gpu_order: pod.gpu_order.clone(),
                datacenters: pod.datacenters.clone(),
                cloud_type,
                gpu_count,
                container_disk_gb,
                storage,
                ports,
                env: BTreeMap::new(),
                min_vcpu_count,
                min_memory_gb,
                spot: pod.spot,
            },
            python_version: pod.python_version.clone(),
            ssh_key_path,
            budget: Budget {
                cost_cap_usd,
                assumed_hourly_rate_usd: assumed,
                max_runtime_minutes,
                poll_interval_sec,
                ssh_ready_timeout_sec,
                timeout_sec,
            },
            job,
            lifecycle,
            telemetry: Telemetry {
                enabled: t.enabled,
                sample_interval_sec,
                capture_nvidia_smi: t.capture_nvidia_smi,
                capture_dmesg: t.capture_dmesg,
                capture_pod_describe: t.capture_pod_describe,
                capture_remote_env: t.capture_remote_env,
                capture_local_git: t.capture_local_git,
                capture_payload_lockfile: t.capture_payload_lockfile,
            },
            variables: vars,
            warnings: Vec::new(),
        })
    }

    fn ports(&mut self, ports: Option<Vec<String>>) -> Vec<String> {
        let ports = ports.unwrap_or_else(|| vec!["22/tcp".into()]);
        let mut normalized: Vec<String> = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            let p = port.trim().to_ascii_lowercase();
            let valid = p.split_once('/').is_some_and(|(n, proto)| {
                n.parse::<u16>().is_ok_and(|n| n > 0) && ["tcp", "http", "udp"].contains(&proto)
            });
            if !valid {
                self.error(
                    &format!("pod.ports[{i}]"),
                    format!("port {port:?} must look like 22/tcp or 8888/http"),
                );
            } else if !normalized.contains(&p) {
                normalized.push(p);
            }
        }
        if !normalized.iter().any(|p| p == "22/tcp") {
            // runpod-deploy accepted such configs (and never reached the
            // pod); rpd adds the port it needs and says so.
            self.warnings.push(
                "pod.ports has no \"22/tcp\": rpd adds it, since it reaches the pod over SSH"
                    .into(),
            );
            normalized.push("22/tcp".into());
        }
        normalized.sort();
        normalized
    }

    fn commands(
        &mut self,
        block: &str,
        raw: Option<&Vec<RawCommand>>,
        vars: &Variables,
    ) -> Vec<Command> {
        let Some(raw) = raw else { return Vec::new() };
        raw.iter()
            .enumerate()
            .map(|(i, c)| {
                let path = format!("{block}[{i}]");
                self.non_empty(&format!("{path}.command"), &c.command);
                Command {
                    command: self.render(&format!("{path}.command"), &c.command, vars),
                    timeout_sec: self.positive(&format!("{path}.timeout_sec"), c.timeout_sec, 600),
                    with_env: c.with_env,
                }
            })
            .collect()
    }

    fn job(&mut self, raw: &RawConfig, vars: &Variables, project_root: &Path) -> Job {
        let remote_env = RemoteEnv {
            source_files: self.render_all(
                "remote_env.source_files",
                &raw.remote_env.source_files,
                vars,
            ),
            exports: raw
                .remote_env
                .exports
                .iter()
                .map(|(k, v)| {
                    if !template::is_identifier(k) {
                        self.error_at_key(
                            &format!("remote_env.exports.{k}"),
                            format!("export name {k:?} is not a shell identifier"),
                        );
                    }
                    (
                        k.clone(),
                        self.render(&format!("remote_env.exports.{k}"), v, vars),
                    )
                })
                .collect(),
        };
        let setup = self.commands("setup", raw.setup.as_ref(), vars);
        let preflight = self.commands("preflight", raw.preflight.as_ref(), vars);

        let staging = raw
            .staging
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, s)| {
                let p = format!("staging[{i}]");
                self.non_empty(&format!("{p}.label"), &s.label);
                self.non_empty(&format!("{p}.source"), &s.source);
                self.non_empty(&format!("{p}.destination"), &s.destination);
                let mut excludes: Vec<String> = Vec::new();
                if s.excludes_default {
                    excludes.extend(DEFAULT_STAGING_EXCLUDES.iter().map(|e| e.to_string()));
                }
                excludes.extend(self.render_all(&format!("{p}.excludes"), &s.excludes, vars));
                excludes.extend(self.render_all(
                    &format!("{p}.excludes_extra"),
                    &s.excludes_extra,
                    vars,
                ));
                let source = self.render(&format!("{p}.source"), &s.source, vars);
                let trailing = source.ends_with('/');
                let mut source = resolve_local(&source, project_root).display().to_string();
                if trailing && !source.ends_with('/') {
                    source.push('/');
                }
                Push {
                    label: s.label.clone(),
                    source,
                    destination: self.render(&format!("{p}.destination"), &s.destination, vars),
                    excludes,
                    delete: s.delete,
                }
            })
            .collect();

        let secrets = raw
            .secrets
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, s)| {
                let p = format!("secrets[{i}]");
                self.non_empty(&format!("{p}.name"), &s.name);
                self.remote_path(&format!("{p}.destination"), &s.destination);
                let source = match (s.env.is_empty(), &s.file) {
                    (false, None) => {
                        for (j, var) in s.env.iter().enumerate() {
                            if !template::is_identifier(var) {
                                self.error(&format!("{p}.env[{j}]"), format!("{var:?} is not an environment variable name"));
                            }
                        }
                        SecretSource::Env(s.env.clone())
                    }
                    (true, Some(file)) => {
                        let rendered = self.render(&format!("{p}.file"), file, vars);
                        SecretSource::File(resolve_local(&rendered, project_root))
                    }
                    _ => {
                        self.error(&p, format!("secret {:?} must set exactly one of `env` or `file`", s.name))
                            .help = Some("`env: [HF_TOKEN]` writes KEY=value lines; `file: ~/.netrc` copies a file".into());
                        SecretSource::Env(Vec::new())
                    }
                };
                let mode_text = s.mode.clone().unwrap_or_else(|| "0600".into());
                let mode = if is_octal_mode(&mode_text) {
                    u32::from_str_radix(&mode_text, 8).unwrap_or(0o600)
                } else {
                    self.error(&format!("{p}.mode"), format!("`{p}.mode` must be a 3- or 4-digit octal string like \"0600\", got {mode_text:?}"))
                        .help = Some("quote it: mode: \"0600\"".into());
                    0o600
                };
                Secret {
                    name: s.name.clone(),
                    destination: self.render(&format!("{p}.destination"), &s.destination, vars),
                    source,
                    mode,
                }
            })
            .collect();

        let r = &raw.run;
        self.remote_path("run.script_path", &r.script_path);
        self.remote_path("run.log_path", &r.log_path);
        if r.success_marker.is_empty() {
            self.error(
                "run.success_marker",
                "`run.success_marker` must not be empty",
            );
        }
        if r.body.trim().is_empty() {
            self.error("run.body", "`run.body` must not be empty");
        }
        let failure_markers = match &r.failure_markers {
            Some(markers) => self.render_all("run.failure_markers", markers, vars),
            None => DEFAULT_FAILURE_MARKERS
                .iter()
                .map(|m| m.to_string())
                .collect(),
        };
        let run = Run {
            script_path: self.render("run.script_path", &r.script_path, vars),
            log_path: self.render("run.log_path", &r.log_path, vars),
            success_marker: self.render("run.success_marker", &r.success_marker, vars),
            failure_markers,
            body: self.render("run.body", &r.body, vars),
        };

        let artifacts = raw
            .artifacts
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, a)| {
                let p = format!("artifacts[{i}]");
                self.non_empty(&format!("{p}.label"), &a.label);
                self.non_empty(&format!("{p}.remote_path"), &a.remote_path);
                self.non_empty(&format!("{p}.local_path"), &a.local_path);
                let local = self.render(&format!("{p}.local_path"), &a.local_path, vars);
                Artifact {
                    label: a.label.clone(),
                    remote_path: self.render(&format!("{p}.remote_path"), &a.remote_path, vars),
                    local_path: resolve_local(&local, project_root),
                    required: a.required,
                    excludes: self.render_all(&format!("{p}.excludes"), &a.excludes, vars),
                    delete: a.delete,
                }
            })
            .collect();

        Job {
            remote_env,
            setup,
            preflight,
            staging,
            secrets,
            run,
            artifacts,
        }
    }
}

/// `.rpd/<stem>.state.json` beside the config; with a templated `name`
/// (`demo-{seed}`), `.rpd/<stem>@<rendered name>.state.json`, so that shards
/// run with different `--var`s never share one state.
fn default_state_file(config: &Path, raw_name: &str, name: &str) -> PathBuf {
    let dir = config.parent().unwrap_or(Path::new(".")).join(".rpd");
    let stem = config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    if raw_name.contains('{') {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        dir.join(format!("{stem}@{safe}.state.json"))
    } else {
        dir.join(format!("{stem}.state.json"))
    }
}

pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if path == "~" => dirs::home_dir().unwrap_or_else(|| PathBuf::from("~")),
        _ => PathBuf::from(path),
    }
}

/// `~` expanded; relative paths are taken from `base`; `.`/`..` removed.
fn resolve_local(path: &str, base: &Path) -> PathBuf {
    let expanded = expand_home(path);
    let joined = if expanded.is_absolute() {
        expanded
    } else {
        base.join(expanded)
    };
    normalize(&joined)
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        normalize(path)
    } else {
        normalize(&std::env::current_dir().unwrap_or_default().join(path))
    }
}

fn normalize(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn is_python_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.first() == Some(&"3")
        && (parts.len() == 2 || parts.len() == 3)
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn is_octal_mode(mode: &str) -> bool {
    let digits = mode
        .strip_prefix('0')
        .filter(|d| d.len() == 3)
        .unwrap_or(mode);
    digits.len() == 3 && digits.chars().all(|c| ('0'..='7').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_versions() {
        assert!(is_python_version("3.13"));
        assert!(is_python_version("3.13.5"));
        assert!(!is_python_version("3.13rc1"));
        assert!(!is_python_version("2.7"));
        assert!(!is_python_version("3"));
    }

    #[test]
    fn octal_modes() {
        assert!(is_octal_mode("0600"));
        assert!(is_octal_mode("600"));
        assert!(is_octal_mode("0644"));
        assert!(!is_octal_mode("0800"));
        assert!(!is_octal_mode("00600"));
        assert!(!is_octal_mode("rw"));
    }
}
