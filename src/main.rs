use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rpd::cli::Cli;
use rpd::commands::{self, Ctx};
use rpd::exit::ExitStatus;

fn main() -> ExitCode {
    let invocation = match Cli::try_parse() {
        Ok(Cli {
            command: rpd::cli::Command::Completions(args),
            ..
        }) => {
            Cli::print_completions(args.shell);
            return ExitStatus::Success.into();
        }
        Ok(cli) => cli.resolve(),
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
    let ctx = Ctx::new(&invocation.global);
    if let Err(err) = rpd::env::check() {
        ctx.error(&err.into());
        return ExitStatus::Error.into();
    }
    // Two workers at least: a signal is handled while another thread waits
    // (a blocking state write, a paused fault point).
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            ctx.error(&anyhow::anyhow!("cannot start the async runtime: {err}"));
            return ExitStatus::Error.into();
        }
    };
    let status = match runtime.block_on(commands::run(&ctx, invocation.action)) {
        Ok(status) => status,
        Err(err) => {
            ctx.error(&err);
            ExitStatus::Error
        }
    };
    // Do not wait for blocking tasks (a watcher process, a lock wait) to end.
    runtime.shutdown_timeout(Duration::from_millis(100));
    status.into()
}
