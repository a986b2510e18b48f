//! A fake RunPod REST v2 server for tests, in-process on 127.0.0.1.
//!
//! Its world is the simulator's (`rpd::provider::sim::store`), so statuses,
//! boot times, stock, capacity errors and host-busy starts behave exactly as
//! with `--provider sim`; it only answers in REST v2 shapes (201 create, 204
//! delete, problem+json errors). Every request body is validated against the
//! official spec (`fixtures/runpod-api/openapi-v2.json`, JSON Schema 2020-12
//! with `$ref`s resolved in the document); an invalid one gets RunPod's 422
//! and is recorded, so a test can assert that rpd never sent one. Every 2xx
//! answer is validated against the spec too, so the fake cannot drift from
//! the shapes it claims to speak.
//!
//! Controls: latency, injected failures per operation, a create that
//! succeeds but answers 500 (the lost response), stock, host-busy starts,
//! network volumes, the SSH endpoint reported for running pods, call counts.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use rpd::model::{CloudType, PodStatus, PodUpdate, Storage, VolumeGrowth};
use rpd::provider::sim::store::{self, SimPod, Store, World};
use rpd::provider::{CreatePodRequest, ProviderError};

/// The key the fake accepts (`Authorization: Bearer test`).
pub const API_KEY: &str = "test";

/// A user key that is easy to search for (on a pod's disk, in a process's
/// environment); the fake accepts it like [`API_KEY`].
pub const DISTINCT_USER_KEY: &str = "user-key-never-on-the-pod-7c1e5a9b";

/// A pod's own key (what RunPod puts in a pod's `RUNPOD_API_KEY`): the fake
/// takes it for a pod action and nothing else.
pub const POD_API_KEY: &str = "pod-scoped-key-0b7e4d";

/// RunPod's generic failure text, used for injected 5xx answers.
pub const SOMETHING_WENT_WRONG: &str =
    "Something went wrong. Please try again later or contact support.";

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The spec's operationId (`createPod`, `podAction`, ...), or `unknown`.
    pub operation: String,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub body: Option<Value>,
    /// Why the body breaks the spec (or an observed rule); empty when valid.
    pub errors: Vec<String>,
    pub status: u16,
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    /// The `RateLimit-Policy` and `RateLimit` headers of the answer, when
    /// the account has a rate limit (`set_rate_limit`).
    pub rate_limit: Option<(String, String)>,
}

/// Where running pods say their sshd is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshDirect {
    pub host: String,
    pub port: u16,
    pub username: String,
}

#[derive(Debug, Clone)]
struct Injected {
    status: u16,
    retry_after: Option<u64>,
    detail: Option<String>,
    /// A 422's list of violations.
    errors: Option<Vec<String>>,
}

struct Control {
    latency: Duration,
    calls: BTreeMap<String, u64>,
    requests: Vec<Recorded>,
    response_errors: Vec<String>,
    injected: HashMap<String, Vec<Injected>>,
    lose_next_create: bool,
    ssh: SshDirect,
    ssh_ready: bool,
    env: HashMap<String, BTreeMap<String, String>>,
    /// Pods per page of `GET /v2/pods` (None: one page).
    page_size: Option<usize>,
    /// The account's registered SSH public keys (`GET /v2/account/ssh-keys`).
    account_keys: Vec<String>,
    /// API keys of other accounts the fake also accepts.
    other_accounts: Vec<String>,
    /// COMMUNITY machines have no public IP: their running pods report
    /// `ssh.proxy` and never `ssh.direct`.
    community_without_public_ip: bool,
    /// The key of each pod made with another account's key (the others are
    /// `API_KEY`'s): any other key gets a 404 for it, as RunPod answers.
    owners: HashMap<String, String>,
    /// `PodBillingRecord`s that `GET /v2/billing/pods` answers from.
    bills: Vec<Value>,
    /// `NetworkVolumeBillingRecord`s of `GET /v2/billing/network-volumes`.
    volume_bills: Vec<Value>,
    /// Pods answered with a status RunPod may add one day (or none):
    /// `status` is then this, outside the spec's enum.
    status_override: HashMap<String, Option<String>>,
}

struct Shared {
    store: Store,
    control: Mutex<Control>,
}

pub struct FakeRestV2 {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl FakeRestV2 {
    /// Starts a fake with an empty world, fast boots (200 ms cold, 100 ms
    /// warm) and default stock, on its own thread and runtime so that both
    /// sync and async tests can use it.
    pub fn start() -> FakeRestV2 {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::new(dir.path().join("world"));
        store
            .with(|world, _| {
                world.cold_boot_ms = 200;
                world.warm_boot_ms = 100;
            })
            .expect("world");
        let shared = Arc::new(Shared {
            store,
            control: Mutex::new(Control {
                latency: Duration::ZERO,
                calls: BTreeMap::new(),
                requests: Vec::new(),
                response_errors: Vec::new(),
                injected: HashMap::new(),
                lose_next_create: false,
                ssh: SshDirect {
                    host: "127.0.0.1".into(),
                    port: 22,
                    username: "root".into(),
                },
                ssh_ready: true,
                bills: Vec::new(),
                volume_bills: Vec::new(),
                env: HashMap::new(),
                page_size: None,
                account_keys: Vec::new(),
                other_accounts: Vec::new(),
                owners: HashMap::new(),
                community_without_public_ip: false,
                status_override: HashMap::new(),
            }),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                // Not a graceful shutdown: clients keep idle connections open.
                tokio::select! {
                    served = axum::serve(listener, app).into_future() => served.expect("serve"),
                    _ = rx => {}
                }
            });
        });
        FakeRestV2 {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:<port>`, for `RPD_RUNPOD_API_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn with_world<T>(&self, f: impl FnOnce(&mut World, &Store) -> T) -> T {
        self.shared.store.with(f).expect("fake world")
    }

    fn control<T>(&self, f: impl FnOnce(&mut Control) -> T) -> T {
        f(&mut self.shared.control.lock().unwrap())
    }

    /// Free GPUs of one type in one datacenter (0 = out of stock).
    pub fn set_stock(&self, datacenter_id: &str, gpu_id: &str, free: u32) {
        self.with_world(|w, _| w.set_stock(datacenter_id, gpu_id, free));
    }

    pub fn set_boot_ms(&self, cold: u64, warm: u64) {
        self.with_world(|w, _| {
            w.cold_boot_ms = cold;
            w.warm_boot_ms = warm;
        });
    }

    /// A network volume; returns its id.
    pub fn add_volume(&self, name: &str, datacenter_id: &str, size_gb: u32) -> String {
        self.with_world(|w, _| w.add_volume(name, datacenter_id, size_gb).id)
    }

    /// The next start of this pod fails as RunPod's "not enough free GPUs on
    /// the host machine".
    pub fn host_busy_on_next_start(&self, pod_id: &str) {
        self.with_world(|w, _| {
            w.fail_next_start.insert(pod_id.to_string());
        });
    }

    /// RunPod's rate limit for this account: `per_minute` requests a
    /// minute and 50 times that an hour (the spec's example policy is 60
    /// and 3000; limits differ between accounts). Every answer then carries
    /// `RateLimit-Policy` and `RateLimit`; past the quota, 429 with
    /// `Retry-After`.
    pub fn set_rate_limit(&self, per_minute: u32) {
        self.with_world(|w, _| {
            w.quota = Some(rpd::provider::sim::quota::Quota::per_minute(per_minute))
        });
    }

    /// 429s answered while the account has a rate limit (the quota's, and
    /// any injected with `fail_next`).
    pub fn rate_limited(&self) -> usize {
        self.control(|c| {
            c.requests
                .iter()
                .filter(|r| r.status == 429 && r.rate_limit.is_some())
                .count()
        })
    }

    /// The pod's `status` reads `status` (none: null), a value outside the
    /// spec's enum, as a status RunPod adds one day would (answers with it
    /// break the spec: a test using this skips `assert_all_valid`).
    pub fn set_status_text(&self, pod_id: &str, status: Option<&str>) {
        self.control(|c| {
            c.status_override
                .insert(pod_id.to_string(), status.map(String::from))
        });
    }

    /// A created pod reads RUNNING with `ssh.proxy` only, no runtime and no
    /// `ssh.direct`, for this many reads of it (`GET /v2/pods/{id}`): its
    /// image still pulls (minutes for a 10 GB image on RunPod).
    pub fn set_pull_reads(&self, reads: u32) {
        self.with_world(|w, _| w.pull_reads = reads);
    }

    pub fn set_latency(&self, latency: Duration) {
        self.control(|c| c.latency = latency);
    }

    /// The next `times` calls of `operation` (an operationId; `podAction`
    /// may be narrowed as `podAction:start`) answer `status` without doing
    /// anything; a 429 carries `Retry-After: retry_after`.
    pub fn fail_next(&self, operation: &str, status: u16, times: usize, retry_after: Option<u64>) {
        self.inject(
            operation,
            Injected {
                status,
                retry_after,
                detail: None,
                errors: None,
            },
            times,
        );
    }

    /// The next call of `operation` answers `status` with this `detail`
    /// (e.g. a capacity 400 for a GPU the catalog says is in stock).
    pub fn fail_next_with(&self, operation: &str, status: u16, detail: &str) {
        self.inject(
            operation,
            Injected {
                status,
                retry_after: None,
                detail: Some(detail.to_string()),
                errors: None,
            },
            1,
        );
    }

    /// The next create answers RunPod's 422 with these violations, as for
    /// a body that breaks the contract.
    pub fn reject_next_create(&self, errors: &[&str]) {
        self.inject(
            "createPod",
            Injected {
                status: 422,
                retry_after: None,
                detail: Some("Request validation failed.".into()),
                errors: Some(errors.iter().map(|e| e.to_string()).collect()),
            },
            1,
        );
    }

    fn inject(&self, operation: &str, injected: Injected, times: usize) {
        self.control(|c| {
            c.injected
                .entry(operation.to_string())
                .or_default()
                .extend(std::iter::repeat_n(injected, times))
        });
    }

    /// Drops every failure still queued for `operation`.
    pub fn clear_failures(&self, operation: &str) {
        self.control(|c| {
            c.injected.remove(operation);
        });
    }

    /// The next create makes the pod, then answers 500: the lost response.
    pub fn lose_next_create(&self) {
        self.control(|c| c.lose_next_create = true);
    }

    pub fn set_ssh(&self, host: &str, port: u16, username: &str) {
        self.control(|c| {
            c.ssh = SshDirect {
                host: host.into(),
                port,
                username: username.into(),
            }
        });
    }

    /// When false, running pods report `ssh.direct: null` (observed while a
    /// pod's port mapping is not there yet).
    /// The hourly bills RunPod keeps (`PodBillingRecord`s, as in
    /// `fixtures/rest_v2/billing_pods.json`); `GET /v2/billing/pods`
    /// answers with those of the asked pod from the asked start.
    pub fn set_bills(&self, records: Vec<Value>) {
        self.control(|c| c.bills = records);
    }

    /// What RunPod billed network volumes (`NetworkVolumeBillingRecord`s,
    /// as in `fixtures/rest_v2/billing_network_volumes.json`);
    /// `GET /v2/billing/network-volumes` answers with those of the asked
    /// volume from the asked start.
    pub fn set_volume_bills(&self, records: Vec<Value>) {
        self.control(|c| c.volume_bills = records);
    }

    pub fn set_ssh_ready(&self, ready: bool) {
        self.control(|c| c.ssh_ready = ready);
    }

    /// `GET /v2/pods` answers `size` pods a page, with
    /// `pagination.nextCursor` naming the next (RunPod's spec has no
    /// pagination yet; this is the shape rpd follows if it comes).
    pub fn set_list_page_size(&self, size: usize) {
        self.control(|c| c.page_size = Some(size.max(1)));
    }

    /// The account's registered SSH public keys.
    pub fn set_account_keys(&self, keys: &[&str]) {
        self.control(|c| c.account_keys = keys.iter().map(|k| k.to_string()).collect());
    }

    /// When true, COMMUNITY pods run with SSH through RunPod's proxy only
    /// (`ssh.direct` stays null), as on machines without a public IP.
    pub fn set_community_without_public_ip(&self, on: bool) {
        self.control(|c| c.community_without_public_ip = on);
    }

    /// Also accept `key`, as another account's: pods are visible only to the
    /// key of their account (to any other, `GET` is a 404).
    pub fn add_account(&self, key: &str) {
        self.control(|c| c.other_accounts.push(key.to_string()));
    }

    /// The `env` of every create body the fake accepted, in order.
    pub fn create_envs(&self) -> Vec<Value> {
        self.control(|c| {
            c.requests
                .iter()
                .filter(|r| r.operation == "createPod" && r.errors.is_empty())
                .filter_map(|r| r.body.as_ref()?.get("env").cloned())
                .collect()
        })
    }

    /// Calls of one operation (`createPod`, `podAction:stop`, ...).
    pub fn calls(&self, operation: &str) -> u64 {
        self.control(|c| c.calls.get(operation).copied().unwrap_or(0))
    }

    pub fn all_calls(&self) -> BTreeMap<String, u64> {
        self.control(|c| c.calls.clone())
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.control(|c| c.requests.clone())
    }

    /// Requests whose body broke the spec.
    pub fn invalid_requests(&self) -> Vec<Recorded> {
        self.control(|c| {
            c.requests
                .iter()
                .filter(|r| !r.errors.is_empty())
                .cloned()
                .collect()
        })
    }

    /// Answers of the fake that broke the spec (a bug in the fake).
    pub fn response_errors(&self) -> Vec<String> {
        self.control(|c| c.response_errors.clone())
    }

    pub fn pods(&self) -> Vec<SimPod> {
        self.with_world(|w, _| w.pods.values().cloned().collect())
    }

    pub fn pod(&self, id: &str) -> Option<SimPod> {
        self.with_world(|w, _| w.pods.get(id).cloned())
    }

    /// Waits (bounded) until the pod has this status.
    pub fn wait_for_status(&self, id: &str, status: PodStatus) {
        for _ in 0..200 {
            if self.pod(id).is_some_and(|p| p.status == status) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("pod {id} never became {status}: {:?}", self.pod(id));
    }

    /// A pod made directly in the world, as if created earlier.
    pub fn create_pod(&self, request: &CreatePodRequest) -> SimPod {
        self.with_world(|w, s| w.create(s, request))
            .expect("create in the fake world")
    }

    /// Asserts that every request body and every answer met the spec.
    #[track_caller]
    pub fn assert_all_valid(&self) {
        let invalid = self.invalid_requests();
        assert!(
            invalid.is_empty(),
            "rpd sent bodies that break openapi-v2.json: {invalid:#?}"
        );
        let answers = self.response_errors();
        assert!(
            answers.is_empty(),
            "the fake answered outside the spec: {answers:#?}"
        );
    }
}

impl Drop for FakeRestV2 {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------- routing

/// The operations the fake serves, by the spec's operationId.
enum Op {
    ListPods,
    CreatePod,
    GetPod(String),
    DeletePod(String),
    UpdatePod(String),
    PodAction(String),
    ListGpuTypes,
    ListDataCenters,
    ListNetworkVolumes,
    GetSshKeys,
    ListPodBilling,
    ListNetworkVolumeBilling,
}

impl Op {
    fn route(method: &Method, path: &str) -> Option<Op> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        Some(match (method.as_str(), segments.as_slice()) {
            ("GET", ["v2", "pods"]) => Op::ListPods,
            ("POST", ["v2", "pods"]) => Op::CreatePod,
            ("GET", ["v2", "pods", id]) => Op::GetPod(id.to_string()),
            ("DELETE", ["v2", "pods", id]) => Op::DeletePod(id.to_string()),
            ("PATCH", ["v2", "pods", id]) => Op::UpdatePod(id.to_string()),
            ("POST", ["v2", "pods", id, "action"]) => Op::PodAction(id.to_string()),
            ("GET", ["v2", "catalog", "gpus"]) => Op::ListGpuTypes,
            ("GET", ["v2", "catalog", "datacenters"]) => Op::ListDataCenters,
            ("GET", ["v2", "network-volumes"]) => Op::ListNetworkVolumes,
            ("GET", ["v2", "account", "ssh-keys"]) => Op::GetSshKeys,
            ("GET", ["v2", "billing", "pods"]) => Op::ListPodBilling,
            ("GET", ["v2", "billing", "network-volumes"]) => Op::ListNetworkVolumeBilling,
            _ => return None,
        })
    }

    fn id(&self) -> &'static str {
        match self {
            Op::ListPods => "listPods",
            Op::CreatePod => "createPod",
            Op::GetPod(_) => "getPod",
            Op::DeletePod(_) => "deletePod",
            Op::UpdatePod(_) => "updatePod",
            Op::PodAction(_) => "podAction",
            Op::ListGpuTypes => "listGpuTypes",
            Op::ListDataCenters => "listDataCenters",
            Op::ListNetworkVolumes => "listNetworkVolumes",
            Op::GetSshKeys => "getSshKeys",
            Op::ListPodBilling => "listPodBilling",
            Op::ListNetworkVolumeBilling => "listNetworkVolumeBilling",
        }
    }

    /// The spec's path template and method, to find its schemas.
    fn spec_path(&self) -> (&'static str, &'static str) {
        match self {
            Op::ListPods => ("/v2/pods", "get"),
            Op::CreatePod => ("/v2/pods", "post"),
            Op::GetPod(_) => ("/v2/pods/{id}", "get"),
            Op::DeletePod(_) => ("/v2/pods/{id}", "delete"),
            Op::UpdatePod(_) => ("/v2/pods/{id}", "patch"),
            Op::PodAction(_) => ("/v2/pods/{id}/action", "post"),
            Op::ListGpuTypes => ("/v2/catalog/gpus", "get"),
            Op::ListDataCenters => ("/v2/catalog/datacenters", "get"),
            Op::ListNetworkVolumes => ("/v2/network-volumes", "get"),
            Op::GetSshKeys => ("/v2/account/ssh-keys", "get"),
            Op::ListPodBilling => ("/v2/billing/pods", "get"),
            Op::ListNetworkVolumeBilling => ("/v2/billing/network-volumes", "get"),
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let header_text = |headers: &HeaderMap, name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let mut record = Recorded {
        operation: "unknown".into(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(String::from),
        body: None,
        errors: Vec::new(),
        status: 0,
        authorization: header_text(&parts.headers, header::AUTHORIZATION),
        user_agent: header_text(&parts.headers, header::USER_AGENT),
        rate_limit: None,
    };
    let (mut response, answer_schema) = answer(&shared, &parts, &bytes, &mut record).await;
    // Every answer to an authenticated request says the account's quota
    // and what is left of it (openapi-v2.json: "not only on 429s").
    if let Some((policy, state)) = &record.rate_limit {
        let headers = response.headers_mut();
        headers.insert("ratelimit-policy", policy.parse().expect("header"));
        headers.insert("ratelimit", state.parse().expect("header"));
    }
    record.status = response.status().as_u16();
    let mut control = shared.control.lock().unwrap();
    if let Some((op, body)) = answer_schema {
        let (path, method) = op.spec_path();
        for error in spec::validate_response(path, method, record.status, &body) {
            control
                .response_errors
                .push(format!("{} {}: {error}", record.method, record.path));
        }
    }
    control.requests.push(record);
    response
}

/// The answer to one request, and (for a 2xx with a body) the operation and
/// body to check against the spec.
async fn answer(
    shared: &Shared,
    parts: &axum::http::request::Parts,
    bytes: &[u8],
    record: &mut Recorded,
) -> (Response, Option<(Op, Value)>) {
    let Some(op) = Op::route(&parts.method, parts.uri.path()) else {
        return (problem(404, "resource not found", None), None);
    };
    record.operation = op.id().to_string();
    let body: Option<Value> = if bytes.is_empty() {
        None
    } else {
        match serde_json::from_slice(bytes) {
            Ok(v) => Some(v),
            Err(err) => {
                record.errors.push(format!("body is not JSON: {err}"));
                return (
                    problem(
                        422,
                        "Request validation failed.",
                        Some(record.errors.clone()),
                    ),
                    None,
                );
            }
        }
    };
    record.body = body.clone();
    let action = body
        .as_ref()
        .and_then(|b| b.get("action"))
        .and_then(Value::as_str)
        .map(String::from);
    let latency = {
        let mut c = shared.control.lock().unwrap();
        *c.calls.entry(op.id().to_string()).or_default() += 1;
        if let (Op::PodAction(_), Some(action)) = (&op, &action) {
            *c.calls.entry(format!("podAction:{action}")).or_default() += 1;
        }
        c.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let key = record
        .authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or_default();
    // The user's other key, and a pod's own key for a pod action, act for
    // the account of API_KEY (whose pods they see).
    let caller =
        if key == DISTINCT_USER_KEY || (key == POD_API_KEY && matches!(op, Op::PodAction(_))) {
            API_KEY.to_string()
        } else {
            key.to_string()
        };
    let authorized = caller == API_KEY
        || shared
            .control
            .lock()
            .unwrap()
            .other_accounts
            .contains(&caller);
    if !authorized {
        let detail = if record.authorization.is_none() {
            "missing bearer token"
        } else {
            "invalid bearer token"
        };
        return (problem(401, detail, None), None);
    }
    // The account's rate limit: past it, 429 with the seconds until the
    // exhausted window resets; the request does nothing.
    let now = chrono::Utc::now().timestamp_millis();
    if let Some(verdict) = world(shared, |w, _| w.quota.as_mut().map(|q| q.spend(now))) {
        record.rate_limit = Some((verdict.policy.clone(), verdict.state.clone()));
        if !verdict.allowed {
            let window = verdict.exceeded.unwrap_or_default();
            let mut response = problem(
                429,
                &format!("rate limit exceeded for the {window} window"),
                None,
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                verdict.retry_after_secs.to_string().parse().unwrap(),
            );
            return (response, None);
        }
    }
    if let Some(injected) = take_injected(shared, op.id(), action.as_deref()) {
        let detail = match (&injected.detail, injected.status) {
            (Some(detail), _) => detail.as_str(),
            (None, 429) => "rate limit exceeded for the minute window",
            (None, 403) => "access denied",
            (None, _) => SOMETHING_WENT_WRONG,
        };
        let mut response = problem(injected.status, detail, injected.errors.clone());
        if let Some(secs) = injected.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.to_string().parse().unwrap());
        }
        return (response, None);
    }
    let (path, method) = op.spec_path();
    if let Some(schema_errors) = spec::validate_request(path, method, body.as_ref())
        && !schema_errors.is_empty()
    {
        record.errors = schema_errors;
        return (
            problem(
                422,
                "Request validation failed.",
                Some(record.errors.clone()),
            ),
            None,
        );
    }
    let query: HashMap<String, String> = Query::try_from_uri(&parts.uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    // "Not found or not accessible to the caller": another account's pod.
    if let Op::GetPod(id) | Op::DeletePod(id) | Op::UpdatePod(id) | Op::PodAction(id) = &op
        && owner(shared, id) != caller
    {
        return (problem(404, "resource not found", None), None);
    }
    let result = match &op {
        Op::ListPods => list_pods(shared, &caller, query.get("cursor")),
        Op::CreatePod => create_pod(shared, &caller, body.as_ref().expect("validated"), record),
        Op::GetPod(id) => get_pod(shared, id),
        Op::DeletePod(id) => delete_pod(shared, id),
        Op::UpdatePod(id) => update_pod(shared, id, body.as_ref().expect("validated")),
        Op::PodAction(id) => pod_action(shared, id, action.as_deref().unwrap_or_default()),
        Op::ListGpuTypes => list_gpu_types(shared, &query),
        Op::ListDataCenters => list_datacenters(),
        Op::ListNetworkVolumes => list_network_volumes(shared),
        Op::GetSshKeys => {
            let keys = shared.control.lock().unwrap().account_keys.clone();
            Reply::Json(200, json!({ "keys": keys }))
        }
        Op::ListPodBilling => list_pod_billing(shared, &query),
        Op::ListNetworkVolumeBilling => list_volume_billing(shared, &query),
    };
    match result {
        Reply::Json(status, value) => {
            let response = json_response(status, &value);
            (response, Some((op, value)))
        }
        Reply::Empty(status) => (empty(status), None),
        Reply::Problem(status, detail) => (problem(status, &detail, None), None),
    }
}

fn take_injected(shared: &Shared, operation: &str, action: Option<&str>) -> Option<Injected> {
    let mut c = shared.control.lock().unwrap();
    let narrowed = action.map(|a| format!("{operation}:{a}"));
    for key in narrowed.iter().map(String::as_str).chain([operation]) {
        if let Some(queue) = c.injected.get_mut(key)
            && !queue.is_empty()
        {
            return Some(queue.remove(0));
        }
    }
    None
}

enum Reply {
    Json(u16, Value),
    Empty(u16),
    Problem(u16, String),
}

fn json_response(status: u16, value: &Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(value.to_string()))
        .unwrap()
}

fn empty(status: u16) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .body(Body::empty())
        .unwrap()
}

/// RFC 9457 problem details, as RunPod sends them.
fn problem(status: u16, detail: &str, errors: Option<Vec<String>>) -> Response {
    let code = StatusCode::from_u16(status).unwrap();
    let mut body = json!({
        "title": code.canonical_reason().unwrap_or("Error"),
        "status": status,
        "detail": detail,
    });
    if let Some(errors) = errors {
        body["errors"] = json!(errors);
    }
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/problem+json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

// ------------------------------------------------------------- operations

fn world<T>(shared: &Shared, f: impl FnOnce(&mut World, &Store) -> T) -> T {
    shared.store.with(f).expect("fake world")
}

/// The API key of the account a pod belongs to.
fn owner(shared: &Shared, pod_id: &str) -> String {
    let c = shared.control.lock().unwrap();
    c.owners
        .get(pod_id)
        .cloned()
        .unwrap_or_else(|| API_KEY.to_string())
}

fn list_pods(shared: &Shared, caller: &str, cursor: Option<&String>) -> Reply {
    let pods: Vec<SimPod> = world(shared, |w, _| w.pods.values().cloned().collect());
    let pods: Vec<SimPod> = pods
        .into_iter()
        .filter(|p| owner(shared, &p.id) == caller)
        .collect();
    let rendered: Vec<Value> = pods.iter().map(|p| render_pod(shared, p)).collect();
    let page_size = shared.control.lock().unwrap().page_size;
    let Some(size) = page_size else {
        return Reply::Json(200, json!({ "pods": rendered }));
    };
    let start: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
    let end = (start + size).min(rendered.len());
    let page = rendered.get(start..end).unwrap_or_default().to_vec();
    let mut body = json!({ "pods": page });
    if end < rendered.len() {
        body["pagination"] = json!({ "nextCursor": end.to_string() });
    }
    Reply::Json(200, body)
}

/// A read of the pod: one read of a pod whose image still pulls
/// (`set_pull_reads`).
fn get_pod(shared: &Shared, id: &str) -> Reply {
    match world(shared, |w, _| w.read_pod(id)) {
        Some(pod) => Reply::Json(200, render_pod(shared, &pod)),
        None => Reply::Problem(404, "resource not found".into()),
    }
}

fn delete_pod(shared: &Shared, id: &str) -> Reply {
    match world(shared, |w, s| w.delete(s, id)) {
        Ok(()) => Reply::Empty(204),
        Err(err) => from_provider_error(err),
    }
}

/// `PATCH /v2/pods/{id}` with the spec's mount rules (the kind is fixed at
/// create, a network `volumeId` cannot change); the simulator applies the
/// rest (the container restarts: the volume is kept, the container disk
/// wiped). Keys rpd never sends (`name`, `env`, ...) are accepted and
/// ignored.
fn update_pod(shared: &Shared, id: &str, body: &Value) -> Reply {
    let Some(pod) = world(shared, |w, _| w.pods.get(id).cloned()) else {
        return Reply::Problem(404, "resource not found".into());
    };
    let persistent = body.pointer("/mounts/persistent");
    let network = body.pointer("/mounts/network");
    let volume = match (&pod.storage, persistent, network) {
        (_, None, None) => None,
        (Storage::Ephemeral { .. }, Some(mount), None) => Some(VolumeGrowth {
            volume_gb: mount["size"].as_u64().unwrap_or_default() as u32,
            mount: mount["path"].as_str().unwrap_or_default().to_string(),
        }),
        _ => {
            return Reply::Problem(
                400,
                "a PATCH cannot change the kind of a pod's mount (it is fixed at create)".into(),
            );
        }
    };
    let update = PodUpdate {
        image: body["image"].as_str().map(String::from),
        container_disk_gb: body["disk"].as_u64().map(|d| d as u32),
        ports: body["ports"].as_array().map(|ports| {
            ports
                .iter()
                .filter_map(|p| p.as_str().map(String::from))
                .collect()
        }),
        volume,
    };
    match world(shared, |w, s| w.update(s, id, &update)) {
        Ok(pod) => Reply::Json(200, render_pod(shared, &pod)),
        Err(err) => from_provider_error(err),
    }
}

fn pod_action(shared: &Shared, id: &str, action: &str) -> Reply {
    let result = world(shared, |w, s| match action {
        "start" => w.start(s, id),
        "stop" => w.stop(s, id),
        "terminate" => w.delete(s, id),
        "restart" => match w.pods.get(id) {
            Some(p) if p.status == PodStatus::Running => Ok(()),
            Some(p) => Err(ProviderError::Conflict(format!(
                "action \"restart\" is not valid for a pod in status {}",
                p.status
            ))),
            None => Err(ProviderError::NotFound(String::new())),
        },
        other => Err(ProviderError::Invalid(format!("unknown action {other}"))),
    });
    match result {
        Ok(()) if action == "terminate" => Reply::Empty(204),
        Ok(()) => get_pod(shared, id),
        Err(ProviderError::Conflict(_)) => {
            let status = world(shared, |w, _| w.pods.get(id).map(|p| p.status));
            Reply::Problem(
                409,
                format!(
                    "action {action:?} is not valid for a pod in status {}",
                    status.map(|s| s.to_string()).unwrap_or_default()
                ),
            )
        }
        Err(err) => from_provider_error(err),
    }
}

fn from_provider_error(err: ProviderError) -> Reply {
    match err {
        ProviderError::NotFound(_) => Reply::Problem(404, "resource not found".into()),
        ProviderError::Capacity(m) | ProviderError::HostBusy(m) | ProviderError::Invalid(m) => {
            Reply::Problem(400, m)
        }
        ProviderError::Conflict(m) => Reply::Problem(409, m),
        other => Reply::Problem(500, other.to_string()),
    }
}

fn create_pod(shared: &Shared, caller: &str, body: &Value, record: &mut Recorded) -> Reply {
    // Observed live: without gpu.count the scheduler matches no machine and
    // every create fails as "no instances" (the spec's default of 1 is not
    // applied). The body is valid per the spec, so it is recorded as a
    // broken rule of its own.
    if body.pointer("/gpu").is_some() && body.pointer("/gpu/count").is_none() {
        record
            .errors
            .push("$.gpu: `count` omitted; RunPod then matches no machine (observed)".into());
        return Reply::Problem(400, rpd::provider::CAPACITY_MESSAGE.into());
    }
    let mounts = body.get("mounts").cloned().unwrap_or(json!({}));
    if mounts.get("persistent").is_some() && mounts.get("network").is_some() {
        return Reply::Problem(
            400,
            "mounts: persistent and network are mutually exclusive".into(),
        );
    }
    let storage = if let Some(p) = mounts.get("persistent") {
        Storage::Ephemeral {
            volume_gb: p["size"].as_u64().unwrap_or(0) as u32,
            mount: p["path"].as_str().unwrap_or_default().into(),
        }
    } else if let Some(n) = mounts.pointer("/network/0") {
        Storage::NetworkVolume {
            volume_name: String::new(),
            volume_id: n["volumeId"].as_str().map(String::from),
            mount: n["path"].as_str().unwrap_or_default().into(),
        }
    } else {
        // No mounts: no persistent storage at all.
        Storage::Ephemeral {
            volume_gb: 0,
            mount: String::new(),
        }
    };
    let Some(gpu_id) = body.pointer("/gpu/id").and_then(Value::as_str) else {
        return Reply::Problem(400, "only GPU pods are served by this fake".into());
    };
    let gpu_count = body
        .pointer("/gpu/count")
        .and_then(Value::as_u64)
        .unwrap_or(1) as u32;
    let datacenter = body
        .get("dataCenterIds")
        .and_then(|d| d.get(0))
        .and_then(Value::as_str)
        .map(String::from)
        .or_else(|| {
            // The scheduler's choice: the first datacenter with stock.
            world(shared, |w, _| {
                rpd::known::DATACENTERS
                    .iter()
                    .find(|dc| w.free(dc, gpu_id) >= gpu_count)
                    .map(|dc| dc.to_string())
            })
        })
        .unwrap_or_else(|| rpd::known::DATACENTERS[0].to_string());
    let request = CreatePodRequest {
        name: body["name"].as_str().unwrap_or_default().into(),
        image: body["image"].as_str().unwrap_or_default().into(),
        gpu_id: gpu_id.into(),
        gpu_count,
        datacenter_id: datacenter,
        cloud_type: body
            .get("cloud")
            .and_then(Value::as_str)
            .and_then(CloudType::parse)
            .unwrap_or(CloudType::Secure),
        container_disk_gb: body.get("disk").and_then(Value::as_u64).unwrap_or(50) as u32,
        storage,
        ports: body
            .get("ports")
            .and_then(Value::as_array)
            .map(|p| {
                p.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        env: BTreeMap::new(),
        min_vcpu_count: None,
        min_memory_gb: None,
        spot: false,
    };
    let created = world(shared, |w, s| w.create(s, &request));
    let pod = match created {
        Ok(pod) => pod,
        Err(err) => return from_provider_error(err),
    };
    let env: BTreeMap<String, String> = body
        .get("env")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let lost = {
        let mut c = shared.control.lock().unwrap();
        c.env.insert(pod.id.clone(), env);
        if caller != API_KEY {
            c.owners.insert(pod.id.clone(), caller.to_string());
        }
        std::mem::take(&mut c.lose_next_create)
    };
    if lost {
        return Reply::Problem(500, SOMETHING_WENT_WRONG.into());
    }
    Reply::Json(201, render_pod(shared, &pod))
}

fn list_gpu_types(shared: &Shared, query: &HashMap<String, String>) -> Reply {
    let include = query.get("include").map(String::as_str);
    let product = query.get("product").map(String::as_str);
    match (include, product) {
        (Some("AVAILABILITY"), Some(p))
            if p.split(',')
                .all(|p| ["POD", "CLUSTER", "SERVERLESS"].contains(&p)) => {}
        (None, None) => {}
        (Some("AVAILABILITY"), None) => {
            return Reply::Problem(400, "product is required with include=AVAILABILITY".into());
        }
        (None, Some(_)) => {
            return Reply::Problem(
                400,
                "product is valid only with include=AVAILABILITY".into(),
            );
        }
        _ => return Reply::Problem(400, "unsupported include or product".into()),
    }
    if let Some(cloud) = query.get("cloud")
        && CloudType::parse(cloud).is_none()
    {
        return Reply::Problem(400, format!("unsupported cloud {cloud:?}"));
    }
    // Availability for pods of `count` GPUs (the spec's default is one).
    let count: u32 = match query.get("count").map(|c| c.parse::<u32>()) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => return Reply::Problem(400, "count must be a whole number >= 1".into()),
    };
    let availability = include.is_some();
    let gpus: Vec<Value> = world(shared, |w, _| {
        rpd::known::GPU_TYPES
            .iter()
            .map(|(id, name, memory)| {
                let mut gpu = json!({
                    "id": id,
                    "name": name,
                    "pool": null,
                    "manufacturer": if id.starts_with("AMD") { "AMD" } else { "NVIDIA" },
                    "memory": memory,
                    "secure": true,
                    "community": true,
                    "price": {
                        "secure": store::price_per_gpu(id, CloudType::Secure),
                        "community": store::price_per_gpu(id, CloudType::Community),
                    },
                    "maxCount": {
                        "secure": store::MAX_GPUS_PER_POD,
                        "community": store::MAX_GPUS_PER_POD,
                    },
                });
                if availability {
                    let dcs: Vec<Value> = rpd::known::DATACENTERS
                        .iter()
                        .filter_map(|dc| {
                            let level = rpd::provider::sim::stock_for(w.free(dc, id), count);
                            (level != rpd::model::Stock::None).then(|| {
                                json!({"id": dc, "name": dc, "availability": level.as_str().to_uppercase()})
                            })
                        })
                        .collect();
                    gpu["availability"] = json!(if dcs.is_empty() { "NONE" } else { "HIGH" });
                    if !dcs.is_empty() {
                        gpu["dataCenters"] = json!(dcs);
                    }
                }
                gpu
            })
            .collect()
    });
    Reply::Json(200, json!({ "gpus": gpus }))
}

/// Every datacenter the simulator knows, in the spec's shape.
fn list_datacenters() -> Reply {
    let datacenters: Vec<Value> = rpd::known::DATACENTERS
        .iter()
        .map(|dc| {
            json!({
                "id": dc,
                "name": dc,
                "region": if dc.starts_with("US") || dc.starts_with("CA") { "NORTH_AMERICA" } else { "EUROPE" },
                "globalNetwork": false,
                "networkVolumeTypes": ["STANDARD"],
                "compliance": [],
            })
        })
        .collect();
    Reply::Json(200, json!({ "dataCenters": datacenters }))
}

fn list_network_volumes(shared: &Shared) -> Reply {
    let volumes: Vec<Value> = world(shared, |w, _| {
        w.volumes
            .iter()
            .map(|v| {
                json!({
                    "id": v.id,
                    "name": v.name,
                    "size": v.size_gb.max(10),
                    "dataCenter": v.datacenter_id,
                    "type": "STANDARD",
                })
            })
            .collect()
    });
    Reply::Json(200, json!({ "networkVolumes": volumes }))
}

/// `listPodBilling`: the bills of `podId` (all pods without one) from
/// `startTime`; `bucketSize` must be one the spec names.
fn list_pod_billing(shared: &Shared, query: &HashMap<String, String>) -> Reply {
    let bucket = query.get("bucketSize").map_or("day", String::as_str);
    if !["hour", "day", "week", "month", "year"].contains(&bucket) {
        return Reply::Problem(400, format!("invalid bucketSize {bucket:?}"));
    }
    let start = match query
        .get("startTime")
        .map(|t| t.parse::<chrono::DateTime<chrono::Utc>>())
    {
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => return Reply::Problem(400, "invalid startTime".into()),
        None => None,
    };
    let pod_id = query.get("podId");
    let records: Vec<Value> = shared
        .control
        .lock()
        .unwrap()
        .bills
        .iter()
        .filter(|r| pod_id.is_none_or(|id| r["podId"] == id.as_str()))
        .filter(|r| {
            let at = r["startTime"]
                .as_str()
                .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok());
            match (start, at) {
                (Some(start), Some(at)) => at >= start,
                _ => true,
            }
        })
        .cloned()
        .collect();
    let sum = |key: &str| records.iter().filter_map(|r| r[key].as_f64()).sum::<f64>();
    let pods: std::collections::BTreeSet<&str> =
        records.iter().filter_map(|r| r["podId"].as_str()).collect();
    let metadata = json!({
        "query": {
            // The resolved window: RunPod fills in what was not asked.
            "startTime": query.get("startTime").cloned().unwrap_or_else(|| "2026-01-01T00:00:00Z".into()),
            "endTime": query.get("endTime").cloned().unwrap_or_else(|| {
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            }),
            "bucketSize": bucket,
            "podId": pod_id,
        },
        "recordCount": records.len(),
        "uniquePodCount": pods.len(),
        "totals": {
            "totalAmount": sum("totalAmount"),
            "gpuAmount": sum("gpuAmount"),
            "cpuAmount": sum("cpuAmount"),
            "diskAmount": sum("diskAmount"),
        },
    });
    Reply::Json(200, json!({ "records": records, "metadata": metadata }))
}

/// `listNetworkVolumeBilling`: the bills of `networkVolumeId` (all
/// volumes without one) from `startTime`.
fn list_volume_billing(shared: &Shared, query: &HashMap<String, String>) -> Reply {
    let bucket = query.get("bucketSize").map_or("day", String::as_str);
    if !["hour", "day", "week", "month", "year"].contains(&bucket) {
        return Reply::Problem(400, format!("invalid bucketSize {bucket:?}"));
    }
    let start = match query
        .get("startTime")
        .map(|t| t.parse::<chrono::DateTime<chrono::Utc>>())
    {
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => return Reply::Problem(400, "invalid startTime".into()),
        None => None,
    };
    let volume_id = query.get("networkVolumeId");
    let records: Vec<Value> = shared
        .control
        .lock()
        .unwrap()
        .volume_bills
        .iter()
        .filter(|r| volume_id.is_none_or(|id| r["networkVolumeId"] == id.as_str()))
        .filter(|r| {
            let at = r["startTime"]
                .as_str()
                .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok());
            match (start, at) {
                (Some(start), Some(at)) => at >= start,
                _ => true,
            }
        })
        .cloned()
        .collect();
    let sum = |key: &str| records.iter().filter_map(|r| r[key].as_f64()).sum::<f64>();
    let volumes: std::collections::BTreeSet<&str> = records
        .iter()
        .filter_map(|r| r["networkVolumeId"].as_str())
        .collect();
    let metadata = json!({
        "query": {
            "startTime": query.get("startTime").cloned().unwrap_or_else(|| "2026-01-01T00:00:00Z".into()),
            "endTime": query.get("endTime").cloned().unwrap_or_else(|| {
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            }),
            "bucketSize": bucket,
            "networkVolumeId": volume_id,
        },
        "recordCount": records.len(),
        "uniqueNetworkVolumeCount": volumes.len(),
        "totals": {
            "totalAmount": sum("totalAmount"),
            "standardAmount": sum("standardAmount"),
            "highPerformanceAmount": sum("highPerformanceAmount"),
        },
    });
    Reply::Json(200, json!({ "records": records, "metadata": metadata }))
}

/// A simulated pod in the REST v2 `Pod` shape.
fn render_pod(shared: &Shared, pod: &SimPod) -> Value {
    let observed = shared.store.observe(pod, None);
    let (ssh, ssh_ready, env, public_ip, status_override) = {
        let c = shared.control.lock().unwrap();
        let public_ip = !(c.community_without_public_ip && pod.cloud_type == CloudType::Community);
        (
            c.ssh.clone(),
            c.ssh_ready && public_ip,
            c.env.get(&pod.id).cloned().unwrap_or_default(),
            public_ip,
            c.status_override.get(&pod.id).cloned(),
        )
    };
    // RUNNING while the image still pulls: the proxy, no runtime, no
    // direct SSH, for as long as the pull takes (as RunPod reports it).
    let pulling = pod.pulling();
    let running = pod.status == PodStatus::Running && !pulling;
    let direct = (running && ssh_ready && pod.ports.iter().any(|p| p == "22/tcp")).then(|| {
        json!({
            "host": ssh.host,
            "port": ssh.port,
            "username": ssh.username,
            "command": format!("ssh {}@{} -p {}", ssh.username, ssh.host, ssh.port),
        })
    });
    let proxy_user = format!("{}-64411eb2", pod.id);
    let proxy = (pod.status != PodStatus::Provisioning).then(|| {
        json!({
            "host": "ssh.runpod.io",
            "port": 22,
            "username": proxy_user,
            "command": format!("ssh {proxy_user}@ssh.runpod.io"),
        })
    });
    let mounts = match &pod.storage {
        Storage::Ephemeral { volume_gb: 0, .. } => json!({}),
        Storage::Ephemeral { volume_gb, mount } => {
            json!({"persistent": {"size": volume_gb, "path": mount}})
        }
        Storage::NetworkVolume {
            volume_id, mount, ..
        } => json!({"network": [{"volumeId": volume_id, "path": mount}]}),
    };
    let runtime = running.then(|| {
        let uptime = chrono::DateTime::parse_from_rfc3339(&pod.changed_at)
            .map(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                    .num_seconds()
                    .max(0)
            })
            .unwrap_or(0);
        let mut ports = Vec::new();
        if direct.is_some() {
            ports.push(json!({"private": 22, "public": ssh.port, "type": "tcp", "ip": ssh.host}));
        } else if !public_ip {
            // No public IP: each port mapped on RunPod's proxy network
            // only (carrier-grade NAT), 22 with no public port.
            for port in &pod.ports {
                let (number, kind) = port.split_once('/').unwrap_or((port, "tcp"));
                let number: u32 = number.parse().unwrap_or(0);
                ports.push(
                    json!({"private": number, "public": null, "type": kind, "ip": "100.65.0.119"}),
                );
            }
        }
        json!({"uptime": uptime, "ports": ports})
    });
    json!({
        "id": pod.id,
        "name": pod.name,
        "image": pod.image,
        "args": "",
        "disk": pod.container_disk_gb,
        "ports": pod.ports,
        "env": env,
        "registry": null,
        "status": match status_override {
            Some(text) => json!(text),
            None if pulling => json!("RUNNING"),
            None => json!(pod.status.as_str()),
        },
        "actions": observed.actions.unwrap_or_default(),
        "mounts": mounts,
        "gpu": {"id": pod.gpu_id, "count": pod.gpu_count},
        "cloud": pod.cloud_type.as_str(),
        "dataCenterId": pod.datacenter_id,
        "cudaVersion": (pod.status != PodStatus::Provisioning).then_some("12.8"),
        "ssh": {"proxy": proxy, "direct": direct},
        "template": null,
        "cost": observed.cost_per_hr.unwrap_or(0.0),
        "locked": false,
        "globalNetworking": {"enabled": false},
        "runtime": runtime,
        "createdAt": pod.created_at,
        "startedAt": running.then(|| pod.changed_at.clone()),
    })
}

// ------------------------------------------------------------------ spec

/// Validation against RunPod's official REST v2 spec.
pub mod spec {
    use super::*;

    /// The spec as committed (a copy of shared/runpod-api/openapi-v2.json).
    pub fn document() -> &'static Value {
        static DOC: OnceLock<Value> = OnceLock::new();
        DOC.get_or_init(|| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/runpod-api/openapi-v2.json");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            serde_json::from_str(&text).expect("openapi-v2.json is JSON")
        })
    }

    /// A validator for one schema of the spec (a JSON pointer into it, e.g.
    /// `/components/schemas/CreatePodRequest`), with the document's
    /// components beside it so every `$ref` resolves.
    pub fn validator(pointer: &str) -> Arc<jsonschema::Validator> {
        static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
            OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(v) = cache.lock().unwrap().get(pointer) {
            return v.clone();
        }
        let doc = document();
        let mut schema = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("the spec has no {pointer}"))
            .clone();
        schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        schema["components"] = doc["components"].clone();
        let validator = Arc::new(
            jsonschema::draft202012::new(&schema)
                .unwrap_or_else(|e| panic!("{pointer} does not compile: {e}")),
        );
        cache
            .lock()
            .unwrap()
            .insert(pointer.to_string(), validator.clone());
        validator
    }

    /// RunPod-style messages (`$.gpu: ...`) for every violation.
    pub fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
        validator
            .iter_errors(instance)
            .map(|e| {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() {
                    "$".to_string()
                } else {
                    format!("${}", at.replace('/', "."))
                };
                format!("{at}: {e}")
            })
            .collect()
    }

    fn escape(path: &str) -> String {
        path.replace('~', "~0").replace('/', "~1")
    }

    /// `None` when the operation takes no body; else every violation of its
    /// request schema (a missing required body is one).
    pub fn validate_request(path: &str, method: &str, body: Option<&Value>) -> Option<Vec<String>> {
        let pointer = format!(
            "/paths/{}/{method}/requestBody/content/application~1json/schema",
            escape(path)
        );
        document().pointer(&pointer)?;
        let Some(body) = body else {
            return Some(vec!["$: a request body is required".into()]);
        };
        Some(errors(&validator(&pointer), body))
    }

    /// Every violation of the operation's response schema for `status`.
    pub fn validate_response(path: &str, method: &str, status: u16, body: &Value) -> Vec<String> {
        let pointer = format!(
            "/paths/{}/{method}/responses/{status}/content/application~1json/schema",
            escape(path)
        );
        if document().pointer(&pointer).is_none() {
            return vec![format!(
                "the spec has no {status} JSON answer for {method} {path}"
            )];
        }
        errors(&validator(&pointer), body)
    }

    /// Violations of `CreatePodRequest`, for tests of the validator itself.
    pub fn create_pod_errors(body: &Value) -> Vec<String> {
        validate_request("/v2/pods", "post", Some(body)).expect("createPod has a body")
    }
}
