//! One real `trent serve` process on its own data directory and port, with
//! its output drained into a log the test can read.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aws_sdk_kms::Client;

use super::raw_http::send_raw;
use super::sdk::{ACCOUNT_ID, ADMIN_AKID, ADMIN_SECRET, REGION, sdk_client};
use super::temp_dir::TempDir;

/// How long a server may take to print `listening on`.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// How the root key is sealed.
#[derive(Debug, Clone)]
pub(crate) enum Seal {
    Dev,
    /// No `--seal` flag: whatever the data dir was initialized with.
    Auto,
    /// Passed in `TRENT_PASSPHRASE`.
    Passphrase(String),
}

/// How a test server is provisioned and started.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Add the harness admin credentials before the first start.
    pub(crate) provision_admin: bool,
    /// Start with `--unsafe-test-clock`.
    pub(crate) test_clock: bool,
    /// Start with `--dev-auth`.
    pub(crate) dev_auth: bool,
    pub(crate) seal: Seal,
    /// More `serve` flags (TLS, audit settings).
    pub(crate) extra_args: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            provision_admin: true,
            test_clock: true,
            dev_auth: false,
            seal: Seal::Dev,
            extra_args: Vec::new(),
        }
    }
}

/// Why a server did not come up.
#[derive(Debug)]
pub(crate) struct StartFailure {
    /// Exit status, if the process exited.
    pub(crate) status: Option<ExitStatus>,
    /// Everything it printed.
    pub(crate) log: String,
}

#[derive(Debug)]
struct Process {
    child: Child,
    endpoint: String,
    readers: Vec<JoinHandle<()>>,
}

/// A test's Trent: data directory, options and (while running) the process.
#[derive(Debug)]
pub(crate) struct Trent {
    process: Option<Process>,
    log: Arc<Mutex<String>>,
    options: Options,
    // Dropped last, after the process is gone.
    dir: TempDir,
}

impl Trent {
    /// Provisioned and started with default options.
    pub(crate) fn start() -> Trent {
        Trent::start_with(Options::default())
    }

    pub(crate) fn start_with(options: Options) -> Trent {
        let mut trent = Trent::stopped(options);
        trent.run();
        trent
    }

    /// Provisioned (per `options`) but not started.
    pub(crate) fn stopped(options: Options) -> Trent {
        let trent = Trent {
            process: None,
            log: Arc::default(),
            options,
            dir: TempDir::new(),
        };
        if trent.options.provision_admin {
            trent.add_credentials(ACCOUNT_ID, ADMIN_AKID, ADMIN_SECRET, None);
        }
        trent
    }

    pub(crate) fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Changes the passphrase used by the next start.
    pub(crate) fn set_seal(&mut self, seal: Seal) {
        self.options.seal = seal;
    }

    /// `http://127.0.0.1:PORT` of the running server.
    pub(crate) fn endpoint(&self) -> &str {
        &self.running().endpoint
    }

    /// `127.0.0.1:PORT` of the running server.
    pub(crate) fn addr(&self) -> &str {
        let endpoint = self.endpoint();
        endpoint
            .strip_prefix("https://")
            .unwrap_or_else(|| endpoint.trim_start_matches("http://"))
    }

    /// The running server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.running().child.id()
    }

    /// A client using the harness admin credentials.
    pub(crate) fn client(&self) -> Client {
        self.client_as(ADMIN_AKID, ADMIN_SECRET)
    }

    pub(crate) fn client_as(&self, akid: &str, secret: &str) -> Client {
        sdk_client(self.endpoint(), akid, secret)
    }

    /// Everything the server processes have printed so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Starts the server; panics if it does not come up.
    #[track_caller]
    pub(crate) fn run(&mut self) {
        if let Err(failure) = self.try_run() {
            panic!("trent serve did not start: {failure:?}");
        }
    }

    /// Starts the server and waits for `listening on`.
    pub(crate) fn try_run(&mut self) -> Result<(), StartFailure> {
        assert!(self.process.is_none(), "server already running");
        let mut command =
            self.trent_command(&["serve", "--listen", "127.0.0.1:0", "--region", REGION]);
        if self.options.test_clock {
            command.arg("--unsafe-test-clock");
        }
        if self.options.dev_auth {
            command.arg("--dev-auth");
        }
        command.args(&self.options.extra_args);
        match &self.options.seal {
            Seal::Dev => command.args(["--seal", "dev"]),
            Seal::Auto => &mut command,
            Seal::Passphrase(_) => command.args(["--seal", "passphrase"]),
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn trent serve");

        let (url_tx, url_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let readers = vec![
            drain(stdout, Arc::clone(&self.log), Some(url_tx)),
            drain(stderr, Arc::clone(&self.log), None),
        ];

        match url_rx.recv_timeout(START_TIMEOUT) {
            Ok(endpoint) => {
                self.process = Some(Process {
                    child,
                    endpoint,
                    readers,
                });
                Ok(())
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let status = child.wait().ok();
                Err(self.failure(status, readers))
            }
            Err(RecvTimeoutError::Disconnected) => {
                // stdout closed without the line: the process is exiting.
                let status = wait_timeout(&mut child, STOP_TIMEOUT);
                if status.is_none() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                Err(self.failure(status, readers))
            }
        }
    }

    fn failure(&self, status: Option<ExitStatus>, readers: Vec<JoinHandle<()>>) -> StartFailure {
        for reader in readers {
            let _ = reader.join();
        }
        StartFailure {
            status,
            log: self.log(),
        }
    }

    /// SIGTERM, then waits for the exit; panics if it does not exit in time.
    pub(crate) fn stop(&mut self) -> ExitStatus {
        let mut process = self.process.take().expect("server running");
        let pid = process.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let status = wait_timeout(&mut process.child, STOP_TIMEOUT);
        let Some(status) = status else {
            let _ = process.child.kill();
            let _ = process.child.wait();
            panic!("trent did not exit within {STOP_TIMEOUT:?} of SIGTERM");
        };
        for reader in process.readers {
            let _ = reader.join();
        }
        status
    }

    /// SIGKILL: no chance to flush or shut down.
    pub(crate) fn kill(&mut self) {
        let mut process = self.process.take().expect("server running");
        process.child.kill().expect("SIGKILL trent");
        let _ = process.child.wait();
        for reader in process.readers {
            let _ = reader.join();
        }
    }

    /// Graceful stop, then start on the same data directory (new port).
    pub(crate) fn restart(&mut self) {
        let status = self.stop();
        assert!(
            status.success(),
            "trent exited with {status} after SIGTERM; log:\n{}",
            self.log()
        );
        self.run();
    }

    /// `trent ARGS --data-dir DIR` with this test's environment.
    pub(crate) fn cli(&self, args: &[&str]) -> Output {
        self.trent_command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run trent CLI")
    }

    /// `trent credentials add`; panics if it fails.
    #[track_caller]
    pub(crate) fn add_credentials(
        &self,
        account_id: &str,
        akid: &str,
        secret: &str,
        user: Option<&str>,
    ) {
        let mut args = vec![
            "credentials",
            "add",
            "--account-id",
            account_id,
            "--access-key-id",
            akid,
            "--secret-access-key",
            secret,
        ];
        if let Some(user) = user {
            args.extend(["--user", user]);
        }
        // Adding a key may open the store, which needs the store's seal.
        if let Seal::Passphrase(_) = self.options.seal {
            args.extend(["--seal", "passphrase"]);
        }
        let out = self.cli(&args);
        assert!(
            out.status.success(),
            "credentials add failed: {}",
            describe_output(&out)
        );
    }

    /// `POST /_trent/test/advance-clock`; returns the server's new `now`.
    #[track_caller]
    pub(crate) fn advance_clock(&self, seconds: i64) -> i64 {
        let body = format!("{{\"seconds\": {seconds}}}");
        let headers = vec![
            ("host".to_owned(), self.addr().to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        let response = send_raw(
            self.addr(),
            "POST",
            "/_trent/test/advance-clock",
            &headers,
            body.as_bytes(),
        )
        .expect("advance-clock request");
        assert_eq!(
            response.status,
            200,
            "advance-clock failed: {}",
            response.body_text()
        );
        response.json()["now"]
            .as_i64()
            .unwrap_or_else(|| panic!("advance-clock answer lacks now: {}", response.body_text()))
    }

    /// `trent ARGS --data-dir DIR` (the data dir last, so it lands after
    /// the subcommand words), with the passphrase environment of this seal.
    fn trent_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_trent"));
        command.args(args).arg("--data-dir").arg(self.dir.path());
        // Only what the test chooses: no TRENT_* settings from the caller.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("TRENT_") {
                command.env_remove(key);
            }
        }
        if let Seal::Passphrase(passphrase) = &self.options.seal {
            command.env("TRENT_PASSPHRASE", passphrase);
        }
        command.env("NO_COLOR", "1");
        command
    }

    fn running(&self) -> &Process {
        self.process.as_ref().expect("server running")
    }
}

impl Drop for Trent {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.child.kill();
            let _ = process.child.wait();
            for reader in process.readers {
                let _ = reader.join();
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "---- trent output ----\n{}----------------------",
                self.log()
            );
        }
    }
}

/// Copies everything `source` prints into `log`; the stdout drain also sends
/// the URL from the first `listening on http://...` line.
fn drain(
    source: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    mut url_tx: Option<mpsc::Sender<String>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if let Ok(mut log) = log.lock() {
                log.push_str(&line);
            }
            if let (Some(url), Some(tx)) = (listening_url(&line), url_tx.as_ref()) {
                let _ = tx.send(url);
                url_tx = None;
            }
        }
    })
}

/// `http://HOST:PORT` from a `listening on http://HOST:PORT` line.
fn listening_url(line: &str) -> Option<String> {
    let start = line
        .find("listening on http://")
        .or_else(|| line.find("listening on https://"))?
        + "listening on ".len();
    let url: String = line[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ".:/[]".contains(*c))
        .collect();
    Some(url.trim_end_matches('/').to_owned())
}

/// Waits up to `timeout` for `child` to exit.
fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => return None,
        }
    }
}

/// Exit status and output of a CLI run, for assertion messages.
pub(crate) fn describe_output(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
