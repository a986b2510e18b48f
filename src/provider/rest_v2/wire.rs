//! The JSON shapes of RunPod's REST v2 API (openapi-v2.json), as rpd sends
//! and reads them.
//!
//! Requests are exact: `CreatePodRequest` has `unevaluatedProperties: false`,
//! so every key sent here is one the spec defines. Responses are read
//! leniently: an optional field of an unexpected type reads as absent
//! instead of failing the whole answer; only the fields rpd cannot do without
//! (`id`, `name`, `status`) are required.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// `POST /v2/pods` body (`CreatePodRequest`), only the keys rpd uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePodBody {
    pub name: String,
    pub image: String,
    pub gpu: CreateGpu,
    pub cloud: String,
    pub data_center_ids: Vec<String>,
    pub disk: u32,
    pub ports: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    pub start_ssh: bool,
    pub mounts: Mounts,
}

/// `gpu` of a create. `count` is always sent: the spec defaults it to 1, but
/// a create without it matches no machine and fails as "no instances".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateGpu {
    pub id: String,
    pub count: u32,
}

/// `mounts`: at most one of the two kinds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mounts {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub persistent: Option<PersistentMount>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub network: Option<Vec<NetworkMount>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersistentMount {
    pub size: u32,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkMount {
    pub volume_id: String,
    pub path: String,
}

/// `PATCH /v2/pods/{id}` body (`UpdatePodRequest`): only the fields that
/// change, so that nothing else of the pod is touched.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UpdatePodBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Mounts>,
}

/// `POST /v2/pods/{id}/action` body.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ActionBody {
    pub action: &'static str,
}

/// A pod as `GET /v2/pods/{id}`, `GET /v2/pods` and `POST /v2/pods` return it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    pub id: String,
    pub name: String,
    /// Kept as text so that an unknown status is reported with its value;
    /// a missing or null one is unknown too (one such pod must not make a
    /// whole list unreadable).
    #[serde(default, deserialize_with = "lenient")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub actions: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient")]
    pub image: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub gpu: Option<PodGpu>,
    #[serde(default, deserialize_with = "lenient")]
    pub data_center_id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub cloud: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub disk: Option<u32>,
    #[serde(default, deserialize_with = "lenient")]
    pub mounts: Option<Mounts>,
    #[serde(default, deserialize_with = "lenient")]
    pub ports: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient")]
    pub cost: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub ssh: Option<PodSsh>,
    #[serde(default, deserialize_with = "lenient")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub started_at: Option<String>,
    /// Null until the container runs (a pod reads RUNNING while its image
    /// still pulls, with no runtime).
    #[serde(default, deserialize_with = "lenient")]
    pub runtime: Option<PodRuntime>,
}

/// `runtime`: only its port mappings are read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PodRuntime {
    #[serde(default, deserialize_with = "lenient")]
    pub ports: Option<Vec<RuntimePort>>,
}

/// One of `runtime.ports` (`PodRuntimePort`): every field may be missing.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RuntimePort {
    #[serde(default, deserialize_with = "lenient")]
    pub private: Option<u32>,
    #[serde(default, deserialize_with = "lenient")]
    pub public: Option<u32>,
    #[serde(default, deserialize_with = "lenient", rename = "type")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PodGpu {
    pub id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub count: Option<u32>,
}

/// `ssh`: `proxy` (interactive only, useless for rsync) and `direct`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PodSsh {
    #[serde(default, deserialize_with = "lenient")]
    pub direct: Option<SshEndpoint>,
    #[serde(default, deserialize_with = "lenient")]
    pub proxy: Option<SshEndpoint>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SshEndpoint {
    pub host: String,
    pub port: u16,
    #[serde(default, deserialize_with = "lenient")]
    pub username: Option<String>,
}

/// `GET /v2/pods`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ListPods {
    pub pods: Vec<Pod>,
    #[serde(flatten)]
    pub page: Page,
}

/// Where a list answer says its next page starts. The spec has no
/// pagination today; RunPod's list answers are read as if they might carry
/// a `nextCursor` (at the top or under `pagination`), so that a page
/// added later is followed rather than missed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    #[serde(default, deserialize_with = "lenient")]
    pub next_cursor: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub pagination: Option<Pagination>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    #[serde(default, deserialize_with = "lenient")]
    pub next_cursor: Option<String>,
}

impl Page {
    /// The cursor of the next page; none (or a blank one) on the last.
    pub fn next(&self) -> Option<&str> {
        let nested = self
            .pagination
            .as_ref()
            .and_then(|p| p.next_cursor.as_deref());
        self.next_cursor
            .as_deref()
            .or(nested)
            .filter(|c| !c.trim().is_empty())
    }
}

/// `GET /v2/catalog/gpus`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ListGpuTypes {
    pub gpus: Vec<GpuType>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GpuType {
    pub id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub secure: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub community: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub price: Option<GpuPrice>,
    /// Overall availability (`NONE`..`HIGH`), with `include=AVAILABILITY`.
    #[serde(default, deserialize_with = "lenient")]
    pub availability: Option<String>,
    /// Per datacenter; lists only those that offer the GPU, and is omitted
    /// when none does.
    #[serde(default, deserialize_with = "lenient")]
    pub data_centers: Option<Vec<DataCenterAvailability>>,
    /// The most GPUs of this type one pod can have, per cloud.
    #[serde(default, deserialize_with = "lenient")]
    pub max_count: Option<PerCloud>,
}

/// A count quoted separately for each cloud.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PerCloud {
    #[serde(default, deserialize_with = "lenient")]
    pub secure: Option<u32>,
    #[serde(default, deserialize_with = "lenient")]
    pub community: Option<u32>,
}

/// `GET /v2/account/ssh-keys`: authorized_keys lines.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SshKeys {
    pub keys: Vec<String>,
}

/// `GET /v2/catalog/datacenters`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListDataCenters {
    pub data_centers: Vec<DataCenter>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DataCenter {
    pub id: String,
}

/// $/hr for one GPU of the type.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GpuPrice {
    #[serde(default, deserialize_with = "lenient")]
    pub secure: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub community: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DataCenterAvailability {
    pub id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub availability: Option<String>,
}

/// `GET /v2/network-volumes`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListNetworkVolumes {
    pub network_volumes: Vec<NetworkVolume>,
    #[serde(flatten)]
    pub page: Page,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkVolume {
    pub id: String,
    pub name: String,
    #[serde(default, deserialize_with = "lenient")]
    pub data_center: Option<String>,
}

/// An `application/problem+json` error (RFC 9457) as RunPod sends it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Problem {
    #[serde(default, deserialize_with = "lenient")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub status: Option<u16>,
    #[serde(default, deserialize_with = "lenient")]
    pub detail: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub errors: Option<Vec<String>>,
}

/// Reads an optional field; a value of the wrong shape (or null) is absent.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

/// Parses a response body, naming the field that could not be read.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        if path == "." {
            err.into_inner().to_string()
        } else {
            format!("field `{path}`: {}", err.into_inner())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_page_names_its_successor_at_the_top_or_under_pagination() {
        let page = |text: &str| parse::<ListPods>(text.as_bytes()).unwrap().page;
        assert_eq!(page(r#"{"pods": []}"#).next(), None);
        assert_eq!(
            page(r#"{"pods": [], "nextCursor": "abc"}"#).next(),
            Some("abc")
        );
        assert_eq!(
            page(r#"{"pods": [], "pagination": {"nextCursor": "p2"}}"#).next(),
            Some("p2")
        );
        for last in [
            r#"{"pods": [], "nextCursor": null}"#,
            r#"{"pods": [], "nextCursor": ""}"#,
            r#"{"pods": [], "pagination": {"nextCursor": null, "hasMore": false}}"#,
            r#"{"pods": [], "pagination": 7}"#,
        ] {
            assert_eq!(page(last).next(), None, "{last}");
        }
    }
}
