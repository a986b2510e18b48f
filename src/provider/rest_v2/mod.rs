//! `--provider runpod`: RunPod's REST v2 API over HTTPS (`/v2/...`).
//!
//! A translator only: requests from rpd's model (`convert`), answers read
//! leniently (`wire`), failures classified for apply (`errors`), retries
//! where they cannot duplicate anything (`client`). Money safety: a create
//! is never retried, and only a 404 means a pod is gone.

pub mod billing;
pub mod catalog;
pub mod client;
pub mod convert;
pub mod errors;
#[cfg(test)]
mod fixtures_tests;
pub mod settings;
pub mod wire;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::de::DeserializeOwned;

use self::client::{Answer, Client, Retry};
pub use self::settings::{RetryPolicy, Settings, SettingsError};
use super::{Catalog, CreatePodRequest, Provider, ProviderError, ProviderResult};
use crate::model::{CloudType, ObservedPod, PodBill, PodSelfStop};

pub struct RestV2Provider {
    client: Client,
    poll_interval: Duration,
    /// Scheme, host and port of the API (no `/v2`).
    base_url: String,
}

impl RestV2Provider {
    pub fn new(settings: &Settings) -> ProviderResult<RestV2Provider> {
        Ok(RestV2Provider {
            client: Client::new(settings)?,
            poll_interval: settings.poll_interval,
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

    fn poll_interval(&self) -> Duration {
        self.poll_interval
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

    async fn list(&self) -> ProviderResult<Vec<ObservedPod>> {
        let segments = ["v2", "pods"];
        let list: wire::ListPods = self.get_json(&segments, &[]).await?;
        list.pods
            .into_iter()
            .map(|pod| observed(&segments, pod))
            .collect()
    }

    async fn create(&self, request: &CreatePodRequest) -> ProviderResult<ObservedPod> {
        let body = convert::create_body(request)?;
        let segments = ["v2", "pods"];
        let answer = self
            .client
            .send(Method::POST, &segments, &[], Some(&body), Retry::Never)
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
    ) -> ProviderResult<Catalog> {
        // `cloud` scopes availability; RunPod assumes SECURE without it.
        let list: wire::ListGpuTypes = self
            .get_json(
                &["v2", "catalog", "gpus"],
                &[
                    ("include", "AVAILABILITY"),
                    ("product", "POD"),
                    ("cloud", cloud_type.as_str()),
                ],
            )
            .await?;
        Ok(catalog::offers(
            &list.gpus,
            gpu_ids,
            datacenter_ids,
            cloud_type,
        ))
    }

    async fn resolve_network_volume(
        &self,
        name: &str,
        datacenter_id: &str,
    ) -> ProviderResult<String> {
        let list: wire::ListNetworkVolumes = self.get_json(&["v2", "network-volumes"], &[]).await?;
        catalog::resolve_volume(&list.network_volumes, name, datacenter_id)
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
}
