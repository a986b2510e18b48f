//! `rpd cost`: what each config's pods cost over a window. With
//! `--provider runpod`, RunPod's hourly bills for every pod the config's
//! state ever tracked; where the provider keeps no bills (the simulator,
//! runpodctl), an estimate from the run manifests and the pauses rpd knows
//! of, labelled as such.

use chrono::{Duration, Utc};
use serde_json::json;

use crate::commands::Ctx;
use crate::commands::inventory;
use crate::commands::settings::CostSettings;
use crate::cost;
use crate::exit::ExitStatus;
use crate::hygiene::spend::{self, ConfigSpend, Pause, Source};
use crate::model::PodStatus;
use crate::render;

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
    for facts in &gathered.facts {
        // Each config's bills come from the provider it was applied with.
        let registered = subjects
            .iter()
            .find(|s| s.state_file == facts.state_file)
            .and_then(|s| s.provider.as_deref());
        let recorded = inventory::recorded_provider(registered, facts.state.as_ref());
        let provider = providers.get(&providers.name_for(recorded.as_deref()))?;
        let pod_ids: Vec<String> = match &facts.state {
            Some(state) => state.pod_ids_ever().into_iter().map(String::from).collect(),
            None => facts.registered_pods.clone(),
        };
        let mut bills = Vec::new();
        let mut billed = true;
        for id in &pod_ids {
            match provider.pod_billing(id, since).await {
                Ok(Some(found)) => bills.extend(found),
                Ok(None) => billed = false,
                Err(err) => {
                    return Err(anyhow::Error::new(err)
                        .context(format!("reading RunPod's bills for pod {id}")));
                }
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
        });
    }
    if settings.json {
        crate::say!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "format_version": "1.0",
                "since": since.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "configs": rows,
            }))
            .expect("json")
        );
    } else {
        let base = std::env::current_dir().unwrap_or_default();
        crate::say_raw!(
            "{}",
            render::tables::cost(&rows, since, &base, &ctx.stdout_palette())
        );
    }
    Ok(if failed {
        ExitStatus::Error
    } else {
        ExitStatus::Success
    })
}
