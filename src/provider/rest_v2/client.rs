//! One HTTP round trip to REST v2, with retries only where they are safe.
//!
//! GET and DELETE are idempotent: retried on 5xx, 429 and network failures
//! with a bounded exponential backoff that honours `Retry-After`. A pod
//! action is retried only on 429 (the request was refused, not carried out).
//! A create is never retried: its answer may be lost while the pod exists,
//! and apply finds such a pod by name instead.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;

use super::errors::{self, Call};
use super::settings::{RetryPolicy, Settings};
use crate::provider::{ProviderError, ProviderResult};

/// Which failures a call may be repeated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// GET, DELETE: 5xx, 429 and network failures.
    Idempotent,
    /// Pod actions: only 429, which RunPod answers before doing anything.
    RateLimitOnly,
    /// Create: never.
    Never,
}

/// A successful answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

pub struct Client {
    http: reqwest::Client,
    base: Url,
    api_key: String,
    retry: RetryPolicy,
}

impl Client {
    pub fn new(settings: &Settings) -> ProviderResult<Client> {
        let base = Url::parse(&settings.base_url).map_err(|err| {
            ProviderError::Invalid(format!(
                "the RunPod API URL {:?} is not a URL ({err}); check RPD_RUNPOD_API_URL",
                settings.base_url
            ))
        })?;
        if base.cannot_be_a_base() {
            return Err(ProviderError::Invalid(format!(
                "the RunPod API URL {:?} cannot have paths; check RPD_RUNPOD_API_URL",
                settings.base_url
            )));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("rpd/", env!("CARGO_PKG_VERSION")))
            .timeout(settings.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| ProviderError::Other(format!("cannot set up HTTPS: {err}")))?;
        Ok(Client {
            http,
            base,
            api_key: settings.api_key.clone(),
            retry: settings.retry,
        })
    }

    /// `base` + the path segments (each percent-encoded) + the query.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in new: the base URL can have paths")
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends one request (and its allowed retries); a non-2xx answer is an
    /// error classified by status. `segments` are the path after the host,
    /// e.g. `["v2", "pods", id]`.
    pub async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&B>,
        retry: Retry,
    ) -> ProviderResult<Answer> {
        let url = self.url(segments, query);
        let what = format!("{method} /{}", segments.join("/"));
        let call = if method == Method::POST && segments == ["v2", "pods"] {
            Call::Create
        } else {
            Call::Other
        };
        let mut waited = Duration::ZERO;
        let mut attempt = 1;
        loop {
            let result = self.once(&method, &url, body, call, &what).await;
            let delay = match (&result, retry) {
                (Err(ProviderError::Transient(_)), Retry::Idempotent) => {
                    Some(self.backoff(attempt))
                }
                (
                    Err(ProviderError::RateLimited { retry_after, .. }),
                    Retry::Idempotent | Retry::RateLimitOnly,
                ) => Some(retry_after.unwrap_or_else(|| self.backoff(attempt))),
                _ => None,
            };
            match delay {
                Some(delay)
                    if attempt < self.retry.attempts
                        && waited + delay <= self.retry.max_total_wait =>
                {
                    tokio::time::sleep(delay).await;
                    waited += delay;
                    attempt += 1;
                }
                _ => return result,
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.retry
            .first_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
    }

    async fn once<B: Serialize + ?Sized>(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&B>,
        call: Call,
        what: &str,
    ) -> ProviderResult<Answer> {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(&self.api_key)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|err| errors::from_transport(what, &err))?;
        let status = response.status();
        let retry_after = errors::retry_after(
            response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
        );
        let body = response
            .bytes()
            .await
            .map_err(|err| errors::from_transport(what, &err))?;
        if status.is_success() {
            Ok(Answer {
                status,
                body: body.to_vec(),
            })
        } else {
            Err(errors::from_response(
                call,
                what,
                status.as_u16(),
                retry_after,
                &body,
            ))
        }
    }
}
