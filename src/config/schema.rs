//! The config format as a JSON Schema (`rpd schema config`), for editors:
//! yaml-language-server offers completion and hover docs from it. It says
//! what the loader checks key by key (types, allowed words, absolute paths,
//! ranges); checks across keys that a schema cannot say (a timeout that
//! exceeds the cost cap, unknown template variables) stay the loader's.
//! Every key of `raw.rs` is here: tests check the fixtures against it.

use serde_json::{Value, json};

fn text(doc: &str) -> Value {
    json!({"type": "string", "description": doc})
}

fn maybe(kind: &str, doc: &str) -> Value {
    json!({"type": [kind, "null"], "description": doc})
}

fn flag(doc: &str) -> Value {
    json!({"type": "boolean", "description": doc})
}

fn texts(doc: &str) -> Value {
    json!({"type": "array", "items": {"type": "string"}, "description": doc})
}

/// A whole number the loader keeps in 32 bits.
fn count(minimum: i64, doc: &str) -> Value {
    json!({"type": ["integer", "null"], "minimum": minimum, "maximum": u32::MAX, "description": doc})
}

/// A path on the pod: absolute, or starting with a template such as
/// `{volume_mount}`.
fn pod_path(doc: &str) -> Value {
    json!({"type": "string", "pattern": "^[/{]", "description": doc})
}

fn object(doc: &str, properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "description": doc,
        "additionalProperties": false,
        "properties": properties,
        "required": required,
    })
}

fn command(doc: &str) -> Value {
    json!({
        "type": ["array", "null"],
        "description": doc,
        "items": object("One command.", json!({
            "command": text("The shell command, run on the pod."),
            "timeout_sec": count(1, "Seconds before it is stopped."),
            "with_env": flag("Run it with remote_env's exports and source files."),
        }), &["command"]),
    })
}

pub fn config_schema() -> Value {
    let lifecycle_action = |doc: &str, allowed: &[&str]| json!({"type": ["string", "null"], "enum": allowed.iter().map(|a| Value::from(*a)).chain([Value::Null]).collect::<Vec<_>>(), "description": doc});
    let properties = json!({
        "schema_version": {"const": 2, "description": "runpod-deploy's schema version; rpd reads 2."},
        "name": text("The job's name (templates allowed); names the pod, the state file and the run directories."),
        "run_id_prefix": maybe("string", "The prefix of pod names and run ids (default: the name)."),
        "state_file": maybe("string", "Where this config's state is kept (rendered, ~ expanded, relative to the config); default .rpd/<config name>.state.json."),
        "variables": {
            "type": "object",
            "description": "Template variables: `{name}` in other values is replaced; --vars-file and --var override them.",
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "maxLength": 1024},
            "additionalProperties": {"type": "string"},
        },
        "local": object("This machine's side.", json!({
            "project_root": maybe("string", "The project's root (artifacts/runpod/ runs go under it); default: the config's directory."),
            "required_paths": texts("Local paths that must exist before a pod is made."),
        }), &[]),
        "pod": object("The pod to run the job on.", json!({
            "image": {
                "type": "string",
                // No whitespace, and a `:` is followed by a tag.
                "pattern": "^[^\\s]*[^\\s:]$",
                "description": "The container image, e.g. runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404; changing it replaces the pod.",
            },
            "datacenters": texts("Datacenters to try, in order (e.g. EU-RO-1); a pod in any of them is kept."),
            "gpu_order": texts("GPU types to try within each datacenter, in order; a pod on any of them is kept."),
            "cloud_type": {"type": ["string", "null"], "enum": ["SECURE", "COMMUNITY", "ALL", null], "description": "SECURE (default), COMMUNITY, or ALL (SECURE candidates first, then the same places on COMMUNITY)."},
            "ports": {"type": ["array", "null"], "items": {"type": "string", "pattern": "^[0-9]+/(tcp|http)$"}, "description": "Exposed ports like 8888/http; 22/tcp is always added."},
            "container_disk_gb": count(1, "Container disk in GB (wiped when the pod stops)."),
            "gpu_count": count(1, "GPUs per pod."),
            "spot": flag("Interruptible (spot) pricing, where the provider supports it."),
            "min_vcpu_count": count(1, "Minimum vCPUs, where the provider supports it."),
            "min_memory_gb": count(1, "Minimum memory in GB, where the provider supports it."),
            "python_version": {"type": ["string", "null"], "pattern": "^[0-9]+\\.[0-9]+(\\.[0-9]+)?$", "description": "Checked on the pod before the job, like '3.12'."},
        }), &["image", "datacenters", "gpu_order"]),
        "storage": {
            "type": "object",
            "description": "The pod's persistent disk.",
            "additionalProperties": false,
            "properties": {
                "mode": {"enum": ["ephemeral", "network_volume"], "description": "ephemeral: a volume disk that lives with the pod (kept across stop/start); network_volume: one that outlives it."},
                "volume_mount": {"type": ["string", "null"], "pattern": "^/", "description": "Where the volume is mounted (absolute; default /workspace)."},
                "volume_name": maybe("string", "The network volume's name (network_volume)."),
                "volume_gb": count(1, "The volume disk's size in GB (ephemeral)."),
            },
            "required": ["mode"],
            "allOf": [
                {"if": {"properties": {"mode": {"const": "ephemeral"}}}, "then": {"required": ["volume_gb"], "properties": {"volume_gb": {"type": "integer"}}}},
                {"if": {"properties": {"mode": {"const": "network_volume"}}}, "then": {"required": ["volume_name"], "properties": {"volume_name": {"type": "string"}}}},
            ],
        },
        "ssh": object("How rpd reaches a real pod.", json!({
            "key_path": maybe("string", "The private key registered with RunPod (default ~/.ssh/id_ed25519)."),
        }), &[]),
        "budget": object("Limits of one run.", json!({
            "cost_cap_usd": {"type": ["number", "null"], "exclusiveMinimum": 0, "description": "Stop the job once it has cost this much."},
            "assumed_hourly_rate_usd": {"type": ["number", "null"], "exclusiveMinimum": 0, "description": "$/hr to count with when the provider reports no price."},
            "max_runtime_minutes": count(1, "Stop the job after this many minutes."),
            "poll_interval_sec": count(1, "Accepted for runpod-deploy; rpd follows the log continuously."),
            "ssh_ready_timeout_sec": count(1, "How long to wait for the pod to run and answer."),
        }), &[]),
        "remote_env": object("The environment of with_env commands.", json!({
            "source_files": texts("Files sourced first."),
            "exports": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Variables exported."},
        }), &[]),
        "setup": command("Commands run before the job, in order (again after a resume: the container disk was wiped)."),
        "preflight": command("Checks run right before the job."),
        "staging": {
            "type": ["array", "null"],
            "description": "Local directories pushed to the pod with rsync before the job.",
            "items": object("One push.", json!({
                "label": text("A name for it in the output."),
                "source": text("The local path (relative to the config)."),
                "destination": pod_path("Where on the pod: an absolute path, or one starting with a template such as {volume_mount}."),
                "excludes": texts("rsync excludes."),
                "excludes_default": flag("Add runpod-deploy's default excludes (.git, caches, ...)."),
                "excludes_extra": texts("More excludes."),
                "delete": flag("Delete files on the pod that are gone here (default true)."),
            }), &["label", "source", "destination"]),
        },
        "secrets": {
            "type": ["array", "null"],
            "description": "Files written on the pod from local environment variables or files; values never shown.",
            "items": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "name": text("A name for it in the output."),
                    "destination": text("Where on the pod."),
                    "env": texts("Environment variables written as NAME=value lines."),
                    "file": maybe("string", "A local file copied."),
                    "mode": {"type": ["string", "null"], "pattern": "^[0-7]{3,4}$", "description": "Octal file mode (default 0600)."},
                },
                "required": ["name", "destination"],
                "not": {"required": ["env", "file"], "properties": {"env": {"minItems": 1}, "file": {"type": "string"}}},
            },
        },
        "run": object("The job's script.", json!({
            "script_path": pod_path("Where the script is written on the pod."),
            "log_path": pod_path("Where its output goes on the pod."),
            "success_marker": text("A line the script prints when it succeeded."),
            "failure_markers": {"type": ["array", "null"], "items": {"type": "string"}, "description": "Lines that mean failure (unless the script then exits 0 with the success marker)."},
            "body": text("The script (bash)."),
        }), &["script_path", "log_path", "success_marker", "body"]),
        "artifacts": {
            "type": ["array", "null"],
            "description": "Pulled from the pod after the job.",
            "items": object("One artifact.", json!({
                "label": text("A name for it in the output."),
                "remote_path": text("Where on the pod."),
                "local_path": text("Where here (relative to the project root)."),
                "required": flag("A missing one fails a successful job (default true)."),
                "excludes": texts("rsync excludes."),
                "delete": flag("Delete local files that are gone on the pod (default true)."),
            }), &["label", "remote_path", "local_path"]),
        },
        "lifecycle": object("What happens to the pod after the job.", json!({
            "on_success": lifecycle_action("recycle: stop and resume next time; stop: keep for forensics; delete; preserve: leave running (it bills).", &["recycle", "stop", "delete", "preserve"]),
            "on_failure": lifecycle_action("stop (default), delete or preserve; not recycle.", &["stop", "delete", "preserve"]),
            "on_busy_host": lifecycle_action("When a paused pod's host has no free GPU: wait (default), recreate or fail.", &["wait", "recreate", "fail"]),
            "unattended_stop_after_sec": count(1, "Seconds after the job ends before the pod's guard stops a pod no rpd is attached to (default 600)."),
        }), &[]),
        "telemetry": object("What the run records about the pod, in the run directory (sampled on the pod; each capture best effort).", json!({
            "enabled": flag("Sample metrics.jsonl on the pod and take the captures below (default true)."),
            "sample_interval_sec": count(5, "Seconds between two lines of metrics.jsonl (default 30; RPD_SAMPLE_INTERVAL_MS overrides it)."),
            "capture_nvidia_smi": flag("nvidia-smi at the job's start and end: nvidia_smi_start.txt, nvidia_smi_end.txt."),
            "capture_dmesg": flag("The last 200 lines of dmesg at the job's end: dmesg_tail.txt."),
            "capture_pod_describe": flag("The provider's description of the pod at the job's start and end: pod_describe_start.json, pod_describe_end.json."),
            "capture_remote_env": flag("uname -a and python --version (remote_env.json) and pip freeze (pip_freeze.txt) at the job's start."),
            "capture_local_git": flag("This repository's git state."),
            "capture_payload_lockfile": flag("The payload's lock file."),
        }), &[]),
    });
    let mut schema = object(
        "An rpd config: runpod-deploy's schema_version 2 (https://github.com/brandon-behring/runpod-deploy).",
        properties,
        &["name", "pod", "storage", "run"],
    );
    schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    schema["title"] = json!("rpd config");
    schema
}
