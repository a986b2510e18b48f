//! What runpodctl prints: its JSON (re-encoded through Go maps, so keys are
//! sorted, 2-space indent, every `gpuTypeId` renamed `gpuId`, `<>&` escaped)
//! and its errors in the two shapes of v2.0-v2.7 and v2.8+.

use chrono::{DateTime, Utc};
use rpd::known;
use rpd::model::{PodStatus, Storage};
use rpd::provider::sim::store::SimPod;
use serde_json::{Map, Value, json};

use crate::Version;

/// `output.Print`: keys sorted at every depth and GPU keys renamed.
pub fn print(value: Value) -> String {
    fn normalize(value: Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(String, Value)> = map
                    .into_iter()
                    .map(|(k, v)| {
                        let k = match k.as_str() {
                            "gpuTypeId" => "gpuId".to_string(),
                            "gpuTypeIds" => "gpuIds".to_string(),
                            _ => k,
                        };
                        (k, normalize(v))
                    })
                    .collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(entries.into_iter().collect::<Map<_, _>>())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
            other => other,
        }
    }
    let text = serde_json::to_string_pretty(&normalize(value)).unwrap_or_default();
    // Go's encoder escapes these (they only occur inside strings).
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        + "\n"
}

fn at(v: Version, major: u32, minor: u32) -> bool {
    v >= Version {
        major,
        minor,
        patch: 0,
    }
}

/// REST v1's `desiredStatus`: a booting pod is already RUNNING.
pub fn desired_status(status: PodStatus) -> &'static str {
    match status {
        PodStatus::Provisioning | PodStatus::Starting | PodStatus::Running => "RUNNING",
        other => other.as_str(),
    }
}

/// v2.9+'s `runtimeStatus` and its reason: a pod whose image still pulls
/// reports no container yet (`initializing`), as a booting one does.
fn runtime_status(pod: &SimPod) -> (&'static str, Option<&'static str>) {
    if pod.pulling() {
        return ("initializing", Some("awaiting_container"));
    }
    match pod.status {
        PodStatus::Provisioning | PodStatus::Starting => {
            ("initializing", Some("awaiting_container"))
        }
        PodStatus::Running => ("running", None),
        PodStatus::Exited => ("stopped", Some("stopped_by_user")),
        PodStatus::Terminated => ("terminated", None),
        PodStatus::Error | PodStatus::Unknown => ("unknown", None),
    }
}

fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

/// Live REST v1 sends Go's `time.String()` layout.
fn go_time(text: &str) -> String {
    parse_time(text)
        .format("%Y-%m-%d %H:%M:%S%.3f +0000 UTC")
        .to_string()
}

fn status_change(pod: &SimPod) -> String {
    let how = if pod.status.is_active() {
        "Rented by User"
    } else {
        "Exited by User"
    };
    format!(
        "{how}: {}",
        parse_time(&pod.changed_at)
            .format("%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)")
    )
}

pub fn cost(pod: &SimPod) -> f64 {
    if pod.status.is_active() {
        pod.price_per_gpu_hr * f64::from(pod.gpu_count)
    } else {
        0.0
    }
}

/// The datacenter's country, as `machine.location` shows it.
pub fn location(datacenter_id: &str) -> String {
    let parts: Vec<&str> = datacenter_id.split('-').collect();
    match parts.as_slice() {
        ["EU" | "EUR" | "AP" | "OC", country, ..] => country.to_string(),
        [first, ..] => first.to_string(),
        [] => String::new(),
    }
}

/// A pod as REST v1 returns it (`pod get`, `pod start`, `pod stop`).
pub fn rest_pod(v: Version, pod: &SimPod, include_machine: bool) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("id".into(), json!(pod.id));
    out.insert("name".into(), json!(pod.name));
    out.insert("desiredStatus".into(), json!(desired_status(pod.status)));
    out.insert("createdAt".into(), json!(go_time(&pod.created_at)));
    out.insert("lastStatusChange".into(), json!(status_change(pod)));
    out.insert("imageName".into(), json!(pod.image));
    out.insert("gpuCount".into(), json!(pod.gpu_count));
    out.insert("containerDiskInGb".into(), json!(pod.container_disk_gb));
    if !pod.ports.is_empty() {
        out.insert("ports".into(), json!(pod.ports));
    }
    let cost = cost(pod);
    if cost > 0.0 {
        out.insert("costPerHr".into(), json!(cost));
    }
    match &pod.storage {
        Storage::Ephemeral { volume_gb, mount } => {
            out.insert("volumeInGb".into(), json!(volume_gb));
            out.insert("volumeMountPath".into(), json!(mount));
        }
        Storage::NetworkVolume {
            volume_id, mount, ..
        } => {
            out.insert("volumeInGb".into(), json!(0));
            out.insert("volumeMountPath".into(), json!(mount));
            // Dropped by runpodctl's Pod struct until v2.10.
            if at(v, 2, 10) {
                out.insert("networkVolumeId".into(), json!(volume_id));
            }
        }
    }
    if pod.status == PodStatus::Running {
        let up = (Utc::now() - parse_time(&pod.changed_at))
            .num_seconds()
            .max(0);
        out.insert("uptimeSeconds".into(), json!(up));
    }
    if at(v, 2, 9) {
        let (status, reason) = runtime_status(pod);
        out.insert("runtimeStatus".into(), json!(status));
        if let Some(r) = reason {
            out.insert("runtimeStatusReason".into(), json!(r));
        }
    }
    if include_machine {
        out.insert(
            "machine".into(),
            json!({
                "gpuTypeId": pod.gpu_id,
                "gpuDisplayName": known::display_name(&pod.gpu_id).unwrap_or(&pod.gpu_id),
                "dataCenterId": pod.datacenter_id,
                "location": location(&pod.datacenter_id),
                "secureCloud": pod.cloud_type == rpd::model::CloudType::Secure,
            }),
        );
    }
    out
}

/// `pod get`'s `ssh` block: the endpoint of a running pod, else the
/// not-ready form; a running container on a machine without a public IP
/// has 22 mapped where nobody outside can reach it (runpodctl v2.9+ says
/// so, `internal/sshconnect/notready.go`).
pub fn ssh_block(
    v: Version,
    pod: &SimPod,
    host: &str,
    port: u16,
    home: &str,
    public_ip: bool,
) -> Value {
    let no_public_22 = pod.status == PodStatus::Running && !pod.pulling() && !public_ip;
    if pod.status != PodStatus::Running || pod.pulling() || no_public_22 {
        let error = if !at(v, 2, 9) {
            "pod not ready".to_string()
        } else if no_public_22 {
            "pod not ready: port 22 is mapped but not publicly routable on this machine".into()
        } else {
            format!(
                "pod not ready: {}",
                runtime_status(pod).1.unwrap_or("unknown")
            )
        };
        return json!({
            "error": error,
            "id": pod.id,
            "name": pod.name,
            "status": desired_status(pod.status),
        });
    }
    json!({
        "id": pod.id,
        "name": pod.name,
        "ip": host,
        "port": port,
        "ssh_command": format!("ssh root@{host} -p {port}"),
        "ssh_key": {
            "path": format!("{home}/.runpod/ssh/runpodctl-ssh-key"),
            "exists": false,
            "source": "runpodctl doctor",
        },
        "setup": "runpodctl doctor",
    })
}

/// One `pod list` item.
pub fn list_item(v: Version, pod: &SimPod) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(pod.id));
    out.insert("name".into(), json!(pod.name));
    out.insert("desiredStatus".into(), json!(desired_status(pod.status)));
    out.insert("imageName".into(), json!(pod.image));
    out.insert("gpuCount".into(), json!(pod.gpu_count));
    let volume = match &pod.storage {
        Storage::Ephemeral { volume_gb, .. } => *volume_gb,
        Storage::NetworkVolume { .. } => 0,
    };
    out.insert("volumeInGb".into(), json!(volume));
    let cost = cost(pod);
    if cost > 0.0 {
        out.insert("costPerHr".into(), json!(cost));
    }
    out.insert(
        "createdAt".into(),
        json!(
            parse_time(&pod.created_at)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        ),
    );
    out.insert("lastStatusChange".into(), json!(status_change(pod)));
    if at(v, 2, 9) {
        let (status, reason) = runtime_status(pod);
        out.insert("runtimeStatus".into(), json!(status));
        if let Some(r) = reason {
            out.insert("runtimeStatusReason".into(), json!(r));
        }
    }
    Value::Object(out)
}

/// GPU `pod create`'s answer: GraphQL's selection, `env` as `K=V` strings
/// and `ports` as the comma-separated string that was sent.
pub fn created(pod: &SimPod, env: &[(String, String)], ports: &str) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(pod.id));
    out.insert("name".into(), json!(pod.name));
    out.insert("desiredStatus".into(), json!("RUNNING"));
    out.insert("imageName".into(), json!(pod.image));
    out.insert("gpuCount".into(), json!(pod.gpu_count));
    out.insert("costPerHr".into(), json!(cost(pod)));
    out.insert("containerDiskInGb".into(), json!(pod.container_disk_gb));
    out.insert("lastStatusChange".into(), json!(status_change(pod)));
    let (volume, mount) = match &pod.storage {
        Storage::Ephemeral { volume_gb, mount } => (*volume_gb, mount),
        Storage::NetworkVolume { mount, .. } => (0, mount),
    };
    out.insert("volumeInGb".into(), json!(volume));
    out.insert("volumeMountPath".into(), json!(mount));
    if !ports.is_empty() {
        out.insert("ports".into(), json!(ports));
    }
    if !env.is_empty() {
        let list: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.insert("env".into(), json!(list));
    }
    out.insert(
        "machine".into(),
        json!({
            "gpuDisplayName": known::display_name(&pod.gpu_id).unwrap_or(&pod.gpu_id),
            "location": location(&pod.datacenter_id),
        }),
    );
    Value::Object(out)
}

/// A failure, before it is printed in the version's shape.
#[derive(Debug)]
pub enum Failure {
    /// Bad flags or arguments: the message, then usage text.
    Usage { message: String, usage: String },
    /// A REST v1 error answer: `status` and the body's `error`.
    Rest {
        action: &'static str,
        status: u16,
        message: String,
    },
    /// A GraphQL error message (HTTP 200, `errors[0].message`).
    GraphQl {
        action: &'static str,
        message: String,
        usage: Option<String>,
    },
    /// A local failure (validation, missing key).
    Local {
        action: Option<&'static str>,
        message: String,
        code: &'static str,
        usage: Option<String>,
    },
}

fn code_for_status(status: u16) -> &'static str {
    match status {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        429 => "rate_limited",
        500..=599 => "server_error",
        _ => "api_error",
    }
}

/// v2.0-v2.7 wrote `{"error":"%s"}` without escaping.
fn go_unescaped(message: &str) -> String {
    format!("{{\"error\":\"{message}\"}}\n")
}

fn flat(message: &str, code: &str, status: Option<u16>) -> String {
    let mut obj = Map::new();
    obj.insert("error".into(), json!(message));
    obj.insert("code".into(), json!(code));
    if let Some(s) = status {
        obj.insert("status".into(), json!(s));
    }
    serde_json::to_string(&Value::Object(obj)).unwrap_or_default() + "\n"
}

/// stderr for a failure, in the shape of version `v`.
pub fn failure(v: Version, failure: &Failure) -> String {
    let new = at(v, 2, 8);
    match failure {
        Failure::Usage { message, usage } => {
            let line = if new {
                flat(message, "usage_error", None)
            } else {
                go_unescaped(message)
            };
            line + usage
        }
        Failure::Rest {
            action,
            status,
            message,
        } => {
            if new {
                flat(
                    &format!("failed to {action}: {message}"),
                    code_for_status(*status),
                    Some(*status),
                )
            } else {
                let body = format!("{{\"error\":\"{message}\",\"status\":{status}}}");
                let inner = format!("api error: {body} (status {status})");
                go_unescaped(&inner) + &go_unescaped(&format!("failed to {action}: {inner}"))
            }
        }
        Failure::GraphQl {
            action,
            message,
            usage,
        } => {
            if new {
                flat(
                    &format!("failed to {action}: graphql error: {message}"),
                    "graphql_error",
                    None,
                )
            } else {
                go_unescaped(message)
                    + &go_unescaped(&format!("failed to {action}: {message}"))
                    + usage.as_deref().unwrap_or("")
            }
        }
        Failure::Local {
            action,
            message,
            code,
            usage,
        } => {
            let wrapped = match action {
                Some(a) => format!("failed to {a}: {message}"),
                None => message.clone(),
            };
            if new {
                flat(&wrapped, code, None)
            } else {
                go_unescaped(message) + &go_unescaped(&wrapped) + usage.as_deref().unwrap_or("")
            }
        }
    }
}
