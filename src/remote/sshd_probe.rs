//! Waiting for a pod's sshd before the first handshake. RunPod maps a
//! pod's public port before its sshd runs, and the port then accepts a
//! connection and closes it; an `ssh` tried too early fails and the next
//! try comes later and later. Reading sshd's banner (`SSH-2.0-...`) is
//! cheap, so it is read on a fast schedule and the handshake follows the
//! moment the banner does (runpodctl's `--wait` checks the banner too).

use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::retry::{self, Look, PollSchedule};

/// Looks every 250 ms: a look costs one TCP connection to the pod, not an
/// API call, so sshd is met at most a quarter of a second late.
pub const SSHD_PROBE: PollSchedule = PollSchedule {
    first: Duration::from_millis(250),
    factor: 1.0,
    max: Duration::from_millis(250),
    later: None,
};

/// No single look waits longer than this for a connection or a banner.
const LOOK_TIMEOUT: Duration = Duration::from_secs(2);

/// What a look found instead of a banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoBanner {
    /// Nothing accepts connections on the port (yet).
    Unreachable(String),
    /// Something accepted, and closed or said something else.
    NotSshd(String),
}

/// Waits until sshd's banner can be read from `host:port`, looking on
/// `schedule` until `deadline`; what the last look found otherwise.
pub async fn wait_for_banner(
    host: &str,
    port: u16,
    deadline: Instant,
    schedule: &PollSchedule,
) -> Result<(), NoBanner> {
    retry::poll(schedule, async || {
        let left = deadline.saturating_duration_since(Instant::now());
        let found = read_banner(host, port, left.min(LOOK_TIMEOUT)).await;
        match found {
            Ok(()) => Look::Done(Ok(())),
            Err(_) if Instant::now() >= deadline => Look::Done(found),
            // Only what changes counts (refused, then accepted): the
            // schedule starts again when the port starts answering.
            Err(NoBanner::Unreachable(_)) => Look::Again(false),
            Err(NoBanner::NotSshd(_)) => Look::Again(true),
        }
    })
    .await
}

async fn read_banner(host: &str, port: u16, within: Duration) -> Result<(), NoBanner> {
    let within = within.max(Duration::from_millis(1));
    let mut stream = match tokio::time::timeout(within, TcpStream::connect((host, port))).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => return Err(NoBanner::Unreachable(err.to_string())),
        Err(_) => return Err(NoBanner::Unreachable("connection timed out".into())),
    };
    // RFC 4253 lets a server send other lines before its version line.
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    let reading = async {
        loop {
            let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("closed without a banner".to_string());
            }
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen);
            if text.lines().any(|line| line.starts_with("SSH-")) {
                return Ok(());
            }
            if seen.len() > 4096 {
                return Err("answered, but not as sshd".to_string());
            }
        }
    };
    match tokio::time::timeout(within, reading).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(NoBanner::NotSshd(why)),
        Err(_) => Err(NoBanner::NotSshd("no banner in time".into())),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::TcpListener;

    use super::*;

    const QUICK: PollSchedule = PollSchedule {
        first: Duration::from_millis(1),
        factor: 1.0,
        max: Duration::from_millis(1),
        later: None,
    };

    /// A server that closes its first `drops` connections at once (a mapped
    /// port with no sshd behind it yet), then greets as sshd.
    fn sshd_after(drops: usize) -> (u16, std::thread::JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                let mut conn = conn.unwrap();
                if n >= drops {
                    conn.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").unwrap();
                    return n + 1;
                }
            }
            unreachable!()
        });
        (port, server)
    }

    #[tokio::test]
    async fn the_banner_ends_the_wait_after_connections_closed_without_one() {
        let (port, server) = sshd_after(3);
        let deadline = Instant::now() + Duration::from_secs(30);
        let found = wait_for_banner("127.0.0.1", port, deadline, &QUICK).await;
        assert_eq!(found, Ok(()));
        assert_eq!(
            server.join().unwrap(),
            4,
            "three closed, the fourth greeted"
        );
    }

    #[tokio::test]
    async fn a_port_that_never_greets_is_given_up_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                drop(conn);
            }
        });
        let deadline = Instant::now() + Duration::from_millis(200);
        let found = wait_for_banner("127.0.0.1", port, deadline, &QUICK).await;
        assert!(matches!(found, Err(NoBanner::NotSshd(_))), "{found:?}");
        assert!(Instant::now() >= deadline);
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let deadline = Instant::now() + Duration::from_millis(50);
        let found = wait_for_banner("127.0.0.1", port, deadline, &QUICK).await;
        assert!(matches!(found, Err(NoBanner::Unreachable(_))), "{found:?}");
    }
}
