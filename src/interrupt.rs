//! Ctrl-C as a value: waits select on it, so that an interrupted apply stops
//! waiting, still pulls the log, carries out on_failure and writes its state.
//! A second Ctrl-C exits at once (state is written after every step anyway).

use tokio::sync::watch;

#[derive(Clone)]
pub struct Interrupt {
    rx: watch::Receiver<bool>,
}

impl Interrupt {
    /// Listens for Ctrl-C (SIGINT), SIGTERM and SIGHUP (a dropped SSH
    /// session or closed terminal): the first asks for a safe stop, a second
    /// exits at once.
    pub fn install() -> Interrupt {
        use tokio::signal::unix::{SignalKind, signal};
        let (tx, rx) = watch::channel(false);
        // Registered here, before this returns: registered in the task, a
        // signal that came before the task first ran (a loaded machine)
        // would still kill rpd the default way.
        let mut streams: Vec<_> = [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
        ]
        .into_iter()
        .filter_map(|kind| signal(kind).ok())
        .collect();
        tokio::spawn(async move {
            if streams.is_empty() {
                return;
            }
            next_signal(&mut streams).await;
            crate::fault::signal_arrived();
            crate::note!(
                "\nrpd: interrupted: finishing safely (what the run made is stopped, deleted or recorded; the log is pulled; the state is written); interrupt again to exit at once"
            );
            let _ = tx.send(true);
            next_signal(&mut streams).await;
            crate::note!(
                "rpd: exiting at once; the state file is consistent, but check `rpd plan` for pods left running"
            );
            std::process::exit(130);
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

/// Resolves on the next signal of any of `streams`.
async fn next_signal(streams: &mut [tokio::signal::unix::Signal]) {
    let waits: Vec<_> = streams.iter_mut().map(|s| Box::pin(s.recv())).collect();
    futures::future::select_all(waits).await;
}
