//! Servers the suite runs as child processes: `trent serve` (over HTTP or
//! HTTPS: either `listening on` line is understood), the
//! bare-hyper baseline (this binary's `baseline-server`) and moto_server.
//! Each is killed when dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running server.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process id.
    pub pid: u32,
    /// From spawn until it said (or was seen) listening.
    pub start_time: Duration,
}

impl Server {
    /// Starts `command`, which prints `listening on http://ADDR` on stdout
    /// when ready; stderr goes to `log`.
    pub async fn start_announcing(mut command: Command, log: &Path) -> Result<Self, String> {
        let log_file =
            std::fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        command
            .stdout(Stdio::piped())
            .stderr(log_file)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| format!("starting {command:?}: {e}"))?;
        let pid = child.id().ok_or("the server exited at once")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                let line = line.trim();
                let rest = line
                    .strip_prefix("listening on http://")
                    .or_else(|| line.strip_prefix("listening on https://"));
                if let Some(rest) = rest {
                    return rest
                        .parse::<SocketAddr>()
                        .map_err(|e| format!("bad address {rest:?}: {e}"));
                }
            }
            Err(format!(
                "the server exited before listening; see {}",
                log.display()
            ))
        })
        .await
        .map_err(|_| format!("the server did not start listening within {START_TIMEOUT:?}"))??;
        let start_time = started.elapsed();
        // Keep reading stdout so a late print never meets a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            addr,
            pid,
            start_time,
        })
    }

    /// Starts `command`, which listens on `addr` without announcing it;
    /// ready once a TCP connection succeeds.
    pub async fn start_at(
        mut command: Command,
        addr: SocketAddr,
        log: &Path,
    ) -> Result<Self, String> {
        let log_file =
            std::fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
        command
            .stdout(log_file)
            .stderr(log_err)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| format!("starting {command:?}: {e}"))?;
        let pid = child.id().ok_or("the server exited at once")?;
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "nothing listens on {addr} after {START_TIMEOUT:?}; see {}",
                    log.display()
                ));
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "the server exited ({status}); see {}",
                    log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self {
            child,
            addr,
            pid,
            start_time: started.elapsed(),
        })
    }

    /// Kills the server and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> Result<SocketAddr, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map_err(|e| e.to_string())
}
