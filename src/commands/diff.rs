pub async fn run(_ctx: &super::Ctx, _s: &super::settings::DiffSettings) -> anyhow::Result<crate::exit::ExitStatus> { todo!() }
