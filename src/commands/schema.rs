//! `rpd schema config|plan`: the JSON Schemas rpd ships (the config format,
//! for editors; the JSON plan, for tools).

use crate::commands::settings::SchemaKind;
use crate::exit::ExitStatus;

pub fn run(kind: SchemaKind) -> anyhow::Result<ExitStatus> {
    let schema = match kind {
        SchemaKind::Config => crate::config::schema::config_schema(),
        SchemaKind::Plan => crate::render::json::schema(),
    };
    crate::say!("{}", serde_json::to_string_pretty(&schema).expect("json"));
    Ok(ExitStatus::Success)
}
