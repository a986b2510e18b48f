//! The runpodctl provider against the fake runpodctl (tests/fakes/), through
//! the `Provider` trait: every verb, the catalog and volumes, version
//! refusal, the flag probe and both error shapes. The fake is reached
//! through a `runpodctl` wrapper script that sets its environment, as an
//! install on PATH would be.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rpd::model::{
    Access, CloudType, InPlaceUpdates, PodStatus, PodUpdate, SshEndpoint, Stock, Storage,
    VolumeGrowth,
};
use rpd::provider::runpodctl::RunpodctlProvider;
use rpd::provider::sim::Store;
use rpd::provider::{CreatePodRequest, Provider, ProviderError};
use tempfile::TempDir;

const GPU: &str = "NVIDIA GeForce RTX 4090";
const A5000: &str = "NVIDIA RTX A5000";

struct Fake {
    dir: TempDir,
    ssh_port: u16,
}

impl Fake {
    fn new() -> Fake {
        let fake = Fake {
            dir: tempfile::tempdir().unwrap(),
            ssh_port: common::closed_port(),
        };
        fake.store()
            .with(|world, _| {
                world.cold_boot_ms = 30;
                world.warm_boot_ms = 10;
            })
            .unwrap();
        fake
    }

    fn store(&self) -> Store {
        Store::new(self.dir.path().join("sim"))
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("runpodctl.log")
    }

    /// A `runpodctl` script that runs the fake with `env` (and `prelude`
    /// first, e.g. a warning on stderr).
    fn script(&self, name: &str, env: &[(&str, &str)], prelude: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let mut vars: BTreeMap<String, String> = [
            (
                "FAKE_RUNPODCTL_DIR",
                self.dir.path().join("sim").display().to_string(),
            ),
            ("FAKE_RUNPODCTL_LOG", self.log().display().to_string()),
            ("FAKE_RUNPODCTL_VERSION", "2.8.0".into()),
            ("FAKE_RUNPODCTL_SSH_PORT", self.ssh_port.to_string()),
            ("RUNPOD_API_KEY", "test-key-not-real".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in env {
            vars.insert(k.to_string(), v.to_string());
        }
        let exports: String = vars
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    format!("unset {k}\n")
                } else {
                    format!("export {k}='{v}'\n")
                }
            })
            .collect();
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runpodctl");
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\n{exports}{prelude}\nexec '{}' \"$@\"\n",
                common::fake_runpodctl().display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn provider(&self, env: &[(&str, &str)]) -> RunpodctlProvider {
        RunpodctlProvider::open(self.script("bin", env, ""), Duration::from_secs(30)).unwrap()
    }

    fn invocations(&self, words: &[&str]) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Vec<String>>(l).unwrap())
            .filter(|argv| argv.len() >= words.len() && argv.iter().zip(words).all(|(a, w)| a == w))
            .collect()
    }
}

fn request(name: &str) -> CreatePodRequest {
    CreatePodRequest {
        name: name.into(),
        image: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into(),
        gpu_id: GPU.into(),
        gpu_count: 1,
        datacenter_id: "EU-RO-1".into(),
        cloud_type: CloudType::Secure,
        container_disk_gb: 20,
        storage: Storage::Ephemeral {
            volume_gb: 20,
            mount: "/workspace".into(),
        },
        ports: vec!["8888/http".into()],
        env: BTreeMap::from([("HF_HOME".to_string(), "/workspace/hf".to_string())]),
        min_vcpu_count: None,
        min_memory_gb: None,
        spot: false,
    }
}

async fn wait_for(
    provider: &RunpodctlProvider,
    id: &str,
    status: PodStatus,
) -> rpd::model::ObservedPod {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pod = provider.get(id).await.unwrap().expect("pod exists");
        if pod.status == status && (status != PodStatus::Running || pod.access.is_some()) {
            return pod;
        }
        assert!(
            Instant::now() < deadline,
            "{id} never became {status}: {pod:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn arg_after<'a>(argv: &'a [String], flag: &str) -> Vec<&'a str> {
    argv.windows(2)
        .filter(|w| w[0] == flag)
        .map(|w| w[1].as_str())
        .collect()
}

#[tokio::test]
async fn a_pods_whole_life() {
    let fake = Fake::new();
    let provider = fake.provider(&[]);
    assert_eq!(provider.version().to_string(), "2.8.0");

    let created = provider.create(&request("life-1")).await.unwrap();
    assert_eq!(created.name, "life-1");
    let id = created.id.clone();
    let argv = &fake.invocations(&["pod", "create", "--name"])[0];
    assert_eq!(arg_after(argv, "--ports"), ["22/tcp,8888/http"], "{argv:?}");
    assert_eq!(arg_after(argv, "--gpu-count"), ["1"], "{argv:?}");
    assert_eq!(arg_after(argv, "--gpu-id"), [GPU], "{argv:?}");
    assert_eq!(arg_after(argv, "--env"), [r#"{"HF_HOME":"/workspace/hf"}"#]);
    assert!(argv.contains(&"--ssh".to_string()), "{argv:?}");

    let running = wait_for(&provider, &id, PodStatus::Running).await;
    assert_eq!(
        running.access,
        Some(Access::Ssh(SshEndpoint {
            host: "127.0.0.1".into(),
            port: fake.ssh_port,
            user: "root".into()
        }))
    );
    assert_eq!(running.spec.datacenter_id.as_deref(), Some("EU-RO-1"));
    assert_eq!(running.spec.gpu_id.as_deref(), Some(GPU));
    assert_eq!(running.spec.cloud_type, Some(CloudType::Secure));
    assert_eq!(
        running.spec.ports,
        Some(vec!["22/tcp".into(), "8888/http".into()])
    );
    assert_eq!(running.cost_per_hr, Some(0.44));

    let listed = provider.list().await.unwrap();
    assert!(listed.iter().any(|p| p.id == id && p.name == "life-1"));

    provider.stop(&id).await.unwrap();
    let stopped = wait_for(&provider, &id, PodStatus::Exited).await;
    assert_eq!((stopped.cost_per_hr, stopped.access), (Some(0.0), None));
    assert!(
        provider.list().await.unwrap().iter().any(|p| p.id == id),
        "list -a shows stopped pods"
    );

    provider.start(&id).await.unwrap();
    wait_for(&provider, &id, PodStatus::Running).await;

    provider.delete(&id).await.unwrap();
    assert_eq!(provider.get(&id).await.unwrap(), None);
    provider
        .delete(&id)
        .await
        .expect("deleting a gone pod is a success");
    assert!(fake.store().with(|w, _| w.pods.is_empty()).unwrap());
}

#[tokio::test]
async fn both_error_shapes_are_classified() {
    for version in ["2.7.2", "2.8.0", "2.10.0"] {
        let fake = Fake::new();
        let provider = fake.provider(&[("FAKE_RUNPODCTL_VERSION", version)]);
        assert_eq!(provider.get("nosuchpod00001").await, Ok(None), "{version}");
        let err = provider.start("nosuchpod00001").await.unwrap_err();
        assert!(
            matches!(err, ProviderError::NotFound(_)),
            "{version}: {err:?}"
        );

        fake.store()
            .with(|w, _| w.set_stock("EU-RO-1", GPU, 0))
            .unwrap();
        let err = provider.create(&request("cap")).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::Capacity(_)),
            "{version}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains("no longer any instances available"),
            "{err}"
        );
        assert!(
            !err.to_string().contains("Usage:"),
            "usage text is dropped: {err}"
        );

        let pod = provider
            .create(&CreatePodRequest {
                datacenter_id: "US-CA-2".into(),
                ..request("busy")
            })
            .await
            .unwrap();
        wait_for(&provider, &pod.id, PodStatus::Running).await;
        provider.stop(&pod.id).await.unwrap();
        fake.store()
            .with(|w, _| w.fail_next_start.insert(pod.id.clone()))
            .unwrap();
        let err = provider.start(&pod.id).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::HostBusy(_)),
            "{version}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains("not enough free GPUs on the host machine")
        );

        let typo = CreatePodRequest {
            gpu_id: "NVIDIA RTX 4090".into(),
            ..request("typo")
        };
        let err = provider.create(&typo).await.unwrap_err();
        assert!(matches!(err, ProviderError::Other(_)), "{version}: {err:?}");
        assert!(err.to_string().contains("unknown GPU type id"), "{err}");
    }
}

#[tokio::test]
async fn only_a_definite_not_found_means_gone() {
    let fake = Fake::new();
    for version in ["2.7.2", "2.8.0"] {
        let broken = RunpodctlProvider::open(
            fake.script(
                &format!("broken-{version}"),
                &[
                    ("FAKE_RUNPODCTL_VERSION", version),
                    ("FAKE_RUNPODCTL_FAIL", "pod get=500"),
                ],
                "",
            ),
            Duration::from_secs(30),
        )
        .unwrap();
        let err = broken.get("anypod0000001x").await.unwrap_err();
        assert!(
            matches!(err, ProviderError::Transient(_)),
            "{version}: {err:?}"
        );
        assert!(err.to_string().contains("Something went wrong."), "{err}");
    }
    let no_key = fake.provider(&[("RUNPOD_API_KEY", "")]);
    let err = no_key.list().await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth(_)), "{err:?}");
    assert!(err.to_string().contains("api key not found"), "{err}");
    let odd = RunpodctlProvider::open(
        fake.script(
            "odd",
            &[],
            r#"if [ "$1" = pod ] && [ "$2" = get ]; then echo 'pod "x" is fine'; exit 0; fi"#,
        ),
        Duration::from_secs(30),
    )
    .unwrap();
    let err = odd.get("anypod0000001x").await.unwrap_err();
    assert!(matches!(err, ProviderError::Other(_)), "{err:?}");
    assert!(
        err.to_string().contains("printed output that is not JSON"),
        "{err}"
    );
}

#[tokio::test]
async fn stderr_on_success_is_not_a_failure() {
    let fake = Fake::new();
    let chatty = RunpodctlProvider::open(
        fake.script(
            "chatty",
            &[],
            "echo 'warning: a newer runpodctl is available' >&2",
        ),
        Duration::from_secs(30),
    )
    .unwrap();
    let pod = chatty.create(&request("chatty")).await.unwrap();
    assert!(chatty.get(&pod.id).await.unwrap().is_some());
}

#[tokio::test]
async fn versions_are_checked_once() {
    let fake = Fake::new();
    let err = RunpodctlProvider::open(
        fake.script("v1", &[("FAKE_RUNPODCTL_VERSION", "1.14.8")], ""),
        Duration::from_secs(30),
    )
    .err()
    .expect("v1 is refused")
    .to_string();
    assert!(err.contains("runpodctl 1.14.8 is too old"), "{err}");
    assert!(err.contains("v2.0.0 or newer"), "{err}");
    assert!(
        err.contains("https://github.com/runpod/runpodctl/releases"),
        "{err}"
    );

    let old = fake.provider(&[("FAKE_RUNPODCTL_VERSION", "2.7.2")]);
    assert_eq!(old.warnings().len(), 1);
    assert!(old.warnings()[0].contains("may fail since REST v1 was retired on 2026-11-15"));
    let new = fake.provider(&[("FAKE_RUNPODCTL_VERSION", "2.15.0")]);
    assert_eq!(new.warnings(), Vec::<String>::new());
    let versions = fake.invocations(&["--version"]).len();
    assert_eq!(versions, 3, "one --version per provider");
}

#[tokio::test]
async fn the_flag_probe_skips_what_runpodctl_lacks() {
    let fake = Fake::new();
    let wanting = CreatePodRequest {
        spot: true,
        min_vcpu_count: Some(8),
        min_memory_gb: Some(32),
        ..request("probe-1")
    };
    let provider = fake.provider(&[]);
    provider.create(&wanting).await.unwrap();
    provider.create(&request("probe-2")).await.unwrap();
    assert_eq!(
        fake.invocations(&["pod", "create", "--help"]).len(),
        1,
        "probed once"
    );
    let argv = fake
        .invocations(&["pod", "create", "--name"])
        .remove(0)
        .join(" ");
    assert!(
        !argv.contains("--spot") && !argv.contains("--min-"),
        "{argv}"
    );
    let warnings = provider.warnings().join("\n");
    assert!(
        warnings.contains("runpodctl 2.8.0 has no --spot"),
        "{warnings}"
    );
    assert!(warnings.contains("has no --min-vcpu-count"), "{warnings}");
    assert!(warnings.contains("has no --min-memory-in-gb"), "{warnings}");

    let capable = fake.provider(&[(
        "FAKE_RUNPODCTL_EXTRA_CREATE_FLAGS",
        "spot,min-vcpu-count,min-memory-in-gb",
    )]);
    capable
        .create(&CreatePodRequest {
            name: "probe-3".into(),
            ..wanting.clone()
        })
        .await
        .unwrap();
    let argv = fake
        .invocations(&["pod", "create", "--name", "probe-3"])
        .remove(0)
        .join(" ");
    assert!(
        argv.contains("--spot --min-vcpu-count 8 --min-memory-in-gb 32"),
        "{argv}"
    );

    let blind = fake.provider(&[("FAKE_RUNPODCTL_HELP_FAILS", "1")]);
    let err = blind
        .create(&CreatePodRequest {
            name: "probe-4".into(),
            ..wanting.clone()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("unknown flag: --spot"), "{err}");
    assert!(
        blind
            .warnings()
            .iter()
            .any(|w| w.contains("could not read `runpodctl pod create --help`"))
    );
    assert_eq!(
        fake.store().with(|w, _| w.pods.len()).unwrap(),
        3,
        "no pod from the refused create"
    );

    let ancient = fake.provider(&[("FAKE_RUNPODCTL_VERSION", "2.0.0")]);
    fake.store()
        .with(|w, _| w.add_volume("datasets", "EU-RO-1", 50))
        .unwrap();
    let err = ancient
        .create(&CreatePodRequest {
            storage: Storage::NetworkVolume {
                volume_name: "datasets".into(),
                volume_id: Some("whatever".into()),
                mount: "/data".into(),
            },
            ..request("probe-5")
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("runpodctl 2.0.0 cannot attach a network volume"),
        "{err}"
    );
}

#[tokio::test]
async fn catalog_stock_and_prices() {
    let fake = Fake::new();
    fake.store()
        .with(|w, _| {
            w.set_stock("EU-RO-1", GPU, 0);
            w.set_stock("US-CA-2", GPU, 2);
        })
        .unwrap();
    let gpus = [GPU.to_string(), A5000.to_string()];
    let dcs = ["EU-RO-1".to_string(), "US-CA-2".to_string()];
    let catalog = fake
        .provider(&[])
        .catalog(&gpus, &dcs, CloudType::Secure, 1)
        .await
        .unwrap();
    let offer = |dc: &str, gpu: &str| catalog.offer(dc, gpu).cloned().unwrap();
    assert_eq!(offer("EU-RO-1", GPU).stock, Stock::None);
    assert_eq!(offer("US-CA-2", GPU).stock, Stock::Low);
    assert_eq!(offer("EU-RO-1", A5000).stock, Stock::High);
    assert_eq!(offer("EU-RO-1", GPU).price_per_gpu_hr, Some(0.44));
    assert_eq!(offer("US-CA-2", A5000).price_per_gpu_hr, Some(0.27));
    let community = fake
        .provider(&[])
        .catalog(&gpus, &dcs, CloudType::Community, 1)
        .await
        .unwrap();
    assert_eq!(
        community.offer("EU-RO-1", GPU).unwrap().price_per_gpu_hr,
        Some(0.31)
    );

    let old = fake.provider(&[("FAKE_RUNPODCTL_VERSION", "2.7.2")]);
    let catalog = old
        .catalog(&gpus, &dcs, CloudType::Secure, 1)
        .await
        .unwrap();
    assert!(
        catalog.offers.iter().all(|o| o.price_per_gpu_hr.is_none()),
        "no invented prices"
    );
    assert_eq!(catalog.offer("US-CA-2", GPU).unwrap().stock, Stock::Low);
    assert!(
        old.warnings()
            .iter()
            .any(|w| w.contains("prints no GPU prices")),
        "{:?}",
        old.warnings()
    );
}

#[tokio::test]
async fn network_volumes_by_name() {
    let fake = Fake::new();
    let (ro, ca) = fake
        .store()
        .with(|w, _| {
            (
                w.add_volume("datasets", "EU-RO-1", 100).id,
                w.add_volume("datasets", "US-CA-2", 100).id,
            )
        })
        .unwrap();
    let provider = fake.provider(&[]);
    assert_eq!(
        provider
            .resolve_network_volume("datasets", "EU-RO-1")
            .await
            .unwrap(),
        ro
    );
    assert_eq!(
        provider
            .resolve_network_volume("datasets", "US-CA-2")
            .await
            .unwrap(),
        ca
    );
    let err = provider
        .resolve_network_volume("datasets", "EU-SE-1")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("is in EU-RO-1, US-CA-2, not in EU-SE-1"),
        "{err}"
    );
    let err = provider
        .resolve_network_volume("ckpt", "EU-RO-1")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no network volume named \"ckpt\" in this RunPod account"),
        "{err}"
    );

    let pod = provider
        .create(&CreatePodRequest {
            storage: Storage::NetworkVolume {
                volume_name: "datasets".into(),
                volume_id: Some(ro.clone()),
                mount: "/data".into(),
            },
            ..request("nv")
        })
        .await
        .unwrap();
    let argv = fake
        .invocations(&["pod", "create", "--name", "nv"])
        .remove(0);
    assert_eq!(arg_after(&argv, "--network-volume-id"), [ro.as_str()]);
    assert_eq!(arg_after(&argv, "--volume-mount-path"), ["/data"]);
    assert!(arg_after(&argv, "--volume-in-gb").is_empty(), "{argv:?}");
    let seen = provider.get(&pod.id).await.unwrap().unwrap();
    assert_eq!(
        seen.spec.storage, None,
        "a network volume's name is not in runpodctl's output"
    );
}

#[tokio::test]
async fn a_create_that_times_out_is_ambiguous_and_never_retried() {
    let fake = Fake::new();
    let provider = RunpodctlProvider::open(
        fake.script("hang", &[("FAKE_RUNPODCTL_HANG_AFTER", "pod create")], ""),
        Duration::from_millis(1500),
    )
    .unwrap();
    let started = Instant::now();
    let err = provider.create(&request("lost-answer")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(matches!(err, ProviderError::Transient(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("runpodctl pod create gave no answer within 1s 500ms"),
        "{err}"
    );
    assert_eq!(
        fake.invocations(&["pod", "create", "--name"]).len(),
        1,
        "sent once"
    );
    // The pod exists: apply finds it by name before anything else.
    let found: Vec<_> = provider
        .list()
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.name == "lost-answer")
        .collect();
    assert_eq!(found.len(), 1);
}

/// v2.0.0's `pod list` has no `-a` (it lists every pod); from v2.1.0 the
/// flag is needed to see stopped pods. Either way a stopped pod is listed.
#[tokio::test]
async fn the_pod_list_asks_for_every_pod_in_the_way_the_version_understands() {
    for (version, with_all) in [("2.0.0", false), ("2.1.0", true), ("2.8.0", true)] {
        let fake = Fake::new();
        let provider = fake.provider(&[("FAKE_RUNPODCTL_VERSION", version)]);
        let id = provider.create(&request("listed")).await.unwrap().id;
        wait_for(&provider, &id, PodStatus::Running).await;
        provider.stop(&id).await.unwrap();
        wait_for(&provider, &id, PodStatus::Exited).await;
        let listed = provider.list().await.unwrap();
        assert!(
            listed.iter().any(|p| p.id == id),
            "{version}: the stopped pod is listed"
        );
        let argv = fake.invocations(&["pod", "list"]).pop().unwrap();
        assert_eq!(
            argv.contains(&"-a".to_string()),
            with_all,
            "{version}: {argv:?}"
        );
    }
}

/// RunPod retired REST v1, where runpodctl v2.0-v2.14 send pod commands:
/// its 410 is one error naming the runpodctl to install, never "gone".
#[tokio::test]
async fn an_answer_that_rest_v1_is_gone_names_the_runpodctl_to_install() {
    for version in ["2.7.2", "2.8.0"] {
        let fake = Fake::new();
        let provider = fake.provider(&[
            ("FAKE_RUNPODCTL_VERSION", version),
            ("FAKE_RUNPODCTL_FAIL", "pod get=410"),
        ]);
        let err = provider.get("abc123def45678").await.unwrap_err();
        assert_eq!(
            err,
            ProviderError::Rejected(format!(
                "runpodctl {version} sent `pod get abc123def45678` to RunPod's REST v1 API, which answered that it is gone: runpodctl v2.0-v2.14 send pod commands there\n  = help: install runpodctl v2.15.0 or newer from https://github.com/runpod/runpodctl/releases (check with `runpodctl --version`), or use --provider runpod, which talks to REST v2 directly"
            )),
            "{version}"
        );
    }
}

#[tokio::test]
async fn an_update_runs_pod_update_with_only_the_changed_flags() {
    let fake = Fake::new();
    let provider = fake.provider(&[]);
    assert_eq!(provider.in_place_updates().await, InPlaceUpdates::Supported);
    let id = provider.create(&request("upd-1")).await.unwrap().id;
    wait_for(&provider, &id, PodStatus::Running).await;
    provider.stop(&id).await.unwrap();

    let update = PodUpdate {
        image: Some("runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404".into()),
        volume: Some(VolumeGrowth {
            volume_gb: 40,
            mount: "/workspace".into(),
        }),
        ..PodUpdate::default()
    };
    let updated = provider.update(&id, &update).await.unwrap();
    assert_eq!(updated.id, id);
    assert_eq!(updated.spec.image, update.image);
    assert_eq!(updated.status, PodStatus::Exited);
    let argv = &fake.invocations(&["pod", "update"])[0];
    assert_eq!(
        argv.join(" "),
        format!(
            "pod update {id} --image runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404 --volume-in-gb 40 --volume-mount-path /workspace -o json"
        )
    );
    assert_eq!(
        fake.invocations(&["pod", "--help"]).len(),
        1,
        "the command list is read once"
    );
}

#[tokio::test]
async fn a_runpodctl_without_pod_update_says_so() {
    let fake = Fake::new();
    let provider = fake.provider(&[("FAKE_RUNPODCTL_WITHOUT_UPDATE", "1")]);
    assert_eq!(
        provider.in_place_updates().await,
        InPlaceUpdates::RunpodctlWithoutUpdate {
            version: "2.8.0".into()
        }
    );
    let prelude = r#"[ "$1 $2" = "pod --help" ] && { echo 'help is broken' >&2; exit 1; }"#;
    let broken =
        RunpodctlProvider::open(fake.script("broken", &[], prelude), Duration::from_secs(30))
            .unwrap();
    assert_eq!(
        broken.in_place_updates().await,
        InPlaceUpdates::RunpodctlHelpUnreadable {
            version: "2.8.0".into(),
            error: "help is broken".into()
        }
    );
}
