//! Field-by-field comparison of pods: recorded vs observed (changes made
//! outside rpd) and desired vs actual (what forces replacement). Both sides
//! are normalized first so that a plan right after an apply shows nothing.

use super::report::{FieldChange, FieldNote, FieldValue};
use crate::known::same_gpu;
use crate::model::{DesiredPod, PodSpec, PodUpdate, Storage, VolumeGrowth};

fn number(n: u32) -> FieldValue {
    FieldValue::Number(u64::from(n))
}

fn one_of(items: &[String]) -> FieldValue {
    FieldValue::OneOf {
        one_of: items.to_vec(),
    }
}

fn storage_fields(storage: &Storage) -> Vec<(&'static str, FieldValue)> {
    match storage {
        Storage::Ephemeral { volume_gb, mount } => vec![
            ("storage_mode", FieldValue::text("ephemeral")),
            ("volume_gb", number(*volume_gb)),
            ("volume_mount", FieldValue::text(mount)),
        ],
        Storage::NetworkVolume {
            volume_name, mount, ..
        } => vec![
            ("storage_mode", FieldValue::text("network_volume")),
            ("volume_name", FieldValue::text(volume_name)),
            ("volume_mount", FieldValue::text(mount)),
        ],
    }
}

/// Every attribute of a spec, in display order (for creates).
pub fn spec_fields(spec: &PodSpec) -> Vec<(&'static str, FieldValue)> {
    let mut out = Vec::new();
    if let Some(v) = &spec.image {
        out.push(("image", FieldValue::text(v)));
    }
    if let Some(v) = &spec.gpu_id {
        out.push(("gpu", FieldValue::text(v)));
    }
    if let Some(v) = spec.gpu_count {
        out.push(("gpu_count", number(v)));
    }
    if let Some(v) = &spec.datacenter_id {
        out.push(("datacenter", FieldValue::text(v)));
    }
    if let Some(v) = spec.cloud_type {
        out.push(("cloud_type", FieldValue::text(v.as_str())));
    }
    if let Some(v) = spec.container_disk_gb {
        out.push(("container_disk_gb", number(v)));
    }
    if let Some(s) = &spec.storage {
        out.extend(storage_fields(s));
    }
    if let Some(p) = &spec.ports {
        out.push(("ports", FieldValue::List(p.clone())));
    }
    out
}

/// Recorded vs observed: what changed outside rpd. Only fields both sides
/// know are compared.
pub fn drift(recorded: &PodSpec, observed: &PodSpec) -> Vec<FieldChange> {
    let before = spec_fields(recorded);
    let after = spec_fields(observed);
    let mut out = Vec::new();
    for (field, old) in &before {
        let Some((_, new)) = after.iter().find(|(f, _)| f == field) else {
            continue;
        };
        let same = match (old, new) {
            (FieldValue::Text(old), FieldValue::Text(new)) if *field == "gpu" => same_gpu(old, new),
            _ => old == new,
        };
        if !same {
            out.push(FieldChange {
                field: field.to_string(),
                old: Some(old.clone()),
                new: Some(new.clone()),
                forces_replacement: false,
                note: None,
            });
        }
    }
    out
}

/// The best knowledge of what the pod is: observed fields over recorded ones.
pub fn effective(recorded: &PodSpec, observed: &PodSpec) -> PodSpec {
    PodSpec {
        image: observed.image.clone().or_else(|| recorded.image.clone()),
        gpu_id: observed.gpu_id.clone().or_else(|| recorded.gpu_id.clone()),
        gpu_count: observed.gpu_count.or(recorded.gpu_count),
        datacenter_id: observed
            .datacenter_id
            .clone()
            .or_else(|| recorded.datacenter_id.clone()),
        cloud_type: observed.cloud_type.or(recorded.cloud_type),
        container_disk_gb: observed.container_disk_gb.or(recorded.container_disk_gb),
        storage: merge_storage(recorded.storage.as_ref(), observed.storage.as_ref()),
        ports: observed.ports.clone().or_else(|| recorded.ports.clone()),
    }
}

/// Providers do not report a network volume's name, only its id: keep the
/// recorded name when the id matches.
fn merge_storage(recorded: Option<&Storage>, observed: Option<&Storage>) -> Option<Storage> {
    match (recorded, observed) {
        (
            Some(Storage::NetworkVolume {
                volume_name,
                volume_id: rid,
                ..
            }),
            Some(Storage::NetworkVolume {
                volume_id: oid,
                mount,
                volume_name: oname,
            }),
        ) if oname.is_empty() && (oid == rid || oid.is_none()) => Some(Storage::NetworkVolume {
            volume_name: volume_name.clone(),
            volume_id: oid.clone().or_else(|| rid.clone()),
            mount: mount.clone(),
        }),
        (r, o) => o.or(r).cloned(),
    }
}

/// Desired vs actual: every difference, each marked with whether it forces
/// a new pod (PLANNER.md §2). Fields the actual pod does not report are not
/// compared. A pod on any GPU of `gpu_order` and any datacenter of
/// `datacenters` fits: the lists are preferences, not a choice made afresh
/// on every plan. The image, the container disk, the ports and a growing
/// volume can change in place ([`in_place_update`]); a shrinking volume
/// cannot, and its change says the data is lost.
pub fn config_changes(desired: &DesiredPod, actual: &PodSpec) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut push = |field: &str, old: FieldValue, new: FieldValue| {
        out.push(FieldChange {
            field: field.to_string(),
            old: Some(old),
            new: Some(new),
            forces_replacement: !MUTABLE.contains(&field),
            note: None,
        })
    };
    if let Some(image) = &actual.image
        && *image != desired.image
    {
        push(
            "image",
            FieldValue::text(image),
            FieldValue::text(&desired.image),
        );
    }
    if let Some(gpu) = &actual.gpu_id
        && !desired.gpu_order.iter().any(|g| same_gpu(g, gpu))
    {
        push("gpu", FieldValue::text(gpu), one_of(&desired.gpu_order));
    }
    if let Some(count) = actual.gpu_count
        && count != desired.gpu_count
    {
        push("gpu_count", number(count), number(desired.gpu_count));
    }
    if let Some(dc) = &actual.datacenter_id
        && !desired.datacenters.contains(dc)
    {
        push(
            "datacenter",
            FieldValue::text(dc),
            one_of(&desired.datacenters),
        );
    }
    if let Some(cloud) = actual.cloud_type
        && cloud != desired.cloud_type
    {
        push(
            "cloud_type",
            FieldValue::text(cloud.as_str()),
            FieldValue::text(desired.cloud_type.as_str()),
        );
    }
    if let Some(disk) = actual.container_disk_gb
        && disk != desired.container_disk_gb
    {
        push(
            "container_disk_gb",
            number(disk),
            number(desired.container_disk_gb),
        );
    }
    if let Some(storage) = &actual.storage {
        let before = storage_fields(storage);
        for (field, new) in storage_fields(&desired.storage) {
            match before.iter().find(|(f, _)| *f == field) {
                Some((_, old)) if *old != new => push(field, old.clone(), new),
                None => push(field, FieldValue::Absent, new),
                _ => {}
            }
        }
    }
    if let Some(ports) = &actual.ports {
        let mut sorted = ports.clone();
        sorted.sort();
        sorted.dedup();
        if sorted != desired.ports {
            push(
                "ports",
                FieldValue::List(sorted),
                FieldValue::List(desired.ports.clone()),
            );
        }
    }
    mark_volume_shrink(&mut out);
    out
}

/// What an existing pod can change in place: `volume_gb` only while it
/// grows, on a pod whose kind of storage does not change.
const MUTABLE: &[&str] = &["image", "container_disk_gb", "ports", "volume_gb"];

/// A volume cannot shrink, and one of another kind is a new volume: the
/// change forces a new pod, whose volume starts empty.
fn mark_volume_shrink(changes: &mut [FieldChange]) {
    let storage_kind_changes = changes.iter().any(|c| c.field == "storage_mode");
    for change in changes.iter_mut().filter(|c| c.field == "volume_gb") {
        let shrinks = matches!(
            (&change.old, &change.new),
            (Some(FieldValue::Number(old)), Some(FieldValue::Number(new))) if new < old
        );
        if shrinks || storage_kind_changes {
            change.forces_replacement = true;
        }
        if shrinks {
            change.note = Some(FieldNote::VolumeShrinkLosesData);
        }
    }
}

/// The update that turns the pod into the desired one, when every change
/// in `changes` can be made in place (`None` when one forces a new pod, or
/// when nothing changes).
pub fn in_place_update(desired: &DesiredPod, changes: &[FieldChange]) -> Option<PodUpdate> {
    if changes.is_empty() || changes.iter().any(|c| c.forces_replacement) {
        return None;
    }
    let changed = |field: &str| changes.iter().any(|c| c.field == field);
    let volume = match &desired.storage {
        Storage::Ephemeral { volume_gb, mount } if changed("volume_gb") => Some(VolumeGrowth {
            volume_gb: *volume_gb,
            mount: mount.clone(),
        }),
        _ => None,
    };
    Some(PodUpdate {
        image: changed("image").then(|| desired.image.clone()),
        container_disk_gb: changed("container_disk_gb").then_some(desired.container_disk_gb),
        ports: changed("ports").then(|| desired.ports.clone()),
        volume,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CloudType;

    fn desired() -> DesiredPod {
        DesiredPod {
            image: "img:2".into(),
            gpu_order: vec!["NVIDIA A40".into(), "NVIDIA L40S".into()],
            datacenters: vec!["EU-RO-1".into()],
            cloud_type: CloudType::Secure,
            all_clouds: false,
            gpu_count: 1,
            container_disk_gb: 20,
            storage: Storage::Ephemeral {
                volume_gb: 20,
                mount: "/workspace".into(),
            },
            ports: vec!["22/tcp".into()],
            env: Default::default(),
            min_vcpu_count: None,
            min_memory_gb: None,
            spot: false,
        }
    }

    #[test]
    fn second_choice_gpu_is_not_drift() {
        let actual = PodSpec {
            gpu_id: Some("NVIDIA L40S".into()),
            datacenter_id: Some("EU-RO-1".into()),
            image: Some("img:2".into()),
            ..PodSpec::default()
        };
        assert!(config_changes(&desired(), &actual).is_empty());
    }

    #[test]
    fn an_unlisted_gpu_forces_replacement_and_the_image_does_not() {
        let actual = PodSpec {
            gpu_id: Some("NVIDIA H100 80GB HBM3".into()),
            image: Some("img:1".into()),
            ports: Some(vec!["22/tcp".into(), "22/tcp".into()]),
            ..PodSpec::default()
        };
        let fields: Vec<(String, FieldValue, FieldValue, bool)> =
            config_changes(&desired(), &actual)
                .into_iter()
                .map(|f| {
                    (
                        f.field,
                        f.old.unwrap(),
                        f.new.unwrap(),
                        f.forces_replacement,
                    )
                })
                .collect();
        assert_eq!(
            fields,
            [
                (
                    "image".to_string(),
                    FieldValue::text("img:1"),
                    FieldValue::text("img:2"),
                    false
                ),
                (
                    "gpu".to_string(),
                    FieldValue::text("NVIDIA H100 80GB HBM3"),
                    one_of(&["NVIDIA A40".into(), "NVIDIA L40S".into()]),
                    true
                ),
            ]
        );
    }
}
