//! runpodctl's JSON output → rpd's model.
//!
//! Pods come in two shapes: `pod create` (GPU) prints GraphQL's selection
//! (`env` a list of `K=V`, `ports` a comma-separated string), `pod get` and
//! `pod list` print REST's (`env` an object, `ports` a list); rpd reads no
//! `env`, so both shapes pass. runpodctl
//! renames every `gpuTypeId` key to `gpuId` and drops zero values
//! (`costPerHr` is absent when 0). The GPU and datacenter of a pod are only
//! in `machine`, and only with `--include-machine`. Anything odd is an error
//! naming the field, never a panic and never a guess.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use crate::known;
use crate::model::{
    Access, CloudType, NetworkVolume, ObservedPod, PodSpec, PodStatus, SshEndpoint, Stock, Storage,
};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{what}: {problem}")]
pub struct ParseError {
    pub what: String,
    pub problem: String,
}

fn err(what: &str, problem: impl Into<String>) -> ParseError {
    ParseError {
        what: what.to_string(),
        problem: problem.into(),
    }
}

/// stdout as one JSON document.
pub fn json(what: &str, stdout: &str) -> Result<Value, ParseError> {
    serde_json::from_str(stdout.trim()).map_err(|e| {
        let shown: String = stdout.trim().chars().take(200).collect();
        err(
            what,
            format!("printed output that is not JSON ({e}): {shown:?}; is this runpodctl v2 with `-o json`?"),
        )
    })
}

fn object<'a>(what: &str, value: &'a Value) -> Result<&'a Map<String, Value>, ParseError> {
    value
        .as_object()
        .ok_or_else(|| err(what, format!("expected a JSON object, got {}", kind(value))))
}

fn array<'a>(what: &str, value: &'a Value) -> Result<&'a Vec<Value>, ParseError> {
    value
        .as_array()
        .ok_or_else(|| err(what, format!("expected a JSON array, got {}", kind(value))))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An optional string field; present with another type is an error.
fn text(what: &str, obj: &Map<String, Value>, key: &str) -> Result<Option<String>, ParseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(err(
            what,
            format!("`{key}` is {}, expected a string", kind(other)),
        )),
    }
}

fn count(what: &str, obj: &Map<String, Value>, key: &str) -> Result<Option<u32>, ParseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| err(what, format!("`{key}` is {n}, expected a whole number"))),
        Some(other) => Err(err(
            what,
            format!("`{key}` is {}, expected a number", kind(other)),
        )),
    }
}

fn money(what: &str, obj: &Map<String, Value>, key: &str) -> Result<Option<f64>, ParseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(err(
            what,
            format!("`{key}` is {}, expected a number", kind(other)),
        )),
    }
}

/// `createdAt` as RFC 3339, or Go's `time.String()` layout that live REST v1
/// sends (`2026-08-20 06:16:19.436 +0000 UTC`); other text is kept as is.
pub fn created_at(raw: &str) -> String {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return t.with_timezone(&Utc).to_rfc3339();
    }
    // Go's layout ends with the zone abbreviation, which chrono cannot parse:
    // the numeric offset before it says everything.
    let without_zone = raw.rsplit_once(' ').map_or(raw, |(head, _)| head);
    if let Ok(t) = DateTime::parse_from_str(without_zone, "%Y-%m-%d %H:%M:%S%.f %z") {
        return t.with_timezone(&Utc).to_rfc3339();
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f") {
        return t.and_utc().to_rfc3339();
    }
    raw.to_string()
}

/// The status to act on: `runtimeStatus` (v2.9+) when it says something,
/// else `desiredStatus` (which says RUNNING while the image still pulls).
fn status(what: &str, obj: &Map<String, Value>) -> Result<PodStatus, ParseError> {
    let desired = text(what, obj, "desiredStatus")?;
    let runtime = text(what, obj, "runtimeStatus")?;
    let from_runtime = match runtime.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("running") => Some(PodStatus::Running),
        Some("initializing") => Some(PodStatus::Starting),
        Some("stopped") => Some(PodStatus::Exited),
        Some("terminated") => Some(PodStatus::Terminated),
        // "unknown" means the lookup failed, not that the pod is down.
        _ => None,
    };
    if let Some(s) = from_runtime {
        return Ok(s);
    }
    match desired {
        // A status rpd does not know: shown as it is, never acted on (one
        // such pod must not make a whole list unreadable).
        Some(d) => Ok(PodStatus::parse(&d).unwrap_or(PodStatus::Unknown)),
        None => Err(err(what, "has neither `desiredStatus` nor `runtimeStatus`")),
    }
}

/// `ports`: a list (REST) or one comma-separated string (GraphQL); sorted
/// and de-duplicated like the config's, so order never shows as drift.
fn ports(what: &str, obj: &Map<String, Value>) -> Result<Option<Vec<String>>, ParseError> {
    let mut list: Vec<String> = match obj.get("ports") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|p| {
                p.as_str().map(|s| s.trim().to_string()).ok_or_else(|| {
                    err(what, format!("`ports` holds {}, expected strings", kind(p)))
                })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(err(what, format!("`ports` is {}", kind(other)))),
    };
    list.retain(|p| !p.is_empty());
    list.sort();
    list.dedup();
    Ok(Some(list))
}

/// The `ssh` block of `pod get`: an endpoint only when it has an ip and a
/// port; `{"error":"pod not ready",...}` and `{"error":"ssh info
/// unavailable"}` mean no way in yet.
fn ssh(obj: &Map<String, Value>) -> Option<SshEndpoint> {
    let block = obj.get("ssh")?.as_object()?;
    if block.contains_key("error") {
        return None;
    }
    let host = block.get("ip")?.as_str().filter(|ip| !ip.is_empty())?;
    let port = block
        .get("port")?
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)?;
    Some(SshEndpoint {
        host: host.to_string(),
        port,
        user: "root".to_string(),
    })
}

/// runpodctl's words (v2.9+, `internal/sshconnect/notready.go`) for a
/// running container whose 22 is mapped on an address nobody outside can
/// reach: a machine with no public IP.
pub const NOT_PUBLICLY_ROUTABLE: &str = "not publicly routable";

/// Why the `ssh` block has no endpoint (`pod not ready: ...`), lowercased.
fn ssh_unavailable(obj: &Map<String, Value>) -> Option<String> {
    let block = obj.get("ssh")?.as_object()?;
    Some(block.get("error")?.as_str()?.to_ascii_lowercase())
}

/// Persistent storage, when the output says it unambiguously: a volume disk
/// with its mount. A network volume's name is not in runpodctl's output, so
/// such a pod's storage stays unknown rather than showing as a change.
fn storage(what: &str, obj: &Map<String, Value>) -> Result<Option<Storage>, ParseError> {
    let network = text(what, obj, "networkVolumeId")?.filter(|id| !id.is_empty());
    let volume_gb = count(what, obj, "volumeInGb")?.unwrap_or(0);
    let mount = text(what, obj, "volumeMountPath")?;
    Ok(match (network, mount) {
        (None, Some(mount)) if volume_gb > 0 => Some(Storage::Ephemeral { volume_gb, mount }),
        _ => None,
    })
}

/// One pod in either shape.
pub fn pod(value: &Value) -> Result<ObservedPod, ParseError> {
    let obj = object("pod", value)?;
    let id = text("pod", obj, "id")?
        .filter(|id| !id.is_empty())
        .ok_or_else(|| err("pod", "has no `id`"))?;
    let what = format!("pod {id}");
    let what = what.as_str();
    let machine = match obj.get("machine") {
        None | Some(Value::Null) => Map::new(),
        Some(m) => object(&format!("{what} machine"), m)?.clone(),
    };
    let status = status(what, obj)?;
    let gpu_id = match text(what, obj, "gpuId")?.filter(|g| !g.is_empty()) {
        Some(g) => Some(g),
        None => text(what, &machine, "gpuId")?.filter(|g| !g.is_empty()),
    };
    let cloud_type = match machine.get("secureCloud") {
        Some(Value::Bool(true)) => Some(CloudType::Secure),
        Some(Value::Bool(false)) => Some(CloudType::Community),
        _ => None,
    };
    let cost = money(what, obj, "costPerHr")?;
    // Absent means 0 (omitempty), which is only believable when not billing.
    let cost_per_hr = cost.or((!status.is_active()).then_some(0.0));
    let access = (status == PodStatus::Running)
        .then(|| ssh(obj))
        .flatten()
        .map(Access::Ssh);
    let direct = access.is_some();
    Ok(ObservedPod {
        name: text(what, obj, "name")?.unwrap_or_default(),
        status,
        spec: PodSpec {
            image: text(what, obj, "imageName")?.filter(|i| !i.is_empty()),
            gpu_id,
            gpu_count: count(what, obj, "gpuCount")?,
            datacenter_id: text(what, &machine, "dataCenterId")?.filter(|d| !d.is_empty()),
            cloud_type,
            container_disk_gb: count(what, obj, "containerDiskInGb")?,
            storage: storage(what, obj)?,
            ports: ports(what, obj)?,
        },
        cost_per_hr,
        access,
        // runpodctl prints no proxy endpoint, but a running pod without a
        // direct one has RunPod's proxy (as REST v2's `ssh.proxy` says);
        // from v2.9 the `ssh` block's error says why there is no direct
        // one, and "not publicly routable" is a machine without a public
        // IP, not a pod still starting.
        ssh_proxy: status == PodStatus::Running && !direct,
        no_public_ssh: status == PodStatus::Running
            && !direct
            && ssh_unavailable(obj).is_some_and(|why| why.contains(NOT_PUBLICLY_ROUTABLE)),
        status_text: (status == PodStatus::Unknown)
            .then(|| text(what, obj, "desiredStatus").ok().flatten())
            .flatten(),
        actions: None,
        created_at: text(what, obj, "createdAt")?.map(|t| created_at(&t)),
        changed_at: None,
        id,
    })
}

/// `pod list -o json`: an array of pods.
pub fn pods(value: &Value) -> Result<Vec<ObservedPod>, ParseError> {
    array("pod list", value)?.iter().map(pod).collect()
}

fn stock(status: Option<&str>) -> Stock {
    match status.map(str::to_ascii_lowercase).as_deref() {
        Some("high") => Stock::High,
        Some("medium") => Stock::Medium,
        Some("low") => Stock::Low,
        // runpodctl itself counts an empty status as "not available".
        Some("none") | Some("") | None => Stock::None,
        Some(_) => Stock::Unknown,
    }
}

/// `datacenter list -o json`: stock per datacenter and GPU. A GPU missing
/// from a listed datacenter has none there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Datacenters {
    pub stock: BTreeMap<String, Vec<(String, Stock)>>,
}

impl Datacenters {
    /// `Unknown` for a datacenter runpodctl did not list.
    pub fn stock(&self, datacenter_id: &str, gpu_id: &str) -> Stock {
        match self.stock.get(datacenter_id) {
            None => Stock::Unknown,
            Some(gpus) => gpus
                .iter()
                .find(|(g, _)| known::same_gpu(g, gpu_id))
                .map_or(Stock::None, |(_, s)| *s),
        }
    }
}

pub fn datacenters(value: &Value) -> Result<Datacenters, ParseError> {
    let mut out = Datacenters::default();
    for item in array("datacenter list", value)? {
        let dc = object("datacenter list item", item)?;
        let id = text("datacenter", dc, "id")?
            .ok_or_else(|| err("datacenter list item", "has no `id`"))?;
        let what = format!("datacenter {id}");
        let mut gpus = Vec::new();
        if let Some(list) = dc.get("gpuAvailability").filter(|v| !v.is_null()) {
            for entry in array(&what, list)? {
                let entry = object(&what, entry)?;
                let gpu = text(&what, entry, "gpuId")?
                    .ok_or_else(|| err(&what, "a gpuAvailability entry has no `gpuId`"))?;
                gpus.push((gpu, stock(text(&what, entry, "stockStatus")?.as_deref())));
            }
        }
        out.stock.insert(id, gpus);
    }
    Ok(out)
}

/// `gpu list -o json`: $/hr per GPU and cloud (v2.8+; older builds print
/// no prices, and a cloud that does not offer the GPU has `null`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuPrices {
    /// (gpu id, secure, community)
    pub prices: Vec<(String, Option<f64>, Option<f64>)>,
    /// Whether any entry carried a price field at all.
    pub has_price_fields: bool,
}

impl GpuPrices {
    pub fn price(&self, gpu_id: &str, cloud: CloudType) -> Option<f64> {
        self.prices
            .iter()
            .find(|(g, ..)| known::same_gpu(g, gpu_id))
            .and_then(|(_, secure, community)| match cloud {
                CloudType::Secure => *secure,
                CloudType::Community => *community,
            })
    }
}

pub fn gpu_prices(value: &Value) -> Result<GpuPrices, ParseError> {
    let mut out = GpuPrices::default();
    for item in array("gpu list", value)? {
        let gpu = object("gpu list item", item)?;
        let id = text("gpu list item", gpu, "gpuId")?
            .ok_or_else(|| err("gpu list item", "has no `gpuId`"))?;
        let what = format!("gpu {id}");
        out.has_price_fields |=
            gpu.contains_key("securePricePerHr") || gpu.contains_key("communityPricePerHr");
        let offered = |key: &str| !matches!(gpu.get(key), Some(Value::Bool(false)));
        let secure = money(&what, gpu, "securePricePerHr")?.filter(|_| offered("secureCloud"));
        let community =
            money(&what, gpu, "communityPricePerHr")?.filter(|_| offered("communityCloud"));
        out.prices.push((id, secure, community));
    }
    Ok(out)
}

pub fn network_volumes(value: &Value) -> Result<Vec<NetworkVolume>, ParseError> {
    array("network-volume list", value)?
        .iter()
        .map(|item| {
            let v = object("network volume", item)?;
            let id = text("network volume", v, "id")?
                .ok_or_else(|| err("network volume", "has no `id`"))?;
            let what = format!("network volume {id}");
            Ok(NetworkVolume {
                name: text(&what, v, "name")?.unwrap_or_default(),
                datacenter_id: text(&what, v, "dataCenterId")?
                    .ok_or_else(|| err(&what, "has no `dataCenterId`"))?,
                id,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
