//! `GET /v2/catalog/gpus?include=AVAILABILITY&product=POD&cloud=...` to
//! rpd's offers, and `GET /v2/network-volumes` to one volume id.

use super::wire::{GpuType, NetworkVolume};
use crate::known::same_gpu;
use crate::model::{CloudType, Stock};
use crate::provider::{Catalog, Offer, ProviderError};

/// One offer per requested (datacenter, GPU), datacenters first as the
/// planner orders them.
///
/// - A GPU the catalog does not list: stock and price unknown.
/// - A datacenter the GPU's `dataCenters` does not list: none (the spec
///   lists only datacenters that offer the GPU).
/// - No `dataCenters` at all: none when the overall `availability` is
///   `NONE` (the spec omits the list then), else unknown.
pub fn offers(
    gpus: &[GpuType],
    gpu_ids: &[String],
    datacenter_ids: &[String],
    cloud: CloudType,
) -> Catalog {
    let mut out = Vec::new();
    for dc in datacenter_ids {
        for gpu_id in gpu_ids {
            let gpu = gpus.iter().find(|g| same_gpu(&g.id, gpu_id));
            out.push(Offer {
                datacenter_id: dc.clone(),
                gpu_id: gpu_id.clone(),
                stock: gpu.map_or(Stock::Unknown, |g| stock_in(g, dc, cloud)),
                price_per_gpu_hr: gpu.and_then(|g| price(g, cloud)),
            });
        }
    }
    Catalog { offers: out }
}

fn stock_in(gpu: &GpuType, datacenter_id: &str, cloud: CloudType) -> Stock {
    let offered_in_cloud = match cloud {
        CloudType::Secure => gpu.secure,
        CloudType::Community => gpu.community,
    };
    if offered_in_cloud == Some(false) {
        return Stock::None;
    }
    match &gpu.data_centers {
        Some(dcs) => dcs
            .iter()
            .find(|d| d.id == datacenter_id)
            .map_or(Stock::None, |d| level(d.availability.as_deref())),
        None if gpu.availability.as_deref() == Some("NONE") => Stock::None,
        None => Stock::Unknown,
    }
}

fn level(text: Option<&str>) -> Stock {
    match text {
        Some("NONE") => Stock::None,
        Some("LOW") => Stock::Low,
        Some("MEDIUM") => Stock::Medium,
        Some("HIGH") => Stock::High,
        _ => Stock::Unknown,
    }
}

/// $/hr for one GPU in the cloud; a zero or negative price is unknown.
fn price(gpu: &GpuType, cloud: CloudType) -> Option<f64> {
    let price = gpu.price.as_ref()?;
    let value = match cloud {
        CloudType::Secure => price.secure,
        CloudType::Community => price.community,
    }?;
    (value.is_finite() && value > 0.0).then_some(value)
}

/// The id of the volume named `name` in `datacenter_id`. Names need not be
/// unique, so two matches in one datacenter are an error, not a guess.
pub fn resolve_volume(
    volumes: &[NetworkVolume],
    name: &str,
    datacenter_id: &str,
) -> Result<String, ProviderError> {
    let named: Vec<&NetworkVolume> = volumes.iter().filter(|v| v.name == name).collect();
    let here: Vec<&&NetworkVolume> = named
        .iter()
        .filter(|v| v.data_center.as_deref() == Some(datacenter_id))
        .collect();
    match here.as_slice() {
        [one] => Ok(one.id.clone()),
        [] if named.is_empty() => Err(ProviderError::Invalid(format!(
            "no network volume named {name:?} in this RunPod account{}",
            if volumes.is_empty() {
                String::new()
            } else {
                format!(
                    " (it has {})",
                    volumes
                        .iter()
                        .map(|v| format!("{:?}", v.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ))),
        [] => Err(ProviderError::Invalid(format!(
            "network volume {name:?} is in {}, not in {datacenter_id}; a pod can only mount a volume in its own datacenter",
            named
                .iter()
                .map(|v| v.data_center.as_deref().unwrap_or("an unknown datacenter"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        many => Err(ProviderError::Invalid(format!(
            "{} network volumes are named {name:?} in {datacenter_id} ({}); rename all but one in the RunPod console",
            many.len(),
            many.iter()
                .map(|v| v.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::rest_v2::wire::{DataCenterAvailability, GpuPrice};

    fn gpu(id: &str, dcs: Option<&[(&str, &str)]>, overall: Option<&str>) -> GpuType {
        GpuType {
            id: id.into(),
            secure: Some(true),
            community: Some(true),
            price: Some(GpuPrice {
                secure: Some(0.44),
                community: Some(0.31),
            }),
            availability: overall.map(String::from),
            data_centers: dcs.map(|d| {
                d.iter()
                    .map(|(id, a)| DataCenterAvailability {
                        id: id.to_string(),
                        availability: Some(a.to_string()),
                    })
                    .collect()
            }),
        }
    }

    fn stocks(catalog: &Catalog) -> Vec<(String, String, Stock)> {
        catalog
            .offers
            .iter()
            .map(|o| (o.datacenter_id.clone(), o.gpu_id.clone(), o.stock))
            .collect()
    }

    #[test]
    fn stock_per_datacenter_with_absent_datacenters_as_none() {
        let gpus = [
            gpu(
                "NVIDIA GeForce RTX 4090",
                Some(&[("EU-RO-1", "LOW"), ("US-CA-2", "HIGH")]),
                Some("HIGH"),
            ),
            gpu("NVIDIA RTX A5000", None, Some("NONE")),
            gpu("NVIDIA L4", None, None),
        ];
        let wanted = [
            "NVIDIA GeForce RTX 4090",
            "NVIDIA RTX A5000",
            "NVIDIA L4",
            "NVIDIA B200",
        ]
        .map(String::from);
        let dcs = ["EU-RO-1", "US-KS-2"].map(String::from);
        let catalog = offers(&gpus, &wanted, &dcs, CloudType::Secure);
        let s = |dc: &str, g: &str, st| (dc.to_string(), g.to_string(), st);
        assert_eq!(
            stocks(&catalog),
            vec![
                s("EU-RO-1", "NVIDIA GeForce RTX 4090", Stock::Low),
                s("EU-RO-1", "NVIDIA RTX A5000", Stock::None),
                s("EU-RO-1", "NVIDIA L4", Stock::Unknown),
                s("EU-RO-1", "NVIDIA B200", Stock::Unknown),
                s("US-KS-2", "NVIDIA GeForce RTX 4090", Stock::None),
                s("US-KS-2", "NVIDIA RTX A5000", Stock::None),
                s("US-KS-2", "NVIDIA L4", Stock::Unknown),
                s("US-KS-2", "NVIDIA B200", Stock::Unknown),
            ]
        );
        assert_eq!(catalog.offers[0].price_per_gpu_hr, Some(0.44));
        assert_eq!(catalog.offers[3].price_per_gpu_hr, None);
        let community = offers(&gpus, &wanted[..1], &dcs[..1], CloudType::Community);
        assert_eq!(community.offers[0].price_per_gpu_hr, Some(0.31));
    }

    #[test]
    fn a_gpu_not_offered_in_the_cloud_has_no_stock() {
        let mut g = gpu(
            "NVIDIA H100 NVL",
            Some(&[("EU-RO-1", "HIGH")]),
            Some("HIGH"),
        );
        g.community = Some(false);
        let catalog = offers(
            &[g],
            &["NVIDIA H100 NVL".into()],
            &["EU-RO-1".into()],
            CloudType::Community,
        );
        assert_eq!(catalog.offers[0].stock, Stock::None);
    }

    fn volume(id: &str, name: &str, dc: &str) -> NetworkVolume {
        NetworkVolume {
            id: id.into(),
            name: name.into(),
            data_center: Some(dc.into()),
        }
    }

    #[test]
    fn volumes_resolve_by_name_and_datacenter_with_clear_errors() {
        let volumes = [
            volume("v1", "data", "EU-RO-1"),
            volume("v2", "data", "US-KS-2"),
            volume("v3", "models", "EU-RO-1"),
            volume("v4", "models", "EU-RO-1"),
        ];
        assert_eq!(resolve_volume(&volumes, "data", "US-KS-2").unwrap(), "v2");
        let elsewhere = resolve_volume(&volumes, "data", "CA-MTL-1")
            .unwrap_err()
            .to_string();
        assert!(
            elsewhere.contains("network volume \"data\" is in EU-RO-1, US-KS-2, not in CA-MTL-1"),
            "{elsewhere}"
        );
        let missing = resolve_volume(&volumes, "cache", "EU-RO-1")
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("no network volume named \"cache\""),
            "{missing}"
        );
        let twice = resolve_volume(&volumes, "models", "EU-RO-1")
            .unwrap_err()
            .to_string();
        assert!(
            twice.contains("2 network volumes are named \"models\" in EU-RO-1 (v3, v4)"),
            "{twice}"
        );
    }
}
