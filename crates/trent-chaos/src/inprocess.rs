//! A real node served in process: the real SQLite store behind a
//! [`FaultyStore`], a real `Node`, HTTP on 127.0.0.1:0 — for the fault
//! tests and the property tests, which need to reach inside (the fault
//! switch, the store) where a `trent serve` process would not let them.

#![allow(clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use trent_core::credential::CredentialRecord;
use trent_crypto::seal::DevFileSeal;
use trent_server::limits::Limits;
use trent_server::node::{AuthMode, Node, NodeConfig};
use trent_store::Store;
use trent_store::sqlite::SqliteStore;

use crate::client::{Client, Credentials};
use crate::faults::{FaultSwitch, FaultyStore};
use crate::process::DataDir;

/// The account of the in-process server's credentials.
pub const ACCOUNT: &str = crate::process::ACCOUNT_ID;

/// A node serving HTTP in this process. Panics if it cannot start (it is
/// test support).
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Turns store faults on and off.
    pub switch: FaultSwitch,
    /// The real store under the faults: the ground truth.
    pub real: Arc<dyn Store>,
    /// The admin credentials.
    pub credentials: Credentials,
    _runtime: tokio::runtime::Runtime,
    _dir: DataDir,
}

impl Server {
    /// Starts on a fresh data dir.
    pub fn start(limits: Limits) -> Server {
        Server::start_in(
            DataDir::new("faults").expect("in-process server setup"),
            limits,
        )
    }

    /// Starts on `dir`.
    pub fn start_in(dir: DataDir, limits: Limits) -> Server {
        let real: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("trent.db")).expect("in-process server setup"),
        );
        let switch = FaultSwitch::default();
        let store: Arc<dyn Store> = Arc::new(FaultyStore::new(real.clone(), switch.clone()));
        let config = NodeConfig {
            region: "us-east-1".into(),
            auth: AuthMode::Verify,
            dev_default_account: ACCOUNT.into(),
            test_clock: false,
        };
        let node = Arc::new(Node::new(store.clone(), config));
        // Requests are refused unless they can be audited: the real log, here too.
        node.audit.configure(trent_audit::AuditConfig::new(
            dir.path().join("audit"),
            "faults",
        ));
        let seal = DevFileSeal::new(dir.path().join("dev-seal.key"));
        seal.ensure_key_file().expect("in-process server setup");
        node.unseal(&seal).expect("in-process server setup");
        let credentials = Credentials {
            access_key_id: "FAULTADMIN".into(),
            secret: "fault-secret".into(),
        };
        let root = node.root().expect("in-process server setup");
        let wrapped_secret = trent_server::credentials::wrap_secret(
            &root,
            &credentials.access_key_id,
            credentials.secret.as_bytes(),
        )
        .expect("in-process server setup");
        store
            .put_credential(&CredentialRecord {
                access_key_id: credentials.access_key_id.clone(),
                account_id: ACCOUNT.into(),
                user: None,
                wrapped_secret,
                created: 0,
            })
            .expect("in-process server setup");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("in-process server setup");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("in-process server setup");
        let addr = listener.local_addr().expect("in-process server setup");
        runtime.spawn(trent_server::http::serve_with(
            listener,
            node,
            None,
            limits,
            std::future::pending(),
        ));
        Server {
            addr,
            switch,
            real,
            credentials,
            _runtime: runtime,
            _dir: dir,
        }
    }

    /// A client with the admin credentials.
    pub fn client(&self) -> Client {
        let mut c = Client::new(self.addr, self.credentials.clone(), "us-east-1")
            .expect("in-process server setup");
        c.set_timeout(Duration::from_secs(30));
        c
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.switch.clear();
    }
}
