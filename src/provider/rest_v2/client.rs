//! One HTTP round trip to REST v2, with retries only where they are safe,
//! paced to the account's rate limit.
//!
//! GET and DELETE are idempotent: retried on 5xx, 429 and network failures
//! with a bounded, jittered exponential backoff (`crate::retry`) that
//! honours the wait a 429 asks for (`Retry-After`, `RateLimit`). A pod
//! action and a create are retried only on 429 (the request was refused,
//! not carried out). Any other failure of a create is never retried: its
//! answer may be lost while the pod exists, and apply finds such a pod by
//! name instead.
//!
//! Every request first asks the client's one [`Pacer`] (shared by all the
//! configs one rpd applies), which reads `RateLimit-Policy` and `RateLimit`
//! off every answer: requests are spread as the quota runs low, and a
//! stop or a delete may use the tenth of it that reads and polls leave
//! alone. A wait of a second or more before a change (ten before a read)
//! is said on stderr.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;

use super::errors::{self, Call};
use super::rate_limit;
use super::settings::{RetryPolicy, Settings};
use crate::provider::{ProviderError, ProviderResult};
use crate::retry::pace::{Pacer, Urgency};
use crate::retry::{self, Backoff};

/// Which failures a call may be repeated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// GET, DELETE: 5xx, 429 and network failures.
    Idempotent,
    /// Pod actions and creates: only 429, which RunPod answers before
    /// doing anything.
    RateLimitOnly,
}

impl Retry {
    /// Whether this failure may be repeated for this kind of call.
    fn allows(self, err: &ProviderError) -> bool {
        match self {
            Retry::Idempotent => err.is_retryable(),
            Retry::RateLimitOnly => matches!(err, ProviderError::RateLimited { .. }),
        }
    }
}

/// A stop, a delete or a terminate may use the quota reads leave alone:
/// giving up on one leaves a pod billing.
fn urgency(doing: &str) -> Urgency {
    if ["stopping ", "deleting ", "terminating "]
        .iter()
        .any(|verb| doing.starts_with(verb))
    {
        Urgency::Urgent
    } else {
        Urgency::Routine
    }
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
    pacer: Pacer,
    /// Inside a RunPod pod with the key of `RUNPOD_API_KEY`: the pod's id,
    /// and whether that key proved to be an account's (checked once,
    /// before the first request).
    inside_pod: Option<(String, tokio::sync::OnceCell<Result<(), ProviderError>>)>,
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
            pacer: Pacer::new(),
            inside_pod: settings
                .inside_pod
                .clone()
                .map(|pod| (pod, tokio::sync::OnceCell::new())),
        })
    }

    /// The key's check, made once (see [`Client::check_key`]); nothing to
    /// check outside a pod.
    pub async fn checked_key(&self) -> Result<(), ProviderError> {
        match &self.inside_pod {
            Some((pod_id, checked)) => checked.get_or_init(|| self.check_key(pod_id)).await.clone(),
            None => Ok(()),
        }
    }

    /// Inside a RunPod pod, `RUNPOD_API_KEY` is the pod's own key unless
    /// the user set it: one list of the account's pods tells (a pod's key
    /// sees no account). Refused, nothing else is sent with it: a 403 on a
    /// create would read as "no access to this GPU pool", a 401 as a wrong
    /// key, and neither says what to do. Any other failure says nothing
    /// about the key: the calls that follow report it.
    async fn check_key(&self, pod_id: &str) -> Result<(), ProviderError> {
        let url = self.url(&["v2", "pods"], &[]);
        let what = "GET /v2/pods";
        match self
            .once::<()>(
                &Method::GET,
                &url,
                None,
                Call::Other,
                what,
                Urgency::Routine,
                "checking the API key",
            )
            .await
        {
            Err(ProviderError::Auth(why)) => Err(ProviderError::Auth(format!(
                "rpd runs inside RunPod pod {pod_id} (RUNPOD_POD_ID is set), and RunPod refused its RUNPOD_API_KEY for the account's pods ({}): there that is the pod's own key, which can do nothing beyond its pod, so rpd sends nothing with it\n  = help: set RUNPOD_API_KEY to your account's API key (RunPod console: Settings, API Keys), e.g. `RUNPOD_API_KEY=<your key> rpd ...`",
                why.lines().next().unwrap_or_default()
            ))),
            _ => Ok(()),
        }
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
        self.checked_key().await?;
        let url = self.url(segments, query);
        let what = format!("{method} /{}", segments.join("/"));
        let call = if method == Method::POST && segments == ["v2", "pods"] {
            Call::Create
        } else {
            Call::Other
        };
        let backoff = Backoff::exponential(self.retry.first_delay)
            .retries(self.retry.attempts.saturating_sub(1) as usize)
            .max_total_wait(self.retry.max_total_wait);
        let doing = doing(&method, segments, body);
        retry::retry(
            &backoff,
            || self.once(&method, &url, body, call, &what, urgency(&doing), &doing),
            |err| retry.allows(err),
            ProviderError::retry_after,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn once<B: Serialize + ?Sized>(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&B>,
        call: Call,
        what: &str,
        urgency: Urgency,
        doing: &str,
    ) -> ProviderResult<Answer> {
        let reads = *method == Method::GET;
        let permit = self
            .pacer
            .acquire(urgency, |wait, window| {
                let worth_saying = if reads {
                    Duration::from_secs(10)
                } else {
                    Duration::from_secs(1)
                };
                if let Some(window) = window
                    && wait >= worth_saying
                {
                    crate::note!(
                        "RunPod's rate limit: waiting {} s before {doing} (the {window} window's quota is nearly spent)",
                        wait.as_secs_f64().ceil() as u64
                    );
                }
            })
            .await;
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(&self.api_key)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        // A failure to send drops the permit: nothing learned.
        let response = request
            .send()
            .await
            .map_err(|err| errors::from_transport(what, &err))?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        match rate_limit::read(
            header("ratelimit-policy").as_deref(),
            header("ratelimit").as_deref(),
        ) {
            // Neither header: this caller is not limited.
            None => permit.answered(None),
            Some((policies, lefts)) if !lefts.is_empty() => {
                permit.answered(Some((policies, lefts)))
            }
            // Headers nobody can read: no news either way.
            Some(_) => drop(permit),
        }
        let retry_after = errors::server_wait(
            header(reqwest::header::RETRY_AFTER.as_str()).as_deref(),
            header("ratelimit").as_deref(),
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

/// What a request does, in words for the terminal: "stopping pod x".
fn doing<B: Serialize + ?Sized>(method: &Method, segments: &[&str], body: Option<&B>) -> String {
    match (method.as_str(), segments) {
        ("GET", ["v2", "pods", id, ..]) => format!("reading pod {id}"),
        ("GET", ["v2", "pods"]) => "listing pods".into(),
        ("POST", ["v2", "pods"]) => "creating a pod".into(),
        ("PATCH", ["v2", "pods", id]) => format!("updating pod {id}"),
        ("DELETE", ["v2", "pods", id]) => format!("deleting pod {id}"),
        ("POST", ["v2", "pods", id, "action"]) => {
            let action = body
                .and_then(|b| serde_json::to_value(b).ok())
                .and_then(|v| v.get("action")?.as_str().map(String::from))
                .unwrap_or_else(|| "changing".into());
            let verb = match action.as_str() {
                "stop" => "stopping",
                "start" => "starting",
                "terminate" => "terminating",
                "restart" => "restarting",
                _ => "changing",
            };
            format!("{verb} pod {id}")
        }
        _ => format!("{method} /{}", segments.join("/")),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A server that answers each connection with the next of `answers`
    /// (status line and headers), then 200 `{}`; it counts requests.
    async fn serve(answers: Vec<&'static str>) -> (String, std::sync::Arc<std::sync::Mutex<u32>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let count = std::sync::Arc::new(std::sync::Mutex::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            let mut answers = answers.into_iter();
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                *seen.lock().unwrap() += 1;
                let head = answers.next().unwrap_or("200 OK");
                let body = "{}";
                let reply = format!(
                    "HTTP/1.1 {head}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        (url, count)
    }

    fn client(url: &str) -> Client {
        let mut settings = Settings::new(url, "key");
        settings.retry = RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(10),
            max_total_wait: Duration::from_secs(5),
        };
        Client::new(&settings).unwrap()
    }

    async fn list(client: &Client, retry: Retry) -> ProviderResult<Answer> {
        client
            .send::<()>(Method::GET, &["v2", "pods"], &[], None, retry)
            .await
    }

    #[test]
    fn stops_and_deletes_may_use_the_quota_kept_back() {
        let body =
            |action: &'static str| Some(crate::provider::rest_v2::wire::ActionBody { action });
        let action = ["v2", "pods", "p1", "action"];
        let cases = [
            (
                doing(&Method::POST, &action, body("stop").as_ref()),
                Urgency::Urgent,
            ),
            (
                doing(&Method::POST, &action, body("terminate").as_ref()),
                Urgency::Urgent,
            ),
            (
                doing::<()>(&Method::DELETE, &["v2", "pods", "p1"], None),
                Urgency::Urgent,
            ),
            (
                doing(&Method::POST, &action, body("start").as_ref()),
                Urgency::Routine,
            ),
            (
                doing::<()>(&Method::GET, &["v2", "pods", "p1"], None),
                Urgency::Routine,
            ),
            (
                doing::<()>(&Method::POST, &["v2", "pods"], None),
                Urgency::Routine,
            ),
        ];
        assert_eq!(cases[0].0, "stopping pod p1");
        assert_eq!(cases[2].0, "deleting pod p1");
        for (what, expected) in cases {
            assert_eq!(urgency(&what), expected, "{what}");
        }
    }

    #[tokio::test]
    async fn a_429_waits_until_the_exhausted_rate_limit_window_resets() {
        let (url, count) = serve(vec![
            "429 Too Many Requests\r\nratelimit: \"minute\";r=0;t=1, \"hour\";r=2800;t=1812",
        ])
        .await;
        let began = Instant::now();
        list(&client(&url), Retry::Idempotent).await.unwrap();
        assert!(
            began.elapsed() >= Duration::from_secs(1),
            "{:?}",
            began.elapsed()
        );
        assert_eq!(*count.lock().unwrap(), 2);
    }

    #[tokio::test]
    async fn each_kind_of_call_repeats_only_what_it_may() {
        let (url, count) = serve(vec!["503 Service Unavailable", "502 Bad Gateway"]).await;
        list(&client(&url), Retry::Idempotent).await.unwrap();
        assert_eq!(*count.lock().unwrap(), 3, "a read is retried on 5xx");

        let (url, count) = serve(vec!["503 Service Unavailable"]).await;
        let err = list(&client(&url), Retry::RateLimitOnly).await.unwrap_err();
        assert!(matches!(err, ProviderError::Transient(_)), "{err:?}");
        assert_eq!(
            *count.lock().unwrap(),
            1,
            "an action is not repeated on 5xx"
        );

        let (url, count) = serve(vec!["429 Too Many Requests\r\nretry-after: 0"]).await;
        list(&client(&url), Retry::RateLimitOnly).await.unwrap();
        assert_eq!(
            *count.lock().unwrap(),
            2,
            "an action or a create is repeated on 429"
        );
    }
}
