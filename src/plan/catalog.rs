//! The catalog's verdict on each candidate (facts from the refresh, the
//! judgement here): a datacenter or GPU id RunPod does not have, more GPUs
//! than one machine of the type holds, a network volume that is missing or
//! elsewhere. Such a candidate is marked invalid with the reason, and a
//! create that has no valid candidate fails the plan.

use crate::known;
use crate::model::{Candidate, Catalog, CloudType, InvalidCandidate, Storage, find_volume};

use super::{Note, PlanError, Planner, PlanningInput, PodAction, PodChange, VolumesRead};

/// Marks every candidate the catalog rules out.
pub(super) fn judge(input: &PlanningInput, candidates: &mut [Candidate]) {
    for candidate in candidates {
        candidate.invalid = verdict(input, candidate);
    }
}

fn verdict(input: &PlanningInput, candidate: &Candidate) -> Option<InvalidCandidate> {
    let desired = &input.desired.pod;
    let catalog = catalog_for(input, candidate.cloud_type);
    if let Some(datacenters) = catalog.and_then(|c| c.datacenters.as_ref())
        && !datacenters.contains(&candidate.datacenter_id)
    {
        return Some(InvalidCandidate::UnknownDatacenter {
            suggestion: known::closest(
                &candidate.datacenter_id,
                datacenters.iter().map(String::as_str),
            ),
        });
    }
    if let Some(types) = catalog.and_then(|c| c.gpu_types.as_ref()) {
        let Some(gpu) = types
            .iter()
            .find(|t| known::same_gpu(&t.id, &candidate.gpu_id))
        else {
            let listed = |id: &str| types.iter().any(|t| known::same_gpu(&t.id, id));
            let suggestion = known::suggest_gpu(&candidate.gpu_id)
                .filter(|id| listed(id))
                .map(String::from)
                .or_else(|| known::closest(&candidate.gpu_id, types.iter().map(|t| t.id.as_str())));
            return Some(InvalidCandidate::UnknownGpu { suggestion });
        };
        if let Some(max) = gpu.max_count
            && desired.gpu_count > max
        {
            return Some(InvalidCandidate::TooManyGpus {
                requested: desired.gpu_count,
                max,
            });
        }
    }
    if let (Storage::NetworkVolume { volume_name, .. }, VolumesRead::Read(volumes)) =
        (&desired.storage, &input.network_volumes)
    {
        return find_volume(volumes, volume_name, &candidate.datacenter_id).err();
    }
    None
}

/// The catalog read for this cloud: the config's own, or the other one
/// (`--fallback-cloud-type`, `cloud_type: ALL`).
fn catalog_for(input: &PlanningInput, cloud: CloudType) -> Option<&Catalog> {
    if cloud == input.desired.pod.cloud_type {
        input.catalog.catalog()
    } else {
        input.fallback_catalog.as_ref()
    }
}

impl Planner<'_> {
    /// COMMUNITY machines without a public IP give a pod SSH through
    /// RunPod's proxy only, which rsync cannot use: say what apply does
    /// about such a pod when one may be created (or fallen back to).
    pub(super) fn note_community_ssh(&mut self, pod: &PodChange, ranked: &[Candidate]) {
        let creates = matches!(
            pod.action,
            PodAction::Create
                | PodAction::Replace
                | PodAction::ReplaceRequested
                | PodAction::Resume
        );
        let community = ranked
            .iter()
            .any(|c| c.cloud_type == CloudType::Community && c.invalid.is_none());
        if let Some(grace) = self.input.options.direct_ssh_grace
            && creates
            && community
        {
            let grace_sec = grace.as_secs();
            self.notes
                .push(Note::CommunityMayLackDirectSsh { grace_sec });
        }
    }

    /// A create needs a candidate the catalog does not rule out.
    pub(super) fn require_a_valid_candidate(&mut self, ranked: &[Candidate]) {
        if !ranked.is_empty() && ranked.iter().all(|c| c.invalid.is_some()) {
            self.errors.push(PlanError::NoValidCandidate {
                candidates: ranked.len(),
            });
        }
    }
}
