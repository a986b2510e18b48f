//! `--provider runpodctl`: RunPod through the `runpodctl` v2 CLI, run as a
//! subprocess, as runpod-deploy did. Facts it relies on are in
//! `shared/reference/runpod-api.md` §1; the modules are small on purpose:
//! where runpodctl is and how it is run (`process`), which build it is and
//! what its `pod create` accepts (`version`), the create command line
//! (`args`), its JSON (`parse`) and its errors (`errors`).
//!
//! Money safety: a create is never retried here; a create that timed out is
//! reported as `Transient` (ambiguous), and apply then looks the pod up by
//! name. Only a definite not-found makes `get` answer "gone".

pub mod args;
pub mod errors;
pub mod parse;
pub mod process;
pub mod version;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::{
    Catalog, CreatePodRequest, GpuTypeLimit, NetworkVolume, Offer, Provider, ProviderError,
    ProviderResult,
};
use crate::model::{CloudType, InPlaceUpdates, ObservedPod, PodUpdate};
use crate::retry::PollSchedule;
use process::{Output, RunError, Runner};
use version::{FlagProbe, Version};

/// Per-call deadline (runpodctl's own HTTP timeout is 30 s, and `pod get`
/// makes two calls); `RPD_RUNPODCTL_TIMEOUT` (e.g. `90s`) overrides it.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
const TIMEOUT_ENV: &str = "RPD_RUNPODCTL_TIMEOUT";
/// The longest wait between two looks at a changing pod (`RPD_RUNPODCTL_POLL`
/// overrides); looks start faster (`provider::CHANGING_POD`).
const DEFAULT_POLL: Duration = super::LONGEST_CHANGING_POD_WAIT;
const POLL_ENV: &str = "RPD_RUNPODCTL_POLL";
/// The `--version` check when the provider is chosen.
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Locate(#[from] process::LocateError),
    #[error(
        "`{program} --version` failed: {detail}\n  = help: check that runpodctl v2 is installed and runs: `runpodctl --version`"
    )]
    VersionFailed { program: String, detail: String },
    #[error(transparent)]
    Version(#[from] version::VersionError),
    #[error("{name}={value:?} is not a duration ({problem}); examples: 30s, 2m")]
    BadDuration {
        name: &'static str,
        value: String,
        problem: String,
    },
}

pub struct RunpodctlProvider {
    runner: Runner,
    version: Version,
    /// Of the key runpodctl uses (found where runpodctl looks), if any.
    key_fingerprint: Option<String>,
    poll: Duration,
    probe: tokio::sync::OnceCell<FlagProbe>,
    /// `pod --help`'s commands, or why they could not be read.
    pod_commands: tokio::sync::OnceCell<Result<BTreeSet<String>, String>>,
    warnings: Mutex<Vec<String>>,
    /// The RunPod pod rpd runs inside (`RUNPOD_POD_ID`) when runpodctl's key
    /// is `RUNPOD_API_KEY`: there, the pod's own key.
    inside_pod: Option<String>,
}

fn duration_env(name: &'static str, default: Duration) -> Result<Duration, SetupError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => {
            humantime::parse_duration(value.trim()).map_err(|e| SetupError::BadDuration {
                name,
                value,
                problem: e.to_string(),
            })
        }
        _ => Ok(default),
    }
}

impl RunpodctlProvider {
    /// The runpodctl of `RPD_RUNPODCTL` or PATH, checked with `--version`.
    pub fn from_env() -> Result<RunpodctlProvider, SetupError> {
        let program = process::locate(
            std::env::var_os(process::PROGRAM_ENV),
            std::env::var_os("PATH"),
        )?;
        let mut provider =
            RunpodctlProvider::open(program, duration_env(TIMEOUT_ENV, DEFAULT_TIMEOUT)?)?;
        provider.poll = duration_env(POLL_ENV, DEFAULT_POLL)?;
        let set = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        provider.inside_pod = set(super::rest_v2::settings::ENV_POD_ID)
            .filter(|_| set(super::rest_v2::settings::ENV_API_KEY).is_some());
        Ok(provider)
    }

    /// Runs `program --version` once: refuses v1 and unknown versions,
    /// warns (once, on stderr) for builds known to use REST v1.
    pub fn open(program: PathBuf, timeout: Duration) -> Result<RunpodctlProvider, SetupError> {
        let shown = program.display().to_string();
        let out = Runner::new(program.clone(), VERSION_TIMEOUT)
            .run_blocking(&["--version"])
            .map_err(|e| SetupError::VersionFailed {
                program: shown.clone(),
                detail: e.to_string(),
            })?;
        let printed = format!("{}{}", out.stdout, out.stderr);
        if !out.success() {
            return Err(SetupError::VersionFailed {
                program: shown,
                detail: format!("exit status {:?}: {}", out.status, printed.trim()),
            });
        }
        let found = version::parse(&printed).ok_or_else(|| version::VersionError::Unreadable {
            program: shown,
            printed: format!("{:?}", printed.trim()),
        })?;
        let warning = version::check(found)?;
        let provider = RunpodctlProvider {
            runner: Runner::new(program, timeout),
            version: found,
            key_fingerprint: super::rest_v2::settings::users_api_key()
                .ok()
                .map(|key| super::api_key_fingerprint(&key)),
            poll: DEFAULT_POLL,
            probe: tokio::sync::OnceCell::new(),
            pod_commands: tokio::sync::OnceCell::new(),
            warnings: Mutex::new(Vec::new()),
            inside_pod: None,
        };
        if let Some(w) = warning {
            provider.warn(w);
        }
        Ok(provider)
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// Every warning printed so far.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// Prints a warning on stderr, once per process.
    fn warn(&self, message: String) {
        let Ok(mut seen) = self.warnings.lock() else {
            return;
        };
        if !seen.contains(&message) {
            crate::note!("warning: {message}");
            seen.push(message);
        }
    }

    /// `runpodctl args...`: output on success, a classified error otherwise.
    async fn run(&self, what: &str, args: &[String]) -> ProviderResult<Output> {
        match self.runner.run(args).await {
            Ok(out) if out.success() => Ok(out),
            // Refused before anything was done, and every later command
            // would be too: one clear error, never "gone" or a capacity miss.
            Ok(out) if errors::rest_v1_gone(&out) => Err(ProviderError::Rejected(
                version::rest_v1_gone(self.version, what),
            )),
            Ok(out) => Err(match (errors::classify(what, &out), &self.inside_pod) {
                // Inside a pod, RUNPOD_API_KEY is the pod's own key unless
                // set by hand: say so, or the refusal reads as a bad key.
                (ProviderError::Auth(why), Some(pod)) => ProviderError::Auth(format!(
                    "{why}\n  = help: rpd runs inside RunPod pod {pod} (RUNPOD_POD_ID is set), where RUNPOD_API_KEY is the pod's own key, which can do nothing beyond its pod: set RUNPOD_API_KEY to your account's API key"
                )),
                (err, _) => err,
            }),
            Err(RunError::TimedOut(t)) => Err(ProviderError::Transient(format!(
                "runpodctl {what} gave no answer within {} and was stopped (raise {TIMEOUT_ENV}, e.g. {TIMEOUT_ENV}=5m)",
                humantime::format_duration(t)
            ))),
            Err(e @ RunError::Spawn { .. }) => {
                Err(ProviderError::Other(format!("runpodctl {what}: {e}")))
            }
        }
    }

    async fn run_json(&self, what: &str, args: &[String]) -> ProviderResult<Value> {
        let out = self.run(what, args).await?;
        parse::json(&format!("runpodctl {what}"), &out.stdout).map_err(bad_output)
    }

    /// `pod create --help`, read once; a failure is said, not fatal.
    async fn probe(&self) -> &FlagProbe {
        self.probe
            .get_or_init(|| async {
                let args = ["pod", "create", "--help"].map(String::from);
                let probe = match self.runner.run(&args).await {
                    Ok(out) if out.success() => {
                        let flags = version::parse_help(&out.stdout);
                        if flags.is_empty() {
                            FlagProbe::Failed("it listed no flags".into())
                        } else {
                            FlagProbe::Known(flags)
                        }
                    }
                    Ok(out) => FlagProbe::Failed(errors::raw_text(&out.stderr)),
                    Err(e) => FlagProbe::Failed(e.to_string()),
                };
                if let FlagProbe::Failed(why) = &probe {
                    self.warn(format!(
                        "could not read `runpodctl pod create --help` ({why}): optional create flags (--spot, --min-vcpu-count, --min-memory-in-gb) are passed as configured, and runpodctl refuses any it lacks"
                    ));
                }
                probe
            })
            .await
    }
}

impl RunpodctlProvider {
    /// `pod --help`'s commands, read once.
    async fn pod_commands(&self) -> &Result<BTreeSet<String>, String> {
        self.pod_commands
            .get_or_init(|| async {
                let args = ["pod", "--help"].map(String::from);
                match self.runner.run(&args).await {
                    Ok(out) if out.success() => {
                        let commands = version::parse_commands(&out.stdout);
                        if commands.is_empty() {
                            Err("it listed no commands".into())
                        } else {
                            Ok(commands)
                        }
                    }
                    Ok(out) => Err(errors::raw_text(&out.stderr)),
                    Err(e) => Err(e.to_string()),
                }
            })
            .await
    }
}

fn bad_output(e: parse::ParseError) -> ProviderError {
    ProviderError::Other(format!(
        "{e}\n  = help: rpd reads runpodctl v2's JSON; check `runpodctl --version` and report this output"
    ))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

#[async_trait]
impl Provider for RunpodctlProvider {
    fn name(&self) -> &'static str {
        "runpodctl"
    }

    fn poll_schedule(&self) -> PollSchedule {
        super::changing_pod_schedule(self.poll)
    }

    fn api_key_fingerprint(&self) -> Option<String> {
        self.key_fingerprint.clone()
    }

    /// From v2.9 `pod get` says why a running pod has no SSH endpoint, so
    /// a COMMUNITY pod on a machine without a public IP (RunPod's proxy
    /// only) is told from one still pulling its image.
    fn reports_ssh_proxy(&self) -> bool {
        self.version >= version::NOT_READY_REASONS
    }

    async fn get(&self, id: &str) -> ProviderResult<Option<ObservedPod>> {
        let what = format!("pod get {id}");
        let args = strings(&["pod", "get", id, "--include-machine", "-o", "json"]);
        match self.run_json(&what, &args).await {
            Ok(value) => parse::pod(&value).map(Some).map_err(bad_output),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn describe(&self, id: &str) -> ProviderResult<Option<serde_json::Value>> {
        let what = format!("pod get {id}");
        let args = strings(&["pod", "get", id, "--include-machine", "-o", "json"]);
        match self.run_json(&what, &args).await {
            Ok(value) => Ok(Some(value)),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list(&self) -> ProviderResult<Vec<ObservedPod>> {
        // Every pod, stopped ones too: `-a` from v2.1.0; v2.0's `pod list`
        // lists them all and refuses the flag.
        let args: &[&str] = if self.version >= version::LIST_ALL {
            &["pod", "list", "-a", "-o", "json"]
        } else {
            &["pod", "list", "-o", "json"]
        };
        let value = self.run_json("pod list", &strings(args)).await?;
        parse::pods(&value).map_err(bad_output)
    }

    /// Sent once: never retried, whatever the failure.
    async fn create(&self, request: &CreatePodRequest) -> ProviderResult<ObservedPod> {
        let probe = self.probe().await;
        let made = args::create(request, probe, &self.version.to_string())?;
        for warning in made.warnings {
            self.warn(warning);
        }
        let out = self.run("pod create", &made.args).await?;
        // The pod exists now: an unreadable answer is ambiguous, not invalid.
        let value = parse::json("runpodctl pod create", &out.stdout).map_err(bad_output)?;
        parse::pod(&value).map_err(bad_output)
    }

    /// When `runpodctl pod --help` lists `update`.
    async fn in_place_updates(&self) -> InPlaceUpdates {
        let version = self.version.to_string();
        match self.pod_commands().await {
            Ok(commands) if commands.contains("update") => InPlaceUpdates::Supported,
            Ok(_) => InPlaceUpdates::RunpodctlWithoutUpdate { version },
            Err(error) => InPlaceUpdates::RunpodctlHelpUnreadable {
                version,
                error: error.clone(),
            },
        }
    }

    /// `pod update` with only the changed fields; runpodctl sends one
    /// PATCH and never retries it.
    async fn update(&self, id: &str, update: &PodUpdate) -> ProviderResult<ObservedPod> {
        let what = format!("pod update {id}");
        let value = self.run_json(&what, &args::update(id, update)).await?;
        parse::pod(&value).map_err(bad_output)
    }

    async fn start(&self, id: &str) -> ProviderResult<()> {
        self.run(
            &format!("pod start {id}"),
            &strings(&["pod", "start", id, "-o", "json"]),
        )
        .await
        .map(drop)
    }

    async fn stop(&self, id: &str) -> ProviderResult<()> {
        self.run(
            &format!("pod stop {id}"),
            &strings(&["pod", "stop", id, "-o", "json"]),
        )
        .await
        .map(drop)
    }

    async fn delete(&self, id: &str) -> ProviderResult<()> {
        match self
            .run(
                &format!("pod delete {id}"),
                &strings(&["pod", "delete", id, "-o", "json"]),
            )
            .await
        {
            Ok(_) | Err(ProviderError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `datacenter list` (stock) and `gpu list` (GPU types and prices).
    /// runpodctl has no count: stock is for one GPU, and the most GPUs a
    /// pod can have is not said.
    async fn catalog(
        &self,
        gpu_ids: &[String],
        datacenter_ids: &[String],
        cloud_type: CloudType,
        _gpu_count: u32,
    ) -> ProviderResult<Catalog> {
        let dc_args = strings(&["datacenter", "list", "-o", "json"]);
        let gpu_args = strings(&["gpu", "list", "--include-unavailable", "-o", "json"]);
        let (dcs, gpus) = tokio::join!(
            self.run_json("datacenter list", &dc_args),
            self.run_json("gpu list", &gpu_args),
        );
        let stock = parse::datacenters(&dcs?).map_err(bad_output)?;
        // Prices and the GPU list are a nicety: without them the plan says
        // "price unknown" and does not judge GPU ids.
        let gpus = match gpus.and_then(|g| parse::gpu_prices(&g).map_err(bad_output)) {
            Ok(gpus) => Some(gpus),
            Err(e) => {
                self.warn(format!("GPU prices are unknown: {e}"));
                None
            }
        };
        let prices = gpus.as_ref().filter(|g| g.has_price_fields);
        if gpus.is_some() && prices.is_none() {
            self.warn(format!(
                "runpodctl {} prints no GPU prices (`gpu list` has them from v2.8): prices are unknown",
                self.version
            ));
        }
        let offers = datacenter_ids
            .iter()
            .flat_map(|dc| gpu_ids.iter().map(move |gpu| (dc, gpu)))
            .map(|(dc, gpu)| Offer {
                datacenter_id: dc.clone(),
                gpu_id: gpu.clone(),
                stock: stock.stock(dc, gpu),
                price_per_gpu_hr: prices.and_then(|p| p.price(gpu, cloud_type)),
            })
            .collect();
        Ok(Catalog {
            offers,
            gpu_types: gpus.map(|g| {
                g.prices
                    .into_iter()
                    .map(|(id, ..)| GpuTypeLimit {
                        id,
                        max_count: None,
                    })
                    .collect()
            }),
            datacenters: Some(stock.stock.keys().cloned().collect()),
        })
    }

    async fn network_volumes(&self) -> ProviderResult<Vec<NetworkVolume>> {
        let value = self
            .run_json(
                "network-volume list",
                &strings(&["network-volume", "list", "-o", "json"]),
            )
            .await?;
        parse::network_volumes(&value).map_err(bad_output)
    }
}
