//! A real `trent serve` process on a data directory: provisioning, start,
//! `kill -9`, graceful stop, and its output captured for the hygiene scan.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::client::{Client, Credentials};

/// How long a server may take to print `listening on`.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// The region every harness server serves.
pub const REGION: &str = "us-east-1";
/// The account the harness credentials belong to.
pub const ACCOUNT_ID: &str = "111122223333";

/// Where the `trent` binary is: `$TRENT_BIN`, else next to the running
/// executable (`target/<profile>/trent`, also from `target/<profile>/deps/`).
pub fn default_trent_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("TRENT_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("trent")
}

/// A data directory that is removed on drop (unless kept for a post-mortem).
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    keep: bool,
}

impl DataDir {
    /// A fresh directory under the system temp dir.
    pub fn new(label: &str) -> std::io::Result<DataDir> {
        let mut random = [0u8; 8];
        trent_crypto::random_bytes(&mut random)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let name = format!(
            "trent-{label}-{}-{}",
            std::process::id(),
            u64::from_le_bytes(random)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path)?;
        Ok(DataDir { path, keep: false })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the directory after drop (a failed run's evidence).
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// One `trent serve` on a data directory; restartable.
#[derive(Debug)]
pub struct Trent {
    bin: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
    addr: Option<SocketAddr>,
    readers: Vec<JoinHandle<()>>,
    log: Arc<Mutex<String>>,
    extra_args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Trent {
    /// A stopped server for `dir`, using the binary at `bin`.
    pub fn new(bin: &Path, dir: &Path) -> Trent {
        Trent {
            bin: bin.to_path_buf(),
            dir: dir.to_path_buf(),
            child: None,
            addr: None,
            readers: Vec::new(),
            log: Arc::default(),
            extra_args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Extra arguments for `trent serve`.
    pub fn with_args(mut self, args: &[&str]) -> Trent {
        self.extra_args = args.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    /// An environment variable for `trent serve`.
    pub fn with_env(mut self, name: &str, value: &str) -> Trent {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `trent credentials add` for the harness account; fails if it fails.
    pub fn add_credentials(&self, credentials: &Credentials) -> Result<(), String> {
        let out = Command::new(&self.bin)
            .args(["credentials", "add", "--account-id", ACCOUNT_ID])
            .args(["--access-key-id", &credentials.access_key_id])
            .env("TRENT_SECRET_ACCESS_KEY", &credentials.secret)
            .arg("--data-dir")
            .arg(&self.dir)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {}: {e}", self.bin.display()))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.append_log(&text);
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("trent credentials add failed: {text}"))
        }
    }

    /// Starts the server on a fresh loopback port and waits for
    /// `listening on`. Failure to start is reported, never hidden.
    pub fn start(&mut self) -> Result<SocketAddr, String> {
        if self.child.is_some() {
            return Err("already running".into());
        }
        let mut command = Command::new(&self.bin);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--region", REGION])
            .args(["--seal", "dev"])
            .args(&self.extra_args)
            .arg("--data-dir")
            .arg(&self.dir)
            .env("NO_COLOR", "1")
            .env_remove("TRENT_PASSPHRASE")
            .envs(self.env.iter().map(|(n, v)| (n, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", self.bin.display()))?;
        let (tx, rx) = mpsc::channel();
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("no piped output".into());
        };
        self.readers = vec![
            drain(stdout, self.log.clone(), Some(tx)),
            drain(stderr, self.log.clone(), None),
        ];
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => {
                self.child = Some(child);
                self.addr = Some(addr);
                Ok(addr)
            }
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                self.join_readers();
                Err(format!(
                    "trent serve did not start ({status:?}); output:\n{}",
                    tail(&self.log(), 4000)
                ))
            }
        }
    }

    /// SIGKILL: no chance to flush, finish or shut down.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.addr = None;
        self.join_readers();
    }

    /// SIGTERM and wait; `Err` if it does not exit cleanly in time.
    pub fn stop(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        self.addr = None;
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => break None,
            }
        };
        self.join_readers();
        match status {
            Some(s) if s.success() => Ok(()),
            Some(s) => Err(format!("trent exited with {s} after SIGTERM")),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "trent did not exit within {STOP_TIMEOUT:?} of SIGTERM"
                ))
            }
        }
    }

    /// The running server's address.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// The running server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A client for the running server.
    pub fn client(&self, credentials: &Credentials) -> Result<Client, String> {
        let addr = self.addr.ok_or("not running")?;
        Client::new(addr, credentials.clone(), REGION).map_err(|e| e.to_string())
    }

    /// Everything the server printed so far (stdout and stderr).
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    fn append_log(&self, text: &str) {
        if let Ok(mut log) = self.log.lock() {
            log.push_str(text);
        }
    }

    fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

impl Drop for Trent {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Copies a pipe into `log`; the stdout copy also reports the address from
/// the first `listening on http://` line. The log is capped so a chatty
/// server cannot exhaust the harness's memory.
fn drain(
    source: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    mut addr_tx: Option<mpsc::Sender<SocketAddr>>,
) -> JoinHandle<()> {
    const MAX_LOG: usize = 64 * 1024 * 1024;
    std::thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if let Ok(mut log) = log.lock()
                && log.len() < MAX_LOG
            {
                log.push_str(&line);
            }
            if let Some(tx) = addr_tx.as_ref()
                && let Some(addr) = listening_addr(&line)
            {
                let _ = tx.send(addr);
                addr_tx = None;
            }
        }
    })
}

fn listening_addr(line: &str) -> Option<SocketAddr> {
    let start = line.find("listening on http://")? + "listening on http://".len();
    let text: String = line[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ".:[]".contains(*c))
        .collect();
    text.parse().ok()
}

/// The last `n` bytes of `text` (on a char boundary).
pub fn tail(text: &str, n: usize) -> &str {
    let mut start = text.len().saturating_sub(n);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
