//! `rpd cost`: what each config's pods cost over a window. With
//! `--provider runpod`, RunPod's hourly bills for every pod the config's
//! state ever tracked, and for the network volumes its pods mount (billed
//! apart from any pod); where the provider keeps no bills (the simulator,
//! runpodctl) or RunPod refuses them to this key (403), an estimate from
//! the run manifests and the pauses rpd knows of, labelled as such.

use chrono::{Duration, Utc};
use serde_json::json;

use crate::commands::Ctx;
use crate::commands::inventory;
use crate::commands::settings::CostSettings;
use crate::cost;
use crate::exit::ExitStatus;
use crate::hygiene::spend::{self, ConfigSpend, Pause, Source, VolumeSpend};
use crate::model::{PodStatus, Storage};
use crate::provider::ProviderError;
use crate::render;

/// A refusal of the bills that an estimate stands in for: the key may not
/// read billing (403). Any other failure is an error.
fn refused(err: &ProviderError) -> Option<String> {
    match err {
        // 401 is a key RunPod does not know: an error, not an estimate.
        ProviderError::Auth(why) if why.contains("HTTP 403") => Some(why.clone()),
        _ => None,
    }
}

pub async fn run(ctx: &Ctx, settings: &CostSettings) -> anyhow::Result<ExitStatus> {
    let Some(subjects) = inventory::subjects(ctx, &settings.configs, &settings.vars)? else {
        return Ok(ExitStatus::Error);
    };
    let gathered = inventory::gather(&subjects)?;
    let failed = gathered.report_unreadable(ctx);
    let mut providers = inventory::Providers::new(ctx);
    let now = Utc::now();
    let since = now - Duration::days(i64::try_from(settings.since_days).unwrap_or(i64::MAX / 2));
    let mut rows = Vec::new();
    // Whose provider reads each config's bills (its network volumes' too).
    let mut provider_of = std::collections::HashMap::new();
    for facts in &gathered.facts {
        // Each config's bills come from the provider it was applied with.
        let registered = subjects
            .iter()
            .find(|s| s.state_file == facts.state_file)
            .and_then(|s| s.provider.as_deref());
        let recorded = inventory::recorded_provider(registered, facts.state.as_ref());
        let provider = providers.get(&providers.name_for(recorded.as_deref()))?;
        provider_of.insert(facts.config.clone(), provider.clone());
        let pod_ids: Vec<String> = match &facts.state {
            Some(state) => state.pod_ids_ever().into_iter().map(String::from).collect(),
            None => facts.registered_pods.clone(),
        };
        let mut bills = Vec::new();
        let mut billed = true;
        let mut billing_refused = None;
        for id in &pod_ids {
            match provider.pod_billing(id, since).await {
                Ok(Some(found)) => bills.extend(found),
                Ok(None) => billed = false,
                Err(err) => match refused(&err) {
                    Some(why) => {
                        billing_refused = Some(why);
                        billed = false;
                        break;
                    }
                    None => {
                        return Err(anyhow::Error::new(err)
                            .context(format!("reading RunPod's bills for pod {id}")));
                    }
                },
            }
        }
        let (source, spend) = if billed {
            (Source::Billing, spend::from_bills(&bills))
        } else {
            let pauses: Vec<Pause> = facts
                .state
                .iter()
                .flat_map(|s| s.pod.iter().chain(s.retained.iter().map(|r| &r.pod)))
                .filter(|p| p.status == Some(PodStatus::Exited))
                .filter_map(|p| {
                    Some(Pause {
                        since: p.status_since?,
                        per_month: cost::stopped_usd_per_month(p.spec.storage.as_ref()),
                    })
                })
                .collect();
            (
                Source::Estimate,
                spend::estimate(&facts.runs, &pauses, since, now),
            )
        };
        rows.push(ConfigSpend {
            config: facts.config.clone(),
            job_name: facts.job_name.clone(),
            pod_ids,
            source,
            spend,
            billing_refused,
        });
    }
    let volumes = volume_spend(&provider_of, &gathered.facts, since).await?;
    if settings.json {
        crate::say!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "format_version": "1.0",
                "since": since.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "configs": rows,
                "network_volumes": volumes,
            }))
            .expect("json")
        );
    } else {
        let base = std::env::current_dir().unwrap_or_default();
        crate::say_raw!(
            "{}",
            render::tables::cost(&rows, &volumes, since, &base, &ctx.stdout_palette())
        );
    }
    Ok(if failed {
        ExitStatus::Error
    } else {
        ExitStatus::Success
    })
}

/// The network volumes the configs' pods mount (as their states record
/// them), each with the configs that use it and RunPod's bills for it.
async fn volume_spend(
    provider_of: &std::collections::HashMap<std::path::PathBuf, crate::provider::SharedProvider>,
    facts: &[crate::hygiene::status::ConfigFacts],
    since: chrono::DateTime<Utc>,
) -> anyhow::Result<Vec<VolumeSpend>> {
    let mut used_by: std::collections::BTreeMap<String, Vec<std::path::PathBuf>> =
        std::collections::BTreeMap::new();
    for facts in facts {
        let records = facts
            .state
            .iter()
            .flat_map(|s| s.pod.iter().chain(s.retained.iter().map(|r| &r.pod)));
        for record in records {
            if let Some(Storage::NetworkVolume {
                volume_id: Some(id),
                ..
            }) = &record.spec.storage
            {
                let configs = used_by.entry(id.clone()).or_default();
                if !configs.contains(&facts.config) {
                    configs.push(facts.config.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    for (volume_id, configs) in used_by {
        // Read with the provider of the first config that mounts it.
        let Some(provider) = configs.iter().find_map(|c| provider_of.get(c)) else {
            continue;
        };
        let (total_usd, billing_refused) =
            match provider.network_volume_billing(&volume_id, since).await {
                Ok(Some(bills)) => (Some(spend::from_volume_bills(&bills)), None),
                // No billing with this provider: nothing to say.
                Ok(None) => continue,
                Err(err) => match refused(&err) {
                    Some(why) => (None, Some(why)),
                    None => {
                        return Err(anyhow::Error::new(err).context(format!(
                            "reading RunPod's bills for network volume {volume_id}"
                        )));
                    }
                },
            };
        out.push(VolumeSpend {
            volume_id,
            configs,
            total_usd,
            billing_refused,
        });
    }
    Ok(out)
}
