//! `--provider runpod`: RunPod's REST v2 API over HTTPS (`/v2/...`).
//!
//! A translator only: requests from rpd's model (`convert`), answers read
//! leniently (`wire`), failures classified for apply (`errors`), retries
//! where they cannot duplicate anything (`client`). Money safety: a create
//! is retried only on 429 (refused, so nothing was made), and only a 404
//! means a pod is gone.

pub mod billing;
pub mod catalog;
pub mod client;
pub mod convert;
pub mod errors;
#[cfg(test)]
mod fixtures_tests;
pub mod rate_limit;
pub mod settings;
pub mod wire;

use async_trait::async_trait;
use reqwest::Method;
use serde::de::DeserializeOwned;

use self::client::{Answer, Client, Retry};
pub use self::settings::{RetryPolicy, Settings, SettingsError};
use super::{Catalog, CreatePodRequest, NetworkVolume, Provider, ProviderError, ProviderResult};
use crate::model::{CloudType, ObservedPod, PodBill, PodSelfStop, PodUpdate, VolumeBill};
use crate::retry::PollSchedule;

/// More pages than any account has pods: a list that goes on is broken.
const MAX_PAGES: usize = 1000;

pub struct RestV2Provider {
    client: Client,
    poll: PollSchedule,
    key_fingerprint: String,
    /// Scheme, host and port of the API (no `/v2`).
    base_url: String,
}

impl RestV2Provider {
    pub fn new(settings: &Settings) -> ProviderResult<RestV2Provider> {
        Ok(RestV2Provider {
            client: Client::new(settings)?,
            poll: super::changing_pod_schedule(settings.longest_poll_wait),
            key_fingerprint: super::api_key_fingerprint(&settings.api_key),
            base_url: settings.base_url.clone(),
        })
    }

    /// Key, URL and poll interval from the environment (see `settings`).
    pub fn from_env() -> anyhow::Result<RestV2Provider> {
        let settings = Settings::from_env()?;
        Ok(RestV2Provider::new(&settings)?)
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> ProviderResult<T> {
        let answer = self
            .client
            .send::<()>(Method::GET, segments, query, None, Retry::Idempotent)
            .await?;
        decode(segments, &answer)
    }

    /// Every item of a list, following its pages (see [`wire::Page`]):
    /// `items` takes a page's items and says where the next one starts.
    async fn get_all<P: DeserializeOwned, T>(
        &self,
        segments: &[&str],
        mut items: impl FnMut(P) -> (Vec<T>, Option<String>),
    ) -> ProviderResult<Vec<T>> {
        let mut all = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query: Vec<(&str, &str)> = cursor.iter().map(|c| ("cursor", c.as_str())).collect();
            let page: P = self.get_json(segments, &query).await?;
            let (mut got, next) = items(page);
            all.append(&mut got);
            let Some(next) = next else {
                return Ok(all);
            };
            // A cursor that comes back, or no end in sight, is a broken
            // answer: saying "that is all" could hide the pod looked for.
            if seen.contains(&next) || seen.len() >= MAX_PAGES {
                return Err(ProviderError::Other(format!(
                    "unexpected answer from RunPod to /{}: its pages do not end (cursor {next:?} after {} pages)",
                    segments.join("/"),
                    seen.len() + 1
                )));
            }
            seen.push(next.clone());
            cursor = Some(next);
        }
    }

    async fn action(&self, id: &str, action: &'static str) -> ProviderResult<()> {
        self.client
            .send(
                Method::POST,
                &["v2", "pods", id, "action"],
                &[],
                Some(&wire::ActionBody { action }),
                Retry::RateLimitOnly,
            )
            .await
            .map(|_| ())
    }
}

/// Reads a 2xx body; an unreadable one names the request and the field.
fn decode<T: DeserializeOwned>(segments: &[&str], answer: &Answer) -> ProviderResult<T> {
    wire::parse(&answer.body).map_err(|err| {
        ProviderError::Other(format!(
            "unexpected answer from RunPod to /{} (HTTP {}): {err}",
            segments.join("/"),
            answer.status.as_u16()
        ))
    })
}

fn observed(segments: &[&str], pod: wire::Pod) -> ProviderResult<ObservedPod> {
    convert::observed(pod).map_err(|err| {
        ProviderError::Other(format!(
            "unexpected answer from RunPod to /{}: {err}",
            segments.join("/")
        ))
    })
}

#[async_trait]
impl Provider for RestV2Provider {
    fn name(&self) -> &'static str {
        "runpod"
    }

    fn poll_schedule(&self) -> PollSchedule {
        self.poll
    }

    fn api_key_fingerprint(&self) -> Option<String> {
        Some(self.key_fingerprint.clone())
    }

    fn reports_ssh_proxy(&self) -> bool {
        true
    }

    async fn check_key(&self) -> ProviderResult<()> {
        self.client.checked_key().await
    }

    async fn account_ssh_keys(&self) -> ProviderResult<Option<Vec<String>>> {
        let keys: wire::SshKeys = self.get_json(&["v2", "account", "ssh-keys"], &[]).await?;
        Ok(Some(keys.keys))
    }

    /// The same API rpd talks to (the tests' fake too).
    fn self_stop(&self) -> PodSelfStop {
        PodSelfStop::Api {
            base_url: self.base_url.clone(),
        }
    }

    async fn get(&self, id: &str) -> ProviderResult<Option<ObservedPod>> {
        let segments = ["v2", "pods", id];
        match self.get_json::<wire::Pod>(&segments, &[]).await {
            Ok(pod) => observed(&segments, pod).map(Some),
            // Only a definite 404 is "gone"; anything else is an error, or
            // the planner would create a duplicate of a pod that exists.
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn describe(&self, id: &str) -> ProviderResult<Option<serde_json::Value>> {
        match self.get_json(&["v2", "pods", id], &[]).await {
            Ok(pod) => Ok(Some(pod)),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn list(&self) -> ProviderResult<Vec<ObservedPod>> {
        let segments = ["v2", "pods"];
        let pods = self
            .get_all(&segments, |list: wire::ListPods| {
                let next = list.page.next().map(String::from);
                (list.pods, next)
            })
            .await?;
        pods.into_iter()
            .map(|pod| observed(&segments, pod))
            .collect()
    }

    async fn create(&self, request: &CreatePodRequest) -> ProviderResult<ObservedPod> {
        let body = convert::create_body(request)?;
        let segments = ["v2", "pods"];
        let answer = self
            .client
            // A 429 was refused before anything was made: repeating it after
            // the wait RunPod asks for cannot make a second pod.
            .send(
                Method::POST,
                &segments,
                &[],
                Some(&body),
                Retry::RateLimitOnly,
            )
            .await?;
        let pod: wire::Pod = decode(&segments, &answer)?;
        observed(&segments, pod)
    }

    /// `PATCH /v2/pods/{id}` with only the changed fields; repeated on a
    /// 5xx or 429 like any idempotent call.
    async fn update(&self, id: &str, update: &PodUpdate) -> ProviderResult<ObservedPod> {
        let body = convert::update_body(update)?;
        let segments = ["v2", "pods", id];
        let answer = self
            .client
            .send(
                Method::PATCH,
                &segments,
                &[],
                Some(&body),
                Retry::Idempotent,
            )
            .await?;
        let pod: wire::Pod = decode(&segments, &answer)?;
        observed(&segments, pod)
    }

    async fn start(&self, id: &str) -> ProviderResult<()> {
        self.action(id, "start").await
    }

    async fn stop(&self, id: &str) -> ProviderResult<()> {
        self.action(id, "stop").await
    }

    async fn delete(&self, id: &str) -> ProviderResult<()> {
        match self
            .client
            .send::<()>(
                Method::DELETE,
                &["v2", "pods", id],
                &[],
                None,
                Retry::Idempotent,
            )
            .await
        {
            Ok(_) | Err(ProviderError::NotFound(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn catalog(
        &self,
        gpu_ids: &[String],
        datacenter_ids: &[String],
        cloud_type: CloudType,
        gpu_count: u32,
    ) -> ProviderResult<Catalog> {
        // `cloud` and `count` scope availability (RunPod assumes SECURE and
        // one GPU without them): stock is for this config's pods.
        let count = gpu_count.max(1).to_string();
        let query = [
            ("include", "AVAILABILITY"),
            ("product", "POD"),
            ("cloud", cloud_type.as_str()),
            ("count", count.as_str()),
        ];
        let gpus = self.get_json::<wire::ListGpuTypes>(&["v2", "catalog", "gpus"], &query);
        let datacenters =
            self.get_json::<wire::ListDataCenters>(&["v2", "catalog", "datacenters"], &[]);
        // Both at once; the GPU list's failure is the one said, whichever
        // answered first.
        let (gpus, datacenters) = tokio::join!(gpus, datacenters);
        let (gpus, datacenters) = (gpus?, datacenters?);
        Ok(catalog::offers(
            &gpus.gpus,
            &datacenters.data_centers,
            gpu_ids,
            datacenter_ids,
            cloud_type,
        ))
    }

    async fn network_volumes(&self) -> ProviderResult<Vec<NetworkVolume>> {
        let volumes = self
            .get_all(
                &["v2", "network-volumes"],
                |list: wire::ListNetworkVolumes| {
                    let next = list.page.next().map(String::from);
                    (list.network_volumes, next)
                },
            )
            .await?;
        Ok(catalog::volumes(volumes))
    }

    async fn pod_billing(
        &self,
        pod_id: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> ProviderResult<Option<Vec<PodBill>>> {
        let query = billing::query(pod_id, since);
        let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let list: billing::ListPodBilling =
            self.get_json(&["v2", "billing", "pods"], &pairs).await?;
        Ok(Some(list.records.into_iter().map(PodBill::from).collect()))
    }

    async fn network_volume_billing(
        &self,
        volume_id: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> ProviderResult<Option<Vec<VolumeBill>>> {
        let query = billing::volume_query(volume_id, since);
        let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let list: billing::ListVolumeBilling = self
            .get_json(&["v2", "billing", "network-volumes"], &pairs)
            .await?;
        Ok(Some(
            list.records
                .into_iter()
                .map(VolumeBill::from)
                // The asked volume's only, whatever else came back.
                .filter(|bill| bill.volume_id == volume_id)
                .collect(),
        ))
    }
}
