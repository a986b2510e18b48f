use super::*;
use crate::commands::settings::{OutputFormat, SimAction};
use crate::model::CloudType;

fn resolve(args: &[&str], no_color_env: Option<&str>) -> Invocation {
    resolve_env(args, no_color_env, None)
}

fn resolve_env(
    args: &[&str],
    no_color_env: Option<&str>,
    provider_env: Option<&str>,
) -> Invocation {
    let cli = Cli::try_parse_from(std::iter::once("rpd").chain(args.iter().copied()))
        .expect("arguments parse");
    cli.resolve_with(no_color_env.map(OsStr::new), provider_env)
}

#[test]
fn the_provider_flag_wins_over_rpd_provider_after_or_before_the_command() {
    let provider = |args: &[&str], env| resolve_env(args, None, env).global.provider;
    assert_eq!(provider(&["plan", "a.yaml"], Some("sim")), "sim");
    assert_eq!(provider(&["plan", "a.yaml"], None), "runpod");
    assert_eq!(
        provider(&["plan", "a.yaml", "--provider", "runpodctl"], Some("sim")),
        "runpodctl"
    );
    assert_eq!(
        provider(&["--provider", "runpodctl", "plan", "a.yaml"], Some("sim")),
        "runpodctl"
    );
}

#[test]
fn a_fallback_cloud_maps_to_the_models_cloud_type() {
    let invocation = resolve(
        &[
            "--provider",
            "sim",
            "apply",
            "a.yaml",
            "--fallback-cloud-type",
            "COMMUNITY",
            "--replace",
            "--lock-timeout",
            "5m",
            "--on-busy-host",
            "recreate",
            "--replace-without-stock",
        ],
        None,
    );
    let Action::Apply(apply) = invocation.action else {
        panic!("not an apply: {:?}", invocation.action);
    };
    assert_eq!(
        apply.flags,
        PlanFlags {
            replace: true,
            fallback_cloud: Some(CloudType::Community),
            on_busy_host: Some(crate::model::BusyHostPolicy::Recreate),
            replace_without_stock: true,
            busy_host_wait: None,
            direct_ssh_grace: Duration::from_secs(60),
        }
    );
    assert_eq!(apply.lock.timeout, Duration::from_secs(300));
    assert!(!apply.auto_approve);
}

#[test]
fn destroy_plans_with_no_flags_and_plan_maps_its_format() {
    let destroy = resolve(&["--provider", "sim", "destroy", "-y", "a.yaml"], None);
    assert_eq!(
        destroy.action,
        Action::Destroy(DestroySettings {
            configs: vec![PathBuf::from("a.yaml")],
            vars: VarSettings::default(),
            auto_approve: true,
            lock: LockSettings {
                timeout: Duration::ZERO
            },
        })
    );
    let plan = resolve(
        &["--provider", "sim", "plan", "a.yaml", "--format", "json"],
        None,
    );
    let Action::Plan(plan) = plan.action else {
        panic!("not a plan");
    };
    assert_eq!(plan.format, OutputFormat::Json);
    assert_eq!(plan.flags, PlanFlags::default());
}

#[test]
fn an_empty_provider_means_the_default_and_spaces_are_trimmed() {
    let empty = resolve(&["--provider", "", "validate", "a.yaml"], None);
    assert_eq!(empty.global.provider, "runpod");
    let spaced = resolve(&["--provider", " sim ", "validate", "a.yaml"], None);
    assert_eq!(spaced.global.provider, "sim");
    // An unknown name is kept, for the command to refuse with its help.
    let unknown = resolve(&["--provider", "nope", "validate", "a.yaml"], None);
    assert_eq!(unknown.global.provider, "nope");
}

#[test]
fn no_color_flag_or_a_non_empty_no_color_variable_turn_colour_off() {
    let colour = |args: &[&str], env| resolve(args, env).global.colour;
    let args = ["--provider", "sim", "validate", "a.yaml"];
    assert_eq!(colour(&args, None), ColourChoice::OnTerminals);
    assert_eq!(colour(&args, Some("")), ColourChoice::OnTerminals);
    assert_eq!(colour(&args, Some("1")), ColourChoice::Never);
    let flagged = ["--provider", "sim", "validate", "a.yaml", "--no-color"];
    assert_eq!(colour(&flagged, None), ColourChoice::Never);
    assert!(!ColourChoice::Never.for_stream(true));
    assert!(ColourChoice::OnTerminals.for_stream(true));
    assert!(!ColourChoice::OnTerminals.for_stream(false));
}

#[test]
fn vars_are_kept_in_order_with_their_file() {
    let invocation = resolve(
        &[
            "--provider",
            "sim",
            "state",
            "show",
            "a.yaml",
            "--var",
            "x=1",
            "--vars-file",
            "v.json",
            "--var",
            "x=2",
        ],
        None,
    );
    assert_eq!(
        invocation.action,
        Action::ShowState(ConfigSettings {
            config: PathBuf::from("a.yaml"),
            vars: VarSettings {
                assignments: vec!["x=1".into(), "x=2".into()],
                vars_file: Some(PathBuf::from("v.json")),
            },
        })
    );
}

#[test]
fn sim_ssh_off_drops_the_endpoint_and_stock_maps_its_cloud() {
    let off = resolve(&["sim", "ssh", "--off"], None);
    assert_eq!(
        off.action,
        Action::Sim(SimAction::Ssh {
            endpoint: None,
            user: "root".into()
        })
    );
    let on = resolve(&["sim", "ssh", "127.0.0.1:2222", "--user", "me"], None);
    assert_eq!(
        on.action,
        Action::Sim(SimAction::Ssh {
            endpoint: Some("127.0.0.1:2222".into()),
            user: "me".into()
        })
    );
    let stock = resolve(
        &[
            "sim",
            "stock",
            "EU-RO-1",
            "gpu",
            "3",
            "--cloud",
            "COMMUNITY",
        ],
        None,
    );
    assert_eq!(
        stock.action,
        Action::Sim(SimAction::Stock {
            datacenter: "EU-RO-1".into(),
            gpu: "gpu".into(),
            count: 3,
            cloud: CloudType::Community,
        })
    );
}
