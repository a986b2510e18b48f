//! `GET /v2/catalog/gpus?include=AVAILABILITY&product=POD&cloud=...&count=...`
//! and `GET /v2/catalog/datacenters` to rpd's catalog.

use super::wire::{self, DataCenter, GpuType};
use crate::known::same_gpu;
use crate::model::{CloudType, GpuTypeLimit, Stock};
use crate::provider::{Catalog, NetworkVolume, Offer};

/// One offer per requested (datacenter, GPU), datacenters first as the
/// planner orders them; with every GPU type the catalog lists (and how
/// many GPUs one pod of it can have on `cloud`) and every datacenter.
///
/// - A GPU the catalog does not list: stock and price unknown (the planner
///   judges it from `gpu_types`).
/// - A datacenter the GPU's `dataCenters` does not list: none (the spec
///   lists only datacenters that offer the GPU in the asked configuration).
/// - No `dataCenters` at all: none when the overall `availability` is
///   `NONE` (the spec omits the list then), else unknown.
pub fn offers(
    gpus: &[GpuType],
    datacenters: &[DataCenter],
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
    let gpu_types = gpus
        .iter()
        .map(|g| GpuTypeLimit {
            id: g.id.clone(),
            max_count: g.max_count.as_ref().and_then(|m| match cloud {
                CloudType::Secure => m.secure,
                CloudType::Community => m.community,
            }),
        })
        .collect();
    Catalog {
        offers: out,
        gpu_types: Some(gpu_types),
        datacenters: Some(datacenters.iter().map(|d| d.id.clone()).collect()),
    }
}

/// `GET /v2/network-volumes`'s volumes in rpd's terms.
pub fn volumes(list: Vec<wire::NetworkVolume>) -> Vec<NetworkVolume> {
    list.into_iter()
        .map(|v| NetworkVolume {
            id: v.id,
            name: v.name,
            // The spec requires `dataCenter`; one left out is "nowhere".
            datacenter_id: v.data_center.unwrap_or_default(),
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::rest_v2::wire::{DataCenterAvailability, GpuPrice, PerCloud};

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
            max_count: Some(PerCloud {
                secure: Some(8),
                community: Some(4),
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
        let catalog = offers(&gpus, &[], &wanted, &dcs, CloudType::Secure);
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
        let community = offers(&gpus, &[], &wanted[..1], &dcs[..1], CloudType::Community);
        assert_eq!(community.offers[0].price_per_gpu_hr, Some(0.31));
    }

    #[test]
    fn every_listed_gpu_type_and_datacenter_is_known_with_its_cloud_s_max_count() {
        let gpus = [gpu("NVIDIA GeForce RTX 4090", None, Some("HIGH"))];
        let dcs = [DataCenter {
            id: "EU-RO-1".into(),
        }];
        let limit = |cloud| {
            let catalog = offers(&gpus, &dcs, &[], &[], cloud);
            assert_eq!(catalog.datacenters, Some(vec!["EU-RO-1".to_string()]));
            catalog.gpu_types.unwrap()
        };
        let expected = |max| {
            vec![GpuTypeLimit {
                id: "NVIDIA GeForce RTX 4090".into(),
                max_count: Some(max),
            }]
        };
        assert_eq!(limit(CloudType::Secure), expected(8));
        assert_eq!(limit(CloudType::Community), expected(4));
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
            &[],
            &["NVIDIA H100 NVL".into()],
            &["EU-RO-1".into()],
            CloudType::Community,
        );
        assert_eq!(catalog.offers[0].stock, Stock::None);
    }
}
