//! `trent serve`: open the data dir, unseal, bootstrap the first
//! credentials, and run the HTTP server and the scheduler until SIGTERM or
//! Ctrl-C.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use trent_crypto::root::RootKey;
use trent_server::node::{AuthMode, Node, NodeConfig};
use trent_store::Store;

use crate::ServeArgs;
use crate::data_dir::{choose_seal, new_credential, open_store};

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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let store = open_store(&args.data_dir)?;
    let seal = choose_seal(&args.data_dir, store.as_ref(), &args.seal)?;
    if !seal.is_secure() {
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
    let node = Arc::new(Node::new(store.clone(), config));
    node.unseal(seal.as_ref())
        .map_err(|e| format!("unsealing the root key ({} seal): {e}", seal.name()))?;
    bootstrap_credentials(
        &args.data_dir,
        store.as_ref(),
        &*node.root().map_err(|e| e.to_string())?,
    )?;

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("listening on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    trent_server::spawn_scheduler(node.clone());
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
    tracing::info!(%addr, region = %args.region, seal = seal.name(), "trent is serving");
    trent_server::http::serve(listener, node, shutdown_signal()).await;
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

/// On first start with no credentials, creates an account and an admin key,
/// prints them once and writes them to `DIR/bootstrap-credentials` (0600).
fn bootstrap_credentials(dir: &Path, store: &dyn Store, root: &RootKey) -> Result<(), String> {
    if !store
        .list_credentials()
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        return Ok(());
    }
    let account_id = random_digits(12)?;
    let access_key_id = format!(
        "AKIA{}",
        random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)?
    );
    let secret = zeroize::Zeroizing::new(random_from(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        40,
    )?);
    let record = new_credential(root, &account_id, None, &access_key_id, secret.as_bytes())?;
    store.put_credential(&record).map_err(|e| e.to_string())?;
    let path = dir.join("bootstrap-credentials");
    let file = zeroize::Zeroizing::new(format!(
        "# Created by trent on first start: the root of account {account_id}.\n[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {}\n",
        secret.as_str()
    ));
    let _ = std::fs::remove_file(&path);
    trent_crypto::seal::write_private_file(&path, file.as_bytes()).map_err(|e| e.to_string())?;
    println!("created account {account_id} with an admin access key (shown once):");
    println!("  aws_access_key_id     = {access_key_id}");
    println!("  aws_secret_access_key = {}", secret.as_str());
    println!(
        "written to {} — use AWS_SHARED_CREDENTIALS_FILE={}",
        path.display(),
        path.display()
    );
    Ok(())
}

fn random_from(alphabet: &[u8], n: usize) -> Result<String, String> {
    let mut bytes = vec![0u8; n];
    trent_crypto::random_bytes(&mut bytes).map_err(|e| e.to_string())?;
    // alphabet lengths are powers of two (32, 64), so the modulo is unbiased
    Ok(bytes
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect())
}

fn random_digits(n: usize) -> Result<String, String> {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let mut byte = [0u8; 1];
        trent_crypto::random_bytes(&mut byte).map_err(|e| e.to_string())?;
        if byte[0] < 250 {
            out.push(char::from(b'0' + byte[0] % 10));
        }
    }
    Ok(out)
}
