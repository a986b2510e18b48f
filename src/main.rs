use std::process::ExitCode;

use clap::Parser;
use rpd::cli::{Cli, Command, StateCommand};
use rpd::commands::{self, Ctx, PlanFlags, apply::Request};
use rpd::exit::ExitStatus;
use rpd::plan::Mode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // Help and version are successes; usage errors are errors (1):
            // 2 means "changes" to `plan --detailed-exitcode`.
            return if err.use_stderr() {
                ExitStatus::Error.into()
            } else {
                ExitStatus::Success.into()
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(err) => {
            rpd::note!("error: cannot start the async runtime: {err}");
            return ExitStatus::Error.into();
        }
    };
    let ctx = Ctx::new(cli.global);
    let status = runtime.block_on(async {
        match &cli.command {
            Command::Plan {
                configs,
                vars,
                replace,
                fallback_cloud_type,
                detailed_exitcode,
                format,
            } => {
                let flags = PlanFlags {
                    replace: *replace,
                    fallback_cloud: fallback_cloud_type.map(Into::into),
                };
                commands::plan::run(&ctx, configs, vars, flags, *detailed_exitcode, *format).await
            }
            Command::Apply {
                configs,
                vars,
                replace,
                fallback_cloud_type,
                auto_approve,
                lock,
            } => {
                commands::apply::run(
                    &ctx,
                    Request {
                        configs,
                        vars,
                        flags: PlanFlags {
                            replace: *replace,
                            fallback_cloud: fallback_cloud_type.map(Into::into),
                        },
                        auto_approve: *auto_approve,
                        lock,
                        mode: Mode::Apply,
                    },
                )
                .await
            }
            Command::Destroy {
                configs,
                vars,
                auto_approve,
                lock,
            } => {
                commands::apply::run(
                    &ctx,
                    Request {
                        configs,
                        vars,
                        flags: PlanFlags::default(),
                        auto_approve: *auto_approve,
                        lock,
                        mode: Mode::Destroy,
                    },
                )
                .await
            }
            Command::Validate { configs, vars } => commands::validate::run(&ctx, configs, vars),
            Command::Logs {
                config,
                vars,
                follow,
                lines,
            } => commands::logs::run(&ctx, config, vars, *follow, *lines).await,
            Command::ForceUnlock {
                lock_id,
                config,
                vars,
            } => commands::state::force_unlock(&ctx, lock_id, config, vars),
            Command::State(StateCommand::Show { config, vars }) => {
                commands::state::show(&ctx, config, vars)
            }
            Command::State(StateCommand::Reassign { config, vars, lock }) => {
                commands::state::reassign(&ctx, config, vars, lock)
            }
            Command::Sim(command) => commands::sim::run(&ctx, command),
        }
    });
    // Do not wait for blocking tasks (a watcher process, a lock wait) to end.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    status.into()
}
