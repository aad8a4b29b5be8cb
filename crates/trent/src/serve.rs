//! `trent serve`: open the data dir, unseal, bootstrap the first
//! credentials, and run the HTTP server and the scheduler until SIGTERM or
//! Ctrl-C.

use std::io::Write;
use std::sync::Arc;

use trent_server::node::{AuthMode, Node, NodeConfig};

use crate::ServeArgs;
use crate::data_dir::{
    SealPlan, bootstrap_credentials, choose_seal, ensure_operator_token, open_store,
};

pub(crate) fn run(args: ServeArgs) -> Result<(), String> {
    init_logging(args.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    runtime.block_on(serve(args))
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRENT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    // One TLS provider for the process (aws-lc-rs), before anything uses rustls.
    trent_server::tls::install_crypto_provider();
    let store = open_store(&args.data_dir)?;
    let plan = choose_seal(&args.data_dir, store.as_ref(), &args.seal)?;
    let seal_name = match &plan {
        SealPlan::Open(seal) => seal.name(),
        SealPlan::AwaitShares => "shamir",
    };
    if matches!(&plan, SealPlan::Open(seal) if !seal.is_secure()) {
        tracing::warn!(
            "INSECURE: the root key is sealed by a key file in {} — anyone who can read the data dir can read every key. \
             Use --seal passphrase (or an HSM/Shamir seal) for anything but development.",
            args.data_dir.display()
        );
    }
    if args.dev_auth {
        tracing::warn!(
            "INSECURE: --dev-auth accepts any well-formed signature without checking secrets. Never use it in production."
        );
    }
    let config = NodeConfig {
        region: args.region.clone(),
        auth: if args.dev_auth {
            AuthMode::DevAcceptAny
        } else {
            AuthMode::Verify
        },
        dev_default_account: "000000000000".into(),
        test_clock: args.unsafe_test_clock,
    };
    ensure_operator_token(&args.data_dir, store.as_ref())?;
    let node = Arc::new(Node::new(store.clone(), config).with_hsms(args.seal.hsms.clone()));
    // The audit log opens when the node unseals (its keys are under the root key).
    node.audit.configure(args.audit.config(&args.data_dir)?);
    match plan {
        // An HSM that is not answering leaves the node sealed (readiness
        // false) and retrying, never serving without its root key.
        SealPlan::Open(seal) if seal.name() == "pkcs11" => {
            if let Err(e) = node.unseal(seal.as_ref()) {
                tracing::error!(error = %e, "sealed: the HSM seal could not open the root key; retrying every 10 s");
                retry_hsm_unseal(node.clone(), seal, args.data_dir.clone());
            } else {
                bootstrap_credentials(
                    &args.data_dir,
                    store.as_ref(),
                    &*node.root().map_err(|e| e.to_string())?,
                )?;
            }
        }
        SealPlan::Open(seal) => {
            node.unseal(seal.as_ref())
                .map_err(|e| format!("unsealing the root key ({} seal): {e}", seal.name()))?;
            bootstrap_credentials(
                &args.data_dir,
                store.as_ref(),
                &*node.root().map_err(|e| e.to_string())?,
            )?;
        }
        SealPlan::AwaitShares => tracing::warn!(
            "sealed: the root key needs Shamir shares; submit them with `trent operator unseal --addr http://{}`",
            args.listen
        ),
    }

    let tls = load_tls(&args)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("listening on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    if tls.is_none() && !addr.ip().is_loopback() && !args.tls.insecure_plain_http {
        return Err(format!(
            "refusing plain HTTP on {addr}, which is not a loopback address: serve TLS (--tls-cert/--tls-key or --tls-self-signed), \
             or accept the risk with --insecure-plain-http"
        ));
    }
    trent_server::spawn_scheduler(node.clone());
    // On a shared store, other nodes' writes invalidate this node's caches.
    trent_server::cluster::spawn_change_listener(&node);
    let scheme = if tls.is_some() { "https" } else { "http" };
    if let Some(tls) = &tls {
        tls.watch(std::time::Duration::from_secs(2));
    }
    println!("listening on {scheme}://{addr}");
    let _ = std::io::stdout().flush();
    tracing::info!(%addr, region = %args.region, seal = seal_name, "trent is serving");
    let limits = trent_server::limits::Limits {
        max_in_flight: args.max_in_flight.max(1),
        ..Default::default()
    };
    trent_server::http::serve_with(listener, node.clone(), tls, limits, shutdown_signal()).await;
    // A final checkpoint, then fsync: a clean stop leaves a sealed log.
    let closing = node.clone();
    let _ = tokio::task::spawn_blocking(move || closing.audit.close()).await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// The TLS configuration asked for by the flags, loaded (`None`: plain HTTP).
fn load_tls(args: &ServeArgs) -> Result<Option<Arc<trent_server::tls::TlsConfig>>, String> {
    let Some(files) = args.tls.files(&args.data_dir, &args.listen)? else {
        return Ok(None);
    };
    let tls = trent_server::tls::TlsConfig::load(files).map_err(|e| format!("TLS: {e}"))?;
    if tls.requires_client_certificates() {
        tracing::info!("mTLS: clients must present a certificate from --tls-client-ca");
    }
    Ok(Some(tls))
}

/// Retries the HSM seal until the token answers, then unseals the node.
fn retry_hsm_unseal(
    node: Arc<Node>,
    seal: Box<dyn trent_crypto::seal::Seal>,
    data_dir: std::path::PathBuf,
) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
            if node.is_unsealed() {
                return;
            }
            let attempt = node.clone();
            let seal_ref: &dyn trent_crypto::seal::Seal = seal.as_ref();
            let result = tokio::task::block_in_place(|| attempt.unseal(seal_ref));
            match result {
                Ok(()) => {
                    tracing::info!("unsealed: the HSM seal opened the root key");
                    if let Ok(root) = node.root()
                        && let Err(e) = bootstrap_credentials(&data_dir, node.store.as_ref(), &root)
                    {
                        tracing::warn!(error = %e, "bootstrap credentials");
                    }
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "still sealed: the HSM seal could not open the root key")
                }
            }
        }
    });
}
