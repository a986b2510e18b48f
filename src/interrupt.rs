//! Ctrl-C as a value: waits select on it, so that an interrupted apply stops
//! waiting, still pulls the log, carries out on_failure and writes its state.
//! A second Ctrl-C exits at once (state is written after every step anyway).

use tokio::sync::watch;

#[derive(Clone)]
pub struct Interrupt {
    rx: watch::Receiver<bool>,
}

impl Interrupt {
    /// Listens for Ctrl-C (SIGINT) and SIGTERM.
    pub fn install() -> Interrupt {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let terminated = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminated => {}
            }
            eprintln!(
                "\nrpd: interrupted: finishing safely (pulling the log, running on_failure, writing state); press Ctrl-C again to exit at once"
            );
            let _ = tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "rpd: exiting at once; the state file is consistent, but check `rpd plan` for pods left running"
                );
                std::process::exit(130);
            }
        });
        Interrupt { rx }
    }

    /// Never fires (tests, and commands that do not wait).
    pub fn never() -> Interrupt {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Interrupt { rx }
    }

    pub fn is_set(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once interrupted.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
