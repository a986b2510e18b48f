//! fake-runpodctl: a stand-in for `runpodctl` v2 in rpd's tests.
//!
//! Its world is the simulator's (`rpd::provider::sim::store::Store`), so
//! stock, capacity errors, host-busy starts and boot times are the
//! simulator's, and `rpd sim ...` with `RPD_SIM_DIR` set to the same
//! directory inspects and changes it. It prints runpodctl's formats and
//! refuses flags runpodctl does not have. Set by the environment:
//!
//! | variable | meaning |
//! |---|---|
//! | `FAKE_RUNPODCTL_DIR` | the world's directory (required) |
//! | `FAKE_RUNPODCTL_VERSION` | `2.8.0` by default; `2.7.2` gives the two-line error shape, `1.14.8` an old CLI |
//! | `FAKE_RUNPODCTL_LOG` | where each invocation's argv is appended as a JSON line (default `<dir>/runpodctl.log`) |
//! | `FAKE_RUNPODCTL_SSH_HOST`, `FAKE_RUNPODCTL_SSH_PORT` | the SSH endpoint of running pods (127.0.0.1:22) |
//! | `FAKE_RUNPODCTL_EXTRA_CREATE_FLAGS` | comma-separated flags `pod create` also accepts (`spot,min-vcpu-count`); `-public-ip`: one it lacks |
//! | `FAKE_RUNPODCTL_HELP_FAILS` | `pod create --help` fails |
//! | `FAKE_RUNPODCTL_WITHOUT_UPDATE` | a build without `pod update` (its `pod --help` does not list it) |
//! | `FAKE_RUNPODCTL_FAIL` | `pod get=500`: that command answers with this HTTP status, changing nothing |
//! | `FAKE_RUNPODCTL_HANG_AFTER` | `pod create`: that command changes the world, then hangs |
//! | `FAKE_RUNPODCTL_NO_PUBLIC_IP` | COMMUNITY machines have no public IP: a pod created without `--public-ip` runs with 22 not publicly routable |
//! | `RUNPOD_API_KEY` | must be set, as for the real CLI |

mod cli;
mod shapes;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use rpd::known;
use rpd::model::{CloudType, PodUpdate, Storage, VolumeGrowth};
use rpd::provider::sim::store::{Store, World};
use rpd::provider::sim::{stock_level, store};
use rpd::provider::{CreatePodRequest, ProviderError};
use serde_json::{Value, json};

use cli::Invocation;
use shapes::Failure;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    fn parse(text: &str) -> Option<Version> {
        let mut parts = text.trim().trim_start_matches('v').split('.');
        Some(Version {
            major: parts.next()?.parse().ok()?,
            minor: parts.next()?.parse().ok()?,
            patch: parts.next().unwrap_or("0").parse().ok()?,
        })
    }
}

struct Config {
    version: Version,
    version_text: String,
    store: Store,
    ssh_host: String,
    ssh_port: u16,
    extra_create: Vec<String>,
    help_fails: bool,
    without_update: bool,
    fail: Option<(String, u16)>,
    hang_after: Option<String>,
    home: String,
    no_public_ip: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Config {
    fn from_env() -> Result<Config, String> {
        let dir = env("FAKE_RUNPODCTL_DIR")
            .ok_or("fake-runpodctl: set FAKE_RUNPODCTL_DIR to the simulator directory it serves")?;
        let version_text = env("FAKE_RUNPODCTL_VERSION").unwrap_or_else(|| "2.8.0".into());
        let version = Version::parse(&version_text).ok_or_else(|| {
            format!("fake-runpodctl: FAKE_RUNPODCTL_VERSION={version_text:?} is not X.Y.Z")
        })?;
        let fail = match env("FAKE_RUNPODCTL_FAIL") {
            None => None,
            Some(spec) => {
                let (command, status) = spec
                    .rsplit_once('=')
                    .and_then(|(c, s)| Some((c.to_string(), s.parse().ok()?)))
                    .ok_or_else(|| {
                        format!("fake-runpodctl: FAKE_RUNPODCTL_FAIL={spec:?} is not `pod get=500`")
                    })?;
                Some((command, status))
            }
        };
        Ok(Config {
            version,
            version_text,
            store: Store::new(PathBuf::from(dir)),
            ssh_host: env("FAKE_RUNPODCTL_SSH_HOST").unwrap_or_else(|| "127.0.0.1".into()),
            ssh_port: env("FAKE_RUNPODCTL_SSH_PORT")
                .and_then(|p| p.parse().ok())
                .unwrap_or(22),
            extra_create: env("FAKE_RUNPODCTL_EXTRA_CREATE_FLAGS")
                .map(|f| f.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default(),
            help_fails: env("FAKE_RUNPODCTL_HELP_FAILS").is_some(),
            without_update: env("FAKE_RUNPODCTL_WITHOUT_UPDATE").is_some(),
            fail,
            hang_after: env("FAKE_RUNPODCTL_HANG_AFTER"),
            no_public_ip: env("FAKE_RUNPODCTL_NO_PUBLIC_IP").is_some(),
            home: env("HOME").unwrap_or_else(|| "/root".into()),
        })
    }

    fn log(&self, argv: &[String]) {
        let path = env("FAKE_RUNPODCTL_LOG")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.store.dir().join("runpodctl.log"));
        let _ = std::fs::create_dir_all(self.store.dir());
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            // One write per line: concurrent invocations append atomically.
            let line = format!("{}\n", json!(argv));
            let _ = file.write_all(line.as_bytes());
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    config.log(&argv);
    if argv.first().is_some_and(|a| a == "--version" || a == "-v") {
        if config.version.major < 2 {
            // cobra's default version template
            println!("runpodctl version v{}", config.version_text);
        } else {
            println!("runpodctl v{}", config.version_text);
        }
        return ExitCode::SUCCESS;
    }
    if config.version.major < 2 {
        eprintln!(
            "Error: unknown command \"{}\" for \"runpodctl\"\nRun 'runpodctl --help' for usage.",
            argv.first().map(String::as_str).unwrap_or("")
        );
        return ExitCode::from(1);
    }
    match run(&config, &argv) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprint!("{}", shapes::failure(config.version, &failure));
            ExitCode::from(1)
        }
    }
}

fn run(config: &Config, argv: &[String]) -> Result<String, Failure> {
    let mut commands = cli::commands(config.version, &config.extra_create);
    if config.without_update {
        commands.retain(|c| c.path != "pod update");
    }
    if let [noun, help] = argv
        && (help == "--help" || help == "-h")
        && let Some(text) = cli::group_help(&commands, noun)
    {
        return Ok(text);
    }
    let (inv, command) = cli::parse(&commands, argv).map_err(|e| Failure::Usage {
        message: e.message,
        usage: e.usage,
    })?;
    if inv.help {
        if config.help_fails && inv.path == "pod create" {
            return Err(Failure::Local {
                action: None,
                message: "help is unavailable in this build".into(),
                code: "cli_error",
                usage: None,
            });
        }
        return Ok(cli::help(command));
    }
    if let Some(output) = inv.output.as_deref()
        && output != "json"
    {
        let strict = config.version
            >= (Version {
                major: 2,
                minor: 10,
                patch: 0,
            });
        if strict && output != "yaml" {
            return Err(Failure::Usage {
                message: format!("invalid --output {output:?} (use json or yaml)"),
                usage: cli::usage(command),
            });
        }
        if output == "yaml" {
            return Err(Failure::Local {
                action: None,
                message: "fake-runpodctl prints json only".into(),
                code: "cli_error",
                usage: None,
            });
        }
    }
    if env("RUNPOD_API_KEY").is_none() {
        return Err(Failure::Local {
            action: None,
            message: "api key not found. get your key at https://www.runpod.io/console/user/settings then: export RUNPOD_API_KEY=your-key OR run: runpodctl doctor".into(),
            code: "no_credentials",
            usage: None,
        });
    }
    if let Some((command, status)) = &config.fail
        && *command == inv.path
    {
        return Err(Failure::Rest {
            action: action(&inv.path),
            status: *status,
            message: "Something went wrong.".into(),
        });
    }
    let usage = cli::usage(command);
    let out = config
        .store
        .with(|world, store| execute(config, &inv, world, store, &usage))
        .map_err(|e| Failure::Local {
            action: None,
            message: format!("fake-runpodctl: simulator store: {e}"),
            code: "cli_error",
            usage: None,
        })??;
    if config.hang_after.as_deref() == Some(inv.path.as_str()) {
        std::thread::sleep(Duration::from_secs(300));
    }
    Ok(out)
}

/// What `failed to ...` says for a command.
fn action(path: &str) -> &'static str {
    match path {
        "pod create" => "create pod",
        "pod get" => "get pod",
        "pod list" => "list pods",
        "pod start" => "start pod",
        "pod update" => "update pod",
        "pod stop" => "stop pod",
        "pod delete" => "delete pod",
        "datacenter list" => "list datacenters",
        "gpu list" => "list gpus",
        _ => "list network volumes",
    }
}

fn sleep_latency(world: &World) {
    if world.latency_ms > 0 {
        std::thread::sleep(Duration::from_millis(world.latency_ms));
    }
}

/// A simulator error on a REST verb, as REST v1 answers it.
fn rest_failure(path: &str, err: ProviderError) -> Failure {
    let verb = path.rsplit(' ').next().unwrap_or("");
    let (status, message) = match err {
        ProviderError::NotFound(_) => (404, "pod not found".to_string()),
        // Live REST v1: 500 {"error":"start pod: There are not enough free GPUs ..."}
        ProviderError::HostBusy(m) => (500, format!("{verb} pod: {m}")),
        ProviderError::Conflict(m) => (409, m),
        other => (400, other.to_string()),
    };
    Failure::Rest {
        action: action(path),
        status,
        message,
    }
}

fn execute(
    config: &Config,
    inv: &Invocation,
    world: &mut World,
    store: &Store,
    usage: &str,
) -> Result<String, Failure> {
    let v = config.version;
    let id = inv.args.first().map(String::as_str).unwrap_or("");
    match inv.path.as_str() {
        "pod get" => {
            world.count("get");
            sleep_latency(world);
            // One read of a pod whose image pulls counts the pull down.
            let pod = world
                .read_pod(id)
                .ok_or_else(|| rest_failure(&inv.path, ProviderError::NotFound(id.into())))?;
            let public_ip = !(config.no_public_ip
                && pod.cloud_type == CloudType::Community
                && !public_ip_pods(store).contains(&pod.id));
            let mut out = shapes::rest_pod(v, &pod, inv.set("include-machine"));
            out.insert(
                "ssh".into(),
                shapes::ssh_block(
                    v,
                    &pod,
                    &config.ssh_host,
                    config.ssh_port,
                    &config.home,
                    public_ip,
                ),
            );
            Ok(shapes::print(Value::Object(out)))
        }
        "pod list" => {
            world.count("list");
            sleep_latency(world);
            if inv.set("all") && inv.value("status").is_some() {
                return Err(Failure::Local {
                    action: None,
                    message: "--all and --status cannot be used together".into(),
                    code: "cli_error",
                    usage: None,
                });
            }
            let wanted = match inv.value("status") {
                Some(s) => Some(s.to_ascii_uppercase()),
                None if inv.set("all") || v < cli::LIST_FILTERS => None,
                None => Some("RUNNING".to_string()),
            };
            let items: Vec<Value> = world
                .pods
                .values()
                .filter(|p| {
                    wanted
                        .as_deref()
                        .is_none_or(|w| shapes::desired_status(p.status) == w)
                })
                .filter(|p| inv.value("name").is_none_or(|n| p.name == n))
                .map(|p| shapes::list_item(v, p))
                .collect();
            Ok(shapes::print(Value::Array(items)))
        }
        "pod create" => {
            world.count("create");
            sleep_latency(world);
            create(inv, world, store, usage, v)
        }
        "pod start" | "pod stop" => {
            let verb = if inv.path == "pod start" {
                "start"
            } else {
                "stop"
            };
            world.count(verb);
            sleep_latency(world);
            let result = if verb == "start" {
                world.start(store, id)
            } else {
                world.stop(store, id)
            };
            result.map_err(|e| rest_failure(&inv.path, e))?;
            let pod = world
                .pods
                .get(id)
                .ok_or_else(|| rest_failure(&inv.path, ProviderError::NotFound(id.into())))?;
            Ok(shapes::print(Value::Object(shapes::rest_pod(
                v, pod, false,
            ))))
        }
        "pod update" => {
            world.count("update");
            sleep_latency(world);
            let mount = world
                .pods
                .get(id)
                .map(|p| p.storage.mount().to_string())
                .unwrap_or_default();
            let update = pod_update(inv, usage, &mount)?;
            let pod = world
                .update(store, id, &update)
                .map_err(|e| rest_failure(&inv.path, e))?;
            Ok(shapes::print(Value::Object(shapes::rest_pod(
                v, &pod, false,
            ))))
        }
        "pod delete" => {
            world.count("delete");
            sleep_latency(world);
            world
                .delete(store, id)
                .map_err(|e| rest_failure(&inv.path, e))?;
            Ok(shapes::print(json!({"deleted": true, "id": id})))
        }
        "datacenter list" => {
            world.count("catalog");
            sleep_latency(world);
            Ok(shapes::print(datacenters(world)))
        }
        "gpu list" => {
            world.count("prices");
            sleep_latency(world);
            Ok(shapes::print(gpus(
                world,
                v,
                inv.set("include-unavailable"),
            )))
        }
        _ => {
            world.count("network_volumes");
            sleep_latency(world);
            let volumes: Vec<Value> = world
                .volumes
                .iter()
                .map(|v| json!({"id": v.id, "name": v.name, "size": v.size_gb, "dataCenterId": v.datacenter_id}))
                .collect();
            Ok(shapes::print(Value::Array(volumes)))
        }
    }
}

/// `pod update`'s flags as the PATCH runpodctl sends (an absent flag
/// leaves the field alone).
fn pod_update(inv: &Invocation, usage: &str, mount: &str) -> Result<PodUpdate, Failure> {
    let number = |name: &str| -> Result<Option<u32>, Failure> {
        inv.value(name)
            .map(|text| {
                text.parse().map_err(|_| Failure::Usage {
                    message: format!(
                        "invalid argument \"{text}\" for \"--{name}\" flag: strconv.ParseInt: parsing \"{text}\": invalid syntax"
                    ),
                    usage: usage.to_string(),
                })
            })
            .transpose()
    };
    let volume = number("volume-in-gb")?.map(|volume_gb| VolumeGrowth {
        volume_gb,
        mount: inv.value("volume-mount-path").unwrap_or(mount).to_string(),
    });
    Ok(PodUpdate {
        image: inv.value("image").map(String::from),
        container_disk_gb: number("container-disk-in-gb")?,
        ports: inv
            .value("ports")
            .map(|p| p.split(',').map(String::from).collect()),
        volume,
    })
}

/// The GraphQL `stockStatus` of free GPUs; none comes back as null, which
/// runpodctl's Go struct prints as "".
fn stock_text(free: u32) -> &'static str {
    match stock_level(free) {
        rpd::model::Stock::High => "High",
        rpd::model::Stock::Medium => "Medium",
        rpd::model::Stock::Low => "Low",
        _ => "",
    }
}

fn datacenters(world: &World) -> Value {
    let list: Vec<Value> = known::DATACENTERS
        .iter()
        .map(|dc| {
            let gpus: Vec<Value> = known::GPU_TYPES
                .iter()
                .map(|(gpu, name, _)| {
                    json!({"gpuTypeId": gpu, "displayName": name, "stockStatus": stock_text(world.free(dc, gpu))})
                })
                .collect();
            json!({"id": dc, "name": dc, "location": shapes::location(dc), "gpuAvailability": gpus})
        })
        .collect();
    Value::Array(list)
}

fn gpus(world: &World, v: Version, include_unavailable: bool) -> Value {
    let rank = |s: &str| {
        ["", "Low", "Medium", "High"]
            .iter()
            .position(|r| *r == s)
            .unwrap_or(0)
    };
    let list: Vec<Value> = known::GPU_TYPES
        .iter()
        .filter_map(|(gpu, name, memory)| {
            let per_dc: Vec<(&str, &str)> = known::DATACENTERS
                .iter()
                .map(|dc| (*dc, stock_text(world.free(dc, gpu))))
                .collect();
            let best = per_dc
                .iter()
                .map(|(_, s)| *s)
                .max_by_key(|s| rank(s))
                .unwrap_or("");
            let available = !best.is_empty();
            if !available && !include_unavailable {
                return None;
            }
            let mut item = json!({
                "gpuTypeId": gpu, "displayName": name, "memoryInGb": memory,
                "secureCloud": true, "communityCloud": true, "available": available,
            });
            if available {
                item["stockStatus"] = json!(best);
            }
            if v >= (Version {
                major: 2,
                minor: 8,
                patch: 0,
            }) {
                item["securePricePerHr"] = json!(store::price_per_gpu(gpu, CloudType::Secure));
                item["communityPricePerHr"] =
                    json!(store::price_per_gpu(gpu, CloudType::Community));
                let dcs: Vec<Value> = per_dc
                    .iter()
                    .filter(|(_, s)| !s.is_empty())
                    .map(|(dc, s)| json!({"dataCenterId": dc, "stockStatus": s}))
                    .collect();
                if !dcs.is_empty() {
                    item["dataCenterAvailability"] = Value::Array(dcs);
                }
            }
            Some(item)
        })
        .collect();
    Value::Array(list)
}

fn number(inv: &Invocation, name: &str, default: u32, usage: &str) -> Result<u32, Failure> {
    match inv.value(name) {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| Failure::Usage {
            message: format!(
                "invalid argument \"{text}\" for \"--{name}\" flag: strconv.ParseInt: parsing \"{text}\": invalid syntax"
            ),
            usage: usage.to_string(),
        }),
    }
}

fn create(
    inv: &Invocation,
    world: &mut World,
    store: &Store,
    usage: &str,
    v: Version,
) -> Result<String, Failure> {
    // v2.0-v2.7 print usage after any runtime error of `pod create`.
    let usage_after = (v < Version {
        major: 2,
        minor: 8,
        patch: 0,
    })
    .then(|| usage.to_string());
    let local = |message: String| Failure::Local {
        action: Some("create pod"),
        message,
        code: "cli_error",
        usage: usage_after.clone(),
    };
    let image = inv.value("image").unwrap_or("").to_string();
    if image.is_empty() && inv.value("template-id").is_none() {
        return Err(local(
            "either --template-id or --image is required\n\nuse 'runpodctl template search <term>' to find templates".into(),
        ));
    }
    let gpu_id = inv.value("gpu-id").unwrap_or("").trim().to_string();
    if gpu_id.contains(',') {
        return Err(local(
            "only one gpu id is supported; use --gpu-count for multiple gpus of the same type"
                .into(),
        ));
    }
    let gpu_count = number(inv, "gpu-count", 1, usage)?;
    let container_disk_gb = number(inv, "container-disk-in-gb", 20, usage)?;
    let volume_gb = number(inv, "volume-in-gb", 0, usage)?;
    let mount = inv
        .value("volume-mount-path")
        .unwrap_or("/workspace")
        .to_string();
    let cloud_text = inv.value("cloud-type").unwrap_or("SECURE");
    let cloud_type = CloudType::parse(cloud_text).ok_or_else(|| {
        local(format!(
            "invalid --cloud-type {cloud_text:?} (use SECURE or COMMUNITY)"
        ))
    })?;
    let env: Vec<(String, String)> = match inv.value("env") {
        None | Some("") => Vec::new(),
        Some(text) => serde_json::from_str::<std::collections::BTreeMap<String, String>>(text)
            .map_err(|e| local(format!("invalid env json: {e}")))?
            .into_iter()
            .collect(),
    };
    let ports_text = inv.value("ports").unwrap_or("").to_string();
    let ports: Vec<String> = ports_text
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let dcs: Vec<&str> = inv
        .value("data-center-ids")
        .map(|d| d.split(',').map(str::trim).collect())
        .unwrap_or_default();
    if dcs.len() > 1 {
        eprintln!(
            "note: only the first data center id is used; graphql api supports a single data center"
        );
    }
    // Without a datacenter RunPod places the pod itself: the first with stock.
    let datacenter_id = match dcs.first() {
        Some(dc) => dc.to_string(),
        None => known::DATACENTERS
            .iter()
            .find(|dc| world.free(dc, &gpu_id) >= gpu_count)
            .unwrap_or(&known::DATACENTERS[0])
            .to_string(),
    };
    let storage = match inv.value("network-volume-id") {
        Some(id) => Storage::NetworkVolume {
            volume_name: world
                .volumes
                .iter()
                .find(|v| v.id == id)
                .map(|v| v.name.clone())
                .unwrap_or_default(),
            volume_id: Some(id.to_string()),
            mount,
        },
        None => Storage::Ephemeral { volume_gb, mount },
    };
    let request = CreatePodRequest {
        name: inv.value("name").unwrap_or("").to_string(),
        image,
        gpu_id,
        gpu_count,
        datacenter_id,
        cloud_type,
        container_disk_gb,
        storage,
        ports,
        env: env.iter().cloned().collect(),
        min_vcpu_count: None,
        min_memory_gb: None,
        spot: false,
    };
    let pod = world
        .create(store, &request)
        .map_err(|e| Failure::GraphQl {
            action: "create pod",
            message: match e {
                ProviderError::Capacity(m)
                | ProviderError::Invalid(m)
                | ProviderError::Other(m) => m,
                other => other.to_string(),
            },
            usage: usage_after.clone(),
        })?;
    // `--public-ip` (supportPublicIp): RunPod places the pod on a machine
    // with a public IP.
    if inv.set("public-ip") && cloud_type == CloudType::Community {
        let path = store.dir().join("public-ip-pods");
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(file, "{}", pod.id);
        }
    }
    Ok(shapes::print(shapes::created(&pod, &env, &ports_text)))
}

/// The pods created with `--public-ip`.
fn public_ip_pods(store: &Store) -> Vec<String> {
    std::fs::read_to_string(store.dir().join("public-ip-pods"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}
