//! The command line of runpodctl v2 as cobra parses it: the commands rpd
//! uses, their real flags (anything else is `unknown flag`), help and usage
//! text. Flags that appeared in later versions are only accepted from those
//! versions on.

use std::collections::BTreeMap;

use crate::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Value,
}

#[derive(Debug, Clone)]
pub struct Flag {
    pub name: String,
    pub short: Option<char>,
    pub kind: Kind,
    pub help: String,
}

fn flag(name: &str, kind: Kind, help: &str) -> Flag {
    Flag {
        name: name.into(),
        short: None,
        kind,
        help: help.into(),
    }
}

/// A command: its path (`pod get`), how many positional arguments, flags.
pub struct Command {
    pub path: &'static str,
    pub args: usize,
    pub flags: Vec<Flag>,
}

/// `pod create`'s flags by version: v2.0.0 (commit 84219c5) had no
/// --network-volume-id; v2.7.x has it and the placement flags (reference
/// §1.4); v2.9 added --wait. Where between v2.0 and v2.7 a flag appeared is
/// not known: the fake draws the line at v2.7.
fn create_flags(version: Version, extra: &[String]) -> Vec<Flag> {
    use Kind::*;
    let mut flags = vec![
        flag("name", Value, "pod name"),
        flag(
            "template-id",
            Value,
            "template id (use 'runpodctl template search' to find templates)",
        ),
        flag(
            "image",
            Value,
            "docker image name (required if no template)",
        ),
        flag(
            "compute-type",
            Value,
            "compute type (GPU or CPU) (default \"GPU\")",
        ),
        flag("gpu-id", Value, "gpu id (from 'runpodctl gpu list')"),
        flag("gpu-count", Value, "number of gpus (default 1)"),
        flag("volume-in-gb", Value, "volume size in gb"),
        flag(
            "container-disk-in-gb",
            Value,
            "container disk size in gb (default 20)",
        ),
        flag(
            "volume-mount-path",
            Value,
            "volume mount path (default \"/workspace\")",
        ),
        flag(
            "global-networking",
            Bool,
            "enable global networking (secure cloud only)",
        ),
        flag(
            "public-ip",
            Bool,
            "require public ip (community cloud only)",
        ),
        flag(
            "ports",
            Value,
            "comma-separated list of ports (e.g., '8888/http,22/tcp')",
        ),
        flag("env", Value, "environment variables as json object"),
        flag(
            "cloud-type",
            Value,
            "cloud type (SECURE or COMMUNITY) (default \"SECURE\")",
        ),
        flag(
            "data-center-ids",
            Value,
            "comma-separated list of data center ids",
        ),
        flag("ssh", Bool, "enable ssh on the pod (default true)"),
    ];
    if version
        >= (Version {
            major: 2,
            minor: 7,
            patch: 0,
        })
    {
        flags.extend([
            flag("network-volume-id", Value, "network volume id to attach"),
            flag(
                "min-cuda-version",
                Value,
                "minimum cuda version (e.g., 12.6)",
            ),
            flag("docker-args", Value, "docker cmd arguments"),
            flag("registry-auth-id", Value, "container registry auth id"),
            flag(
                "country-code",
                Value,
                "limit pod to a specific country (e.g., US, DE)",
            ),
            flag(
                "stop-after",
                Value,
                "auto-stop datetime (e.g., 2026-04-15T00:00:00Z)",
            ),
            flag("terminate-after", Value, "auto-terminate datetime"),
            flag(
                "compliance",
                Value,
                "comma-separated compliance requirements",
            ),
        ]);
    }
    if version
        >= (Version {
            major: 2,
            minor: 9,
            patch: 0,
        })
    {
        flags.extend([
            flag("wait", Bool, "block until ssh is reachable"),
            flag(
                "wait-timeout",
                Value,
                "max time to wait with --wait (default \"10m\")",
            ),
        ]);
    }
    for name in extra {
        // `-name`: a build without that flag.
        if let Some(gone) = name.strip_prefix('-') {
            flags.retain(|f| f.name != gone);
            continue;
        }
        let kind = if name == "spot" { Bool } else { Value };
        flags.push(flag(
            name,
            kind,
            "(a flag this fake build was told to have)",
        ));
    }
    flags.sort_by(|a, b| a.name.cmp(&b.name));
    flags
}

/// The first version whose `pod list` has `--all` and lists only running
/// pods without it.
pub const LIST_FILTERS: Version = Version {
    major: 2,
    minor: 1,
    patch: 0,
};

pub fn commands(version: Version, extra_create: &[String]) -> Vec<Command> {
    use Kind::*;
    let mut all = flag(
        "all",
        Bool,
        "show all pods including exited (default: running only)",
    );
    all.short = Some('a');
    // v2.0.0's `pod list` lists every pod and has no filters but these
    // two (cmd/pod/list.go at 84219c5); `--all` and the status filter came
    // with v2.1.0.
    let list_flags = if version >= LIST_FILTERS {
        vec![
            all,
            flag("compute-type", Value, "filter by compute type (GPU or CPU)"),
            flag(
                "created-after",
                Value,
                "filter pods created after date (e.g. 2025-01-15)",
            ),
            flag("name", Value, "filter by pod name"),
            flag(
                "since",
                Value,
                "filter pods created within duration (e.g. 1h, 7d)",
            ),
            flag(
                "status",
                Value,
                "filter by desired status (e.g. RUNNING, EXITED)",
            ),
        ]
    } else {
        vec![
            flag("compute-type", Value, "filter by compute type (GPU or CPU)"),
            flag("name", Value, "filter by pod name"),
        ]
    };
    vec![
        Command {
            path: "pod create",
            args: 0,
            flags: create_flags(version, extra_create),
        },
        Command {
            path: "pod get",
            args: 1,
            flags: vec![
                flag("include-machine", Bool, "include machine info"),
                flag(
                    "include-network-volume",
                    Bool,
                    "include network volume info",
                ),
            ],
        },
        Command {
            path: "pod list",
            args: 0,
            flags: list_flags,
        },
        Command {
            path: "pod update",
            args: 1,
            flags: vec![
                flag("name", Value, "new pod name"),
                flag("image", Value, "new docker image name"),
                flag(
                    "container-disk-in-gb",
                    Value,
                    "new container disk size in gb",
                ),
                flag("volume-in-gb", Value, "new volume size in gb"),
                flag("volume-mount-path", Value, "new volume mount path"),
                flag("ports", Value, "new comma-separated list of ports"),
                flag("env", Value, "new environment variables as json object"),
            ],
        },
        Command {
            path: "pod start",
            args: 1,
            flags: vec![],
        },
        Command {
            path: "pod stop",
            args: 1,
            flags: vec![],
        },
        Command {
            path: "pod delete",
            args: 1,
            flags: vec![],
        },
        Command {
            path: "datacenter list",
            args: 0,
            flags: vec![],
        },
        Command {
            path: "gpu list",
            args: 0,
            flags: vec![flag(
                "include-unavailable",
                Bool,
                "include gpus with no current availability",
            )],
        },
        Command {
            path: "network-volume list",
            args: 0,
            flags: vec![],
        },
    ]
}

fn canonical_noun(noun: &str) -> &str {
    match noun {
        "pods" => "pod",
        "dc" => "datacenter",
        "nv" => "network-volume",
        other => other,
    }
}

fn canonical_verb(verb: &str) -> &str {
    match verb {
        "rm" | "remove" => "delete",
        "ls" => "list",
        other => other,
    }
}

/// A parsed invocation.
#[derive(Debug, Default)]
pub struct Invocation {
    pub path: String,
    pub args: Vec<String>,
    pub values: BTreeMap<String, String>,
    pub help: bool,
    pub output: Option<String>,
}

impl Invocation {
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn set(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| v == "true")
    }
}

/// A cobra usage error: the message and the command whose usage follows.
#[derive(Debug)]
pub struct UsageError {
    pub message: String,
    pub usage: String,
}

pub fn usage(command: &Command) -> String {
    let mut lines = vec!["Usage:".to_string()];
    let args = if command.args > 0 { " <pod-id>" } else { "" };
    lines.push(format!("  runpodctl {}{args} [flags]", command.path));
    lines.push(String::new());
    lines.push("Flags:".into());
    let mut flags = command.flags.clone();
    let verb = command.path.rsplit(' ').next().unwrap_or("");
    let mut help = flag("help", Kind::Bool, &format!("help for {verb}"));
    help.short = Some('h');
    flags.push(help);
    flags.sort_by(|a, b| a.name.cmp(&b.name));
    for f in &flags {
        let short = f.short.map_or("    ".to_string(), |c| format!("-{c}, "));
        let kind = match f.kind {
            Kind::Bool => "",
            Kind::Value => " string",
        };
        lines.push(format!(
            "  {short}--{:<28} {}",
            format!("{}{kind}", f.name),
            f.help
        ));
    }
    lines.push(String::new());
    lines.push("Global Flags:".into());
    lines.push("  -o, --output string   output format (json, yaml) (default \"json\")".into());
    lines.join("\n") + "\n"
}

pub fn parse<'a>(
    commands: &'a [Command],
    argv: &[String],
) -> Result<(Invocation, &'a Command), UsageError> {
    let root_usage = || "Usage:\n  runpodctl [command]\n".to_string();
    let words: Vec<&String> = argv
        .iter()
        .filter(|a| !a.starts_with('-'))
        .take(2)
        .collect();
    let path = match words.as_slice() {
        [noun, verb] => format!("{} {}", canonical_noun(noun), canonical_verb(verb)),
        [noun] => canonical_noun(noun).to_string(),
        _ => String::new(),
    };
    let Some(command) = commands.iter().find(|c| c.path == path) else {
        return Err(UsageError {
            message: format!(
                "unknown command \"{}\" for \"runpodctl\"",
                words.first().map(|w| w.as_str()).unwrap_or("")
            ),
            usage: root_usage(),
        });
    };
    let fail = |message: String| UsageError {
        message,
        usage: usage(command),
    };
    let mut inv = Invocation {
        path: command.path.to_string(),
        ..Invocation::default()
    };
    let mut positional = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let arg = &argv[i];
        i += 1;
        if arg == "-h" || arg == "--help" {
            inv.help = true;
            continue;
        }
        if arg == "-o" || arg == "--output" || arg.starts_with("--output=") {
            let value = match arg.split_once('=') {
                Some((_, v)) => v.to_string(),
                None => {
                    let v = argv
                        .get(i)
                        .ok_or_else(|| fail(format!("flag needs an argument: {arg}")))?;
                    i += 1;
                    v.clone()
                }
            };
            inv.output = Some(value);
            continue;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let f = command
                .flags
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| fail(format!("unknown flag: --{name}")))?;
            let value = match (f.kind, inline) {
                (Kind::Bool, None) => "true".to_string(),
                (Kind::Bool, Some(v)) if v == "true" || v == "false" => v,
                (Kind::Bool, Some(v)) => {
                    return Err(fail(format!(
                        "invalid argument \"{v}\" for \"--{name}\" flag: strconv.ParseBool: parsing \"{v}\": invalid syntax"
                    )));
                }
                (Kind::Value, Some(v)) => v,
                (Kind::Value, None) => {
                    let v = argv
                        .get(i)
                        .ok_or_else(|| fail(format!("flag needs an argument: --{name}")))?;
                    i += 1;
                    v.clone()
                }
            };
            // A repeated flag: the last value wins (pflag's StringVar).
            inv.values.insert(name.to_string(), value);
            continue;
        }
        if let Some(shorts) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            let c = shorts.chars().next().unwrap_or('-');
            let f = command
                .flags
                .iter()
                .find(|f| f.short == Some(c))
                .ok_or_else(|| fail(format!("unknown shorthand flag: '{c}' in {arg}")))?;
            inv.values.insert(f.name.clone(), "true".into());
            continue;
        }
        positional.push(arg.clone());
    }
    // The command words themselves are the first positionals.
    let skip = command.path.split(' ').count();
    inv.args = positional.into_iter().skip(skip).collect();
    if !inv.help && inv.args.len() != command.args {
        return Err(fail(format!(
            "accepts {} arg(s), received {}",
            command.args,
            inv.args.len()
        )));
    }
    Ok((inv, command))
}

/// `runpodctl pod --help`: cobra's group help, listing the pod commands
/// this build has.
pub fn group_help(commands: &[Command], noun: &str) -> Option<String> {
    let noun = canonical_noun(noun);
    let verbs: Vec<&str> = commands
        .iter()
        .filter_map(|c| c.path.strip_prefix(noun)?.strip_prefix(' '))
        .collect();
    if verbs.is_empty() {
        return None;
    }
    let mut lines = vec![
        format!("manage {noun}s"),
        String::new(),
        "Usage:".into(),
        format!("  runpodctl {noun} [command]"),
        String::new(),
        "Available Commands:".into(),
    ];
    for verb in verbs {
        lines.push(format!("  {verb:<11} {verb} {noun}"));
    }
    lines.push(String::new());
    lines.push("Flags:".into());
    lines.push(format!("  -h, --help   help for {noun}"));
    Some(lines.join("\n") + "\n")
}

/// `--help` for a command: a short description, then usage.
pub fn help(command: &Command) -> String {
    let about = match command.path {
        "pod create" => {
            "create a new pod.\n\nyou can create a pod either from a template or by specifying an image directly.\n\nexamples:\n  # create with custom image\n  runpodctl pod create --image runpod/pytorch:1.0.3-cu1281-torch291-ubuntu2404 --gpu-id \"NVIDIA GeForce RTX 4090\"\n"
        }
        "pod get" => "get details for a specific pod by id\n",
        "pod list" => {
            "list all pods in your account.\n\ndefaults to running pods only; use --all to include stopped ones.\n"
        }
        _ => "",
    };
    format!("{about}\n{}", usage(command))
}
