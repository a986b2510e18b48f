//! The `runpodctl pod create` command line for one candidate (reference
//! §1.4). Pure: the flags the installed runpodctl lacks come in as a probe.

use super::version::FlagProbe;
use crate::model::{CloudType, PodUpdate, Storage};
use crate::provider::{CreatePodRequest, ProviderError};

/// The port rpd reaches the pod on; always published.
const SSH_PORT: &str = "22/tcp";

/// A create command line and what it had to leave out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateArgs {
    pub args: Vec<String>,
    pub warnings: Vec<String>,
}

/// `--ports` is ONE comma-separated value (runpod-deploy passed it once per
/// port, so only the last survived): sorted, de-duplicated, with 22/tcp.
pub fn ports_value(ports: &[String]) -> String {
    let mut all: Vec<&str> = ports
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    all.push(SSH_PORT);
    all.sort_unstable();
    all.dedup();
    all.join(",")
}

pub fn create(
    request: &CreatePodRequest,
    probe: &FlagProbe,
    version: &str,
) -> Result<CreateArgs, ProviderError> {
    let mut warnings = Vec::new();
    let mut args: Vec<String> = ["pod", "create"].map(String::from).to_vec();
    let mut flag = |name: &str, value: String| {
        args.push(format!("--{name}"));
        args.push(value);
    };
    flag("name", request.name.clone());
    flag("image", request.image.clone());
    flag("gpu-id", request.gpu_id.clone());
    // Always sent: REST v2 reads a missing count as zero GPUs.
    flag("gpu-count", request.gpu_count.to_string());
    flag("data-center-ids", request.datacenter_id.clone());
    flag("cloud-type", request.cloud_type.as_str().to_string());
    flag(
        "container-disk-in-gb",
        request.container_disk_gb.to_string(),
    );
    match &request.storage {
        Storage::Ephemeral { volume_gb, mount } => {
            flag("volume-in-gb", volume_gb.to_string());
            flag("volume-mount-path", mount.clone());
        }
        Storage::NetworkVolume {
            volume_name,
            volume_id,
            mount,
        } => {
            let id = volume_id.clone().ok_or_else(|| {
                ProviderError::Invalid(format!(
                    "network volume {volume_name:?} was not resolved to an id before the create"
                ))
            })?;
            if probe.supports("network-volume-id") == Some(false) {
                return Err(ProviderError::Invalid(format!(
                    "runpodctl {version} cannot attach a network volume (its `pod create --help` has no --network-volume-id)\n  = help: upgrade runpodctl (v2.7 has the flag), or use `storage: {{mode: ephemeral}}`"
                )));
            }
            flag("network-volume-id", id);
            flag("volume-mount-path", mount.clone());
        }
    }
    flag("ports", ports_value(&request.ports));
    if !request.env.is_empty() {
        let json = serde_json::to_string(&request.env)
            .map_err(|e| ProviderError::Invalid(format!("pod env cannot be encoded: {e}")))?;
        flag("env", json);
    }
    let mut optional = |name: &str, value: Option<String>, what: &str| {
        match probe.supports(name) {
        Some(false) => warnings.push(format!(
            "runpodctl {version} has no --{name} (not in `runpodctl pod create --help`): {what} is not applied to this pod"
        )),
        _ => {
            args.push(format!("--{name}"));
            args.extend(value);
        }
    }
    };
    if request.spot {
        optional("spot", None, "pod.spot (an interruptible pod)");
    }
    if let Some(n) = request.min_vcpu_count {
        optional("min-vcpu-count", Some(n.to_string()), "pod.min_vcpu_count");
    }
    if let Some(n) = request.min_memory_gb {
        optional("min-memory-in-gb", Some(n.to_string()), "pod.min_memory_gb");
    }
    // The default is true, but a build without the flag may not start sshd.
    optional("ssh", None, "SSH (`--ssh`)");
    // A COMMUNITY machine without a public IP gives its pod no direct SSH,
    // which rsync needs: ask for one with (`supportPublicIp`). SECURE pods
    // always have one (runpodctl says the flag has no effect there).
    if request.cloud_type == CloudType::Community {
        optional(
            "public-ip",
            None,
            "a public IP for this COMMUNITY pod (`--public-ip`; without one it may get SSH through RunPod's proxy only, and is then replaced)",
        );
    }
    args.extend(["-o", "json"].map(String::from));
    Ok(CreateArgs { args, warnings })
}

/// `pod update <id>` with only the flags of the fields that change
/// (runpodctl leaves a field alone when its flag is absent).
pub fn update(id: &str, update: &PodUpdate) -> Vec<String> {
    let mut args: Vec<String> = ["pod", "update", id].map(String::from).to_vec();
    let mut flag = |name: &str, value: String| {
        args.push(format!("--{name}"));
        args.push(value);
    };
    if let Some(image) = &update.image {
        flag("image", image.clone());
    }
    if let Some(disk) = update.container_disk_gb {
        flag("container-disk-in-gb", disk.to_string());
    }
    if let Some(volume) = &update.volume {
        flag("volume-in-gb", volume.volume_gb.to_string());
        flag("volume-mount-path", volume.mount.clone());
    }
    if let Some(ports) = &update.ports {
        flag("ports", ports_value(ports));
    }
    args.extend(["-o", "json"].map(String::from));
    args
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    fn request() -> CreatePodRequest {
        CreatePodRequest {
            name: "hello-20260820T061619Z".into(),
            image: "runpod/pytorch:1.0.2".into(),
            gpu_id: "NVIDIA GeForce RTX 4090".into(),
            gpu_count: 1,
            datacenter_id: "EU-RO-1".into(),
            cloud_type: CloudType::Secure,
            container_disk_gb: 20,
            storage: Storage::Ephemeral {
                volume_gb: 20,
                mount: "/workspace".into(),
            },
            ports: vec!["8888/http".into()],
            env: BTreeMap::new(),
            min_vcpu_count: None,
            min_memory_gb: None,
            spot: false,
        }
    }

    fn probe(flags: &[&str]) -> FlagProbe {
        FlagProbe::Known(flags.iter().map(|f| f.to_string()).collect::<BTreeSet<_>>())
    }

    const V27: &[&str] = &[
        "name",
        "image",
        "gpu-id",
        "gpu-count",
        "ssh",
        "network-volume-id",
    ];

    #[test]
    fn the_full_command_line() {
        let made = create(&request(), &probe(V27), "2.7.2").unwrap();
        assert_eq!(
            made.args.join(" "),
            "pod create --name hello-20260820T061619Z --image runpod/pytorch:1.0.2 --gpu-id NVIDIA GeForce RTX 4090 --gpu-count 1 --data-center-ids EU-RO-1 --cloud-type SECURE --container-disk-in-gb 20 --volume-in-gb 20 --volume-mount-path /workspace --ports 22/tcp,8888/http --ssh -o json"
        );
        assert!(made.warnings.is_empty());
        assert!(
            made.args.contains(&"NVIDIA GeForce RTX 4090".to_string()),
            "one argument"
        );
    }

    /// runpodctl's `--public-ip` (a bool, "require public ip (community
    /// cloud only)") keeps a COMMUNITY pod off machines whose pods get SSH
    /// through RunPod's proxy only; SECURE pods always have a public IP.
    #[test]
    fn a_community_create_asks_for_a_public_ip_when_runpodctl_has_the_flag() {
        let mut community = request();
        community.cloud_type = CloudType::Community;
        let mut with: Vec<&str> = V27.to_vec();
        with.push("public-ip");
        let made = create(&community, &probe(&with), "2.7.2").unwrap();
        assert!(
            made.args.join(" ").ends_with("--ssh --public-ip -o json"),
            "{:?}",
            made.args
        );
        assert!(made.warnings.is_empty());
        let secure = create(&request(), &probe(&with), "2.7.2").unwrap();
        assert!(!secure.args.contains(&"--public-ip".to_string()));
        let without = create(&community, &probe(V27), "2.7.2").unwrap();
        assert!(!without.args.contains(&"--public-ip".to_string()));
        assert!(
            without.warnings[0].contains("runpodctl 2.7.2 has no --public-ip"),
            "{:?}",
            without.warnings
        );
    }

    #[test]
    fn an_update_passes_only_the_changed_fields() {
        let image_only = PodUpdate {
            image: Some("img:2".into()),
            ..PodUpdate::default()
        };
        assert_eq!(
            update("pod1", &image_only).join(" "),
            "pod update pod1 --image img:2 -o json"
        );
        let grown = PodUpdate {
            volume: Some(crate::model::VolumeGrowth {
                volume_gb: 50,
                mount: "/workspace".into(),
            }),
            ports: Some(vec!["8888/http".into()]),
            ..PodUpdate::default()
        };
        assert_eq!(
            update("pod1", &grown).join(" "),
            "pod update pod1 --volume-in-gb 50 --volume-mount-path /workspace --ports 22/tcp,8888/http -o json"
        );
    }

    #[test]
    fn ports_are_one_value_with_ssh() {
        assert_eq!(ports_value(&[]), "22/tcp");
        assert_eq!(
            ports_value(&[
                "8888/http".into(),
                "22/tcp".into(),
                " 6006/http ".into(),
                "8888/http".into()
            ]),
            "22/tcp,6006/http,8888/http"
        );
    }

    #[test]
    fn network_volume_and_env() {
        let mut r = request();
        r.storage = Storage::NetworkVolume {
            volume_name: "datasets".into(),
            volume_id: Some("agv6w2qcg7".into()),
            mount: "/data".into(),
        };
        r.env = BTreeMap::from([("A".to_string(), "1 \"two\"".to_string())]);
        let args = create(&r, &probe(V27), "2.7.2").unwrap().args.join(" ");
        assert!(
            args.contains("--network-volume-id agv6w2qcg7 --volume-mount-path /data"),
            "{args}"
        );
        assert!(!args.contains("--volume-in-gb"), "{args}");
        assert!(args.contains(r#"--env {"A":"1 \"two\""}"#), "{args}");

        let err = create(&r, &probe(&["name", "ssh"]), "2.0.0").unwrap_err();
        assert!(matches!(err, ProviderError::Invalid(_)), "{err:?}");
        assert!(
            err.to_string()
                .contains("runpodctl 2.0.0 cannot attach a network volume"),
            "{err}"
        );
    }

    #[test]
    fn unsupported_optional_flags_are_skipped_with_a_warning() {
        let mut r = request();
        r.spot = true;
        r.min_vcpu_count = Some(8);
        r.min_memory_gb = Some(32);
        let made = create(&r, &probe(V27), "2.7.2").unwrap();
        let args = made.args.join(" ");
        assert!(
            !args.contains("--spot") && !args.contains("--min-"),
            "{args}"
        );
        assert_eq!(made.warnings.len(), 3, "{:?}", made.warnings);
        assert!(
            made.warnings[0].contains("runpodctl 2.7.2 has no --spot"),
            "{:?}",
            made.warnings
        );

        let mut with: Vec<&str> = V27.to_vec();
        with.extend(["spot", "min-vcpu-count", "min-memory-in-gb"]);
        let made = create(&r, &probe(&with), "2.7.2").unwrap();
        assert!(
            made.args
                .join(" ")
                .contains("--spot --min-vcpu-count 8 --min-memory-in-gb 32 --ssh")
        );
        assert!(made.warnings.is_empty());

        // A failed probe passes them (runpodctl refuses an unknown flag
        // before it creates anything).
        let made = create(&r, &FlagProbe::Failed("boom".into()), "2.7.2").unwrap();
        assert!(made.args.join(" ").contains("--spot --min-vcpu-count 8"));
    }
}
