//! Day-2 operations (issue 8): Shamir seal and unseal through the operator
//! API and CLI, backup under load and restore, `/metrics`, and the
//! configuration file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::harness::{Blob, Options, Seal, Trent, describe_output, expect_err, send_raw};

fn trent_bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trent"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TRENT_") {
            command.env_remove(key);
        }
    }
    command
}

/// `trent operator SUB --addr …` with `input` on stdin.
fn operator(trent: &Trent, sub: &str, input: &str) -> Output {
    use std::io::Write;
    let mut child = trent_bin()
        .args(["operator", sub, "--addr", trent.endpoint()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn trent operator");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn get(trent: &Trent, path: &str) -> crate::harness::HttpResponse {
    let headers = vec![("host".to_owned(), trent.addr().to_owned())];
    send_raw(trent.addr(), "GET", path, &headers, b"").expect("GET")
}

fn post_json(trent: &Trent, path: &str, body: &str) -> crate::harness::HttpResponse {
    let headers = vec![
        ("host".to_owned(), trent.addr().to_owned()),
        ("content-type".to_owned(), "application/json".to_owned()),
    ];
    send_raw(trent.addr(), "POST", path, &headers, body.as_bytes()).expect("POST")
}

fn status(trent: &Trent) -> serde_json::Value {
    get(trent, "/_trent/operator/status").json()
}

fn read_shares(dir: &Path, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| {
            std::fs::read_to_string(dir.join(format!("share-{i}.txt")))
                .unwrap()
                .trim()
                .to_owned()
        })
        .collect()
}

/// A data dir sealed with 3 shares, 2 needed; the server stopped.
fn shamir_store() -> (Trent, Vec<String>) {
    let trent = Trent::stopped(Options {
        seal: Seal::Auto,
        ..Options::default()
    });
    let shares_dir = trent.data_dir().join("shares");
    let out = trent.cli(&[
        "operator",
        "init",
        "--shares",
        "3",
        "--threshold",
        "2",
        "--out-dir",
        shares_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "operator init: {}",
        describe_output(&out)
    );
    assert!(
        !trent.data_dir().join("dev-seal.key").exists(),
        "the dev key file must go"
    );
    (trent, read_shares(&shares_dir, 3))
}

#[tokio::test(flavor = "multi_thread")]
async fn shamir_any_two_of_three_unseal_and_one_does_not() {
    let (mut trent, shares) = shamir_store();
    trent.run();
    // Sealed: not ready, KMS calls refused with a clear error.
    assert_eq!(get(&trent, "/readyz").status, 503);
    assert_eq!(status(&trent)["sealed"], true);
    assert_eq!(status(&trent)["threshold"], 2);
    let client = trent.client();
    expect_err(
        client.list_keys().send().await,
        "ServiceUnavailableException",
    );

    // One share: still sealed, progress 1.
    let out = operator(&trent, "unseal", &format!("{}\n", shares[0]));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(status(&trent)["sealed"], true);
    assert_eq!(status(&trent)["progress"], 1);
    // The same share again does not count twice.
    operator(&trent, "unseal", &format!("{}\n", shares[0]));
    assert_eq!(status(&trent)["progress"], 1);
    assert_eq!(get(&trent, "/readyz").status, 503);

    // A corrupted share is reported as such and changes nothing.
    let mut damaged = shares[1].clone();
    let i = damaged.len() - 12;
    let replacement = if &damaged[i..=i] == "0" { "1" } else { "0" };
    damaged.replace_range(i..=i, replacement);
    let answer = post_json(
        &trent,
        "/_trent/operator/unseal",
        &serde_json::json!({ "share": damaged }).to_string(),
    );
    assert_eq!(answer.status, 400);
    assert!(
        answer.body_text().contains("checksum"),
        "{}",
        answer.body_text()
    );
    let out = operator(&trent, "unseal", &format!("{damaged}\n"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mistyped or damaged"),
        "{}",
        describe_output(&out)
    );
    assert_eq!(status(&trent)["sealed"], true);

    // A well-formed share of another store is refused before combining.
    let (_other, foreign) = shamir_store();
    let answer = post_json(
        &trent,
        "/_trent/operator/unseal",
        &serde_json::json!({ "share": foreign[1] }).to_string(),
    );
    assert_eq!(answer.status, 400);
    assert!(
        answer.body_text().contains("does not belong"),
        "{}",
        answer.body_text()
    );

    // A second good share unseals.
    let out = operator(&trent, "unseal", &format!("{}\n", shares[2]));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("unsealed"));
    assert_eq!(get(&trent, "/readyz").status, 200);
    let key = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let blob = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("shamir-protected"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();

    // Every restart is sealed again; each pair of shares opens it.
    for pair in [[0, 1], [1, 2], [0, 2]] {
        trent.restart();
        let client = trent.client();
        expect_err(
            client.decrypt().ciphertext_blob(blob.clone()).send().await,
            "ServiceUnavailableException",
        );
        let input = format!("{}\n{}\n", shares[pair[0]], shares[pair[1]]);
        let out = operator(&trent, "unseal", &input);
        assert!(
            out.status.success(),
            "pair {pair:?}: {}",
            describe_output(&out)
        );
        let plain = client
            .decrypt()
            .ciphertext_blob(blob.clone())
            .send()
            .await
            .unwrap()
            .plaintext
            .unwrap();
        assert_eq!(plain.as_ref(), b"shamir-protected", "pair {pair:?}");
    }

    // Sealing needs a valid share, then drops everything.
    let answer = post_json(&trent, "/_trent/operator/seal", r#"{"share": "nonsense"}"#);
    assert_eq!(answer.status, 400);
    assert_eq!(status(&trent)["sealed"], false);
    let out = operator(&trent, "seal", &format!("{}\n", shares[1]));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(status(&trent)["sealed"], true);
    expect_err(
        trent.client().decrypt().ciphertext_blob(blob).send().await,
        "ServiceUnavailableException",
    );
    // No share ever appears in the server's output.
    let log = trent.log();
    for share in &shares {
        assert!(!log.contains(&share[20..50]), "a share leaked into the log");
    }
}

fn backup(trent: &Trent, out: &Path) -> Output {
    let token = trent.data_dir().join("operator-token");
    trent_bin()
        .args([
            "backup",
            "--addr",
            trent.endpoint(),
            "--token-file",
            token.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap()
}

fn restore(from: &Path, dir: &Path) -> Output {
    trent_bin()
        .args([
            "restore",
            "--from",
            from.to_str().unwrap(),
            "--data-dir",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_under_load_restores_every_key_and_ciphertext() {
    let trent = Trent::start();
    let client = trent.client();
    let mut before: Vec<(Blob, String)> = Vec::new();
    for i in 0..5 {
        let key = client
            .create_key()
            .description(format!("k{i}"))
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id;
        client
            .create_alias()
            .alias_name(format!("alias/backup-{i}"))
            .target_key_id(&key)
            .send()
            .await
            .unwrap();
        if i % 2 == 0 {
            client
                .rotate_key_on_demand()
                .key_id(&key)
                .send()
                .await
                .unwrap();
        }
        for j in 0..3 {
            let text = format!("before-backup-{i}-{j}");
            let blob = client
                .encrypt()
                .key_id(format!("alias/backup-{i}"))
                .plaintext(Blob::new(text.clone()))
                .send()
                .await
                .unwrap()
                .ciphertext_blob
                .unwrap();
            before.push((blob, text));
        }
    }
    // Load while the backup is taken: creates and encrypts keep succeeding.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (client, stop) = (client.clone(), stop.clone());
        tokio::spawn(async move {
            let mut done = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let key = client
                    .create_key()
                    .send()
                    .await
                    .unwrap()
                    .key_metadata
                    .unwrap()
                    .key_id;
                client
                    .encrypt()
                    .key_id(&key)
                    .plaintext(Blob::new("load"))
                    .send()
                    .await
                    .unwrap();
                done += 1;
            }
            done
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let file = trent.data_dir().join("trent.bak");
    let out = tokio::task::spawn_blocking({
        let file = file.clone();
        let trent_endpoint = trent.endpoint().to_owned();
        let token = trent.data_dir().join("operator-token");
        move || {
            trent_bin()
                .args([
                    "backup",
                    "--addr",
                    &trent_endpoint,
                    "--token-file",
                    token.to_str().unwrap(),
                    "--out",
                    file.to_str().unwrap(),
                ])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    let done = load.await.unwrap();
    assert!(out.status.success(), "backup: {}", describe_output(&out));
    assert!(done > 0, "no load ran during the backup");

    // Without the operator token the node refuses.
    let wrong = trent.data_dir().join("wrong-token");
    std::fs::write(&wrong, "0000").unwrap();
    let refused = trent_bin()
        .args([
            "backup",
            "--addr",
            trent.endpoint(),
            "--token-file",
            wrong.to_str().unwrap(),
            "--out",
            "/dev/null",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());

    // Tampered and truncated copies are refused with a clear error.
    let bytes = std::fs::read(&file).unwrap();
    let scratch = crate::harness::TempDir::new();
    let truncated = scratch.path().join("truncated.bak");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let out = restore(&truncated, &scratch.path().join("t"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("truncated"),
        "{}",
        describe_output(&out)
    );
    let altered = scratch.path().join("altered.bak");
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x20;
    std::fs::write(&altered, &flipped).unwrap();
    let out = restore(&altered, &scratch.path().join("a"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("altered"),
        "{}",
        describe_output(&out)
    );

    // Restore into a fresh dir (the dev seal needs its key file copied).
    let mut restored = Trent::stopped(Options {
        provision_admin: false,
        seal: Seal::Auto,
        ..Options::default()
    });
    std::fs::copy(
        trent.data_dir().join("dev-seal.key"),
        restored.data_dir().join("dev-seal.key"),
    )
    .unwrap();
    let out = restore(&file, restored.data_dir());
    assert!(out.status.success(), "restore: {}", describe_output(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("integrity check passed"));
    // A second restore into the same dir is refused.
    assert!(!restore(&file, restored.data_dir()).status.success());
    restored.run();
    let client = restored.client();
    for (blob, text) in &before {
        let plain = client
            .decrypt()
            .ciphertext_blob(blob.clone())
            .send()
            .await
            .unwrap()
            .plaintext
            .unwrap();
        assert_eq!(plain.as_ref(), text.as_bytes());
    }
    for i in 0..5 {
        let meta = client
            .describe_key()
            .key_id(format!("alias/backup-{i}"))
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(meta.description(), Some(format!("k{i}").as_str()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shamir_backup_is_checked_at_unseal() {
    let (mut trent, shares) = shamir_store();
    trent.run();
    operator(&trent, "unseal", &format!("{}\n{}\n", shares[0], shares[1]));
    let client = trent.client();
    let key = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let blob = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let file = trent.data_dir().join("s.bak");
    let out = backup(&trent, &file);
    assert!(out.status.success(), "{}", describe_output(&out));

    let mut restored = Trent::stopped(Options {
        provision_admin: false,
        seal: Seal::Auto,
        ..Options::default()
    });
    let out = restore(&file, restored.data_dir());
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("when the node is unsealed"));
    restored.run();
    let out = operator(
        &restored,
        "unseal",
        &format!("{}\n{}\n", shares[1], shares[2]),
    );
    assert!(out.status.success(), "{}", describe_output(&out));
    let plain = restored
        .client()
        .decrypt()
        .ciphertext_blob(blob)
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap();
    assert_eq!(plain.as_ref(), b"x");
}

/// Parses the Prometheus text format strictly enough to catch a malformed
/// line: `name{label="v",…} value` or comments.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") || line.is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        if name_end < series.len() {
            let labels = &series[name_end + 1..series.len() - 1];
            assert!(series.ends_with('}'), "unclosed labels in {line:?}");
            for pair in labels.split(',') {
                let (k, v) = pair
                    .split_once('=')
                    .unwrap_or_else(|| panic!("bad label in {line:?}"));
                assert!(
                    k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "bad label name in {line:?}"
                );
                assert!(
                    v.starts_with('"') && v.ends_with('"'),
                    "unquoted label value in {line:?}"
                );
            }
        }
        samples.insert(series.to_owned(), value);
    }
    samples
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_parse_and_move_with_traffic() {
    let trent = Trent::start();
    let client = trent.client();
    let scrape = || {
        let response = get(&trent, "/metrics");
        assert_eq!(response.status, 200);
        assert!(
            response
                .header("content-type")
                .unwrap_or_default()
                .starts_with("text/plain")
        );
        parse_metrics(&response.body_text())
    };
    let encrypt_ok = "trent_requests_total{operation=\"Encrypt\",outcome=\"OK\"}";
    let before = scrape();
    assert_eq!(before["trent_sealed"], 0.0);
    assert_eq!(before["trent_store_up"], 1.0);
    assert_eq!(before["trent_audit_writable"], 1.0);
    let key = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    for _ in 0..7 {
        client
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new("m"))
            .send()
            .await
            .unwrap();
    }
    client.disable_key().key_id(&key).send().await.unwrap();
    expect_err(
        client
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new("m"))
            .send()
            .await,
        "DisabledException",
    );
    let after = scrape();
    assert_eq!(
        after[encrypt_ok] - before.get(encrypt_ok).copied().unwrap_or(0.0),
        7.0
    );
    assert_eq!(
        after["trent_requests_total{operation=\"Encrypt\",outcome=\"DisabledException\"}"],
        1.0
    );
    assert_eq!(
        after["trent_request_duration_seconds_count{operation=\"Encrypt\"}"],
        8.0
    );
    assert_eq!(
        after["trent_request_duration_seconds_bucket{operation=\"Encrypt\",le=\"+Inf\"}"],
        8.0
    );
    assert_eq!(after["trent_keys{state=\"Disabled\"}"], 1.0);
}

#[test]
fn config_file_is_validated_and_used() {
    let dir = crate::harness::TempDir::new();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "listen = \"127.0.0.1:0\"\nregion = \"eu-west-3\"\nseal = \"dev\"\n",
    )
    .unwrap();
    let out = trent_bin()
        .args(["config", "check", "--config", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe_output(&out));
    for (text, field) in [
        ("listen = \"not an address\"", "listen"),
        ("region = \"Not A Region\"", "region"),
        ("seal = \"crystal\"", "seal"),
        ("lisen = \"127.0.0.1:1\"", "lisen"),
        ("dev_auth = 3", "dev_auth"),
    ] {
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, text).unwrap();
        let out = trent_bin()
            .args(["config", "check", "--config", bad.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{text} accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(field),
            "{text}: {}",
            describe_output(&out)
        );
    }
    let example: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "contrib",
        "trent.example.toml",
    ]
    .iter()
    .collect();
    let out = trent_bin()
        .args(["config", "check", "--config", example.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "example config: {}",
        describe_output(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_reads_the_config_file_and_flags_override_it() {
    let dir = crate::harness::TempDir::new();
    let config = dir.path().join("trent.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\nregion = \"eu-west-3\"\n",
            data.to_str().unwrap()
        ),
    )
    .unwrap();
    let mut child = trent_bin()
        .args([
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--region",
            "ap-south-1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("listening on"))
        .unwrap();
    let endpoint = listening
        .split("listening on ")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    // data_dir came from the file: the store is there.
    assert!(data.join("trent.db").exists());
    let creds = std::fs::read_to_string(data.join("bootstrap-credentials")).unwrap();
    let field = |name: &str| {
        creds
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} = ")))
            .unwrap()
            .trim()
            .to_owned()
    };
    // The flag's region (ap-south-1) beat the file's: a client must sign for it.
    let config = aws_sdk_kms::config::Builder::new()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new("ap-south-1"))
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            field("aws_access_key_id"),
            field("aws_secret_access_key"),
            None,
            None,
            "t",
        ))
        .endpoint_url(&endpoint)
        .build();
    let client = aws_sdk_kms::Client::from_conf(config);
    let arn = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    assert!(arn.starts_with("arn:aws:kms:ap-south-1:"), "{arn}");
    let _ = child.kill();
    let _ = child.wait();
}

fn openssl(args: &[&str]) -> Output {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        describe_output(&out)
    );
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn rekey_to_operator_public_keys_keeps_the_root_key() {
    let (mut trent, old_shares) = shamir_store();
    trent.run();
    operator(
        &trent,
        "unseal",
        &format!("{}\n{}\n", old_shares[0], old_shares[2]),
    );
    let client = trent.client();
    let key = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let blob = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("kept"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    trent.stop();

    // Three operators' RSA keys, made by a tool nobody here wrote.
    let keys_dir = trent.data_dir().join("operators");
    std::fs::create_dir_all(&keys_dir).unwrap();
    let mut publics = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let private = keys_dir.join(format!("{name}.key"));
        let public = keys_dir.join(format!("{name}.pem"));
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            private.to_str().unwrap(),
        ]);
        openssl(&[
            "pkey",
            "-in",
            private.to_str().unwrap(),
            "-pubout",
            "-out",
            public.to_str().unwrap(),
        ]);
        publics.push(public.to_str().unwrap().to_owned());
    }
    let new_dir = trent.data_dir().join("new-shares");
    let mut child = trent_bin()
        .args([
            "operator",
            "rekey",
            "--data-dir",
            trent.data_dir().to_str().unwrap(),
            "--shares",
            "3",
            "--threshold",
            "2",
            "--out-dir",
            new_dir.to_str().unwrap(),
            "--public-keys",
            &publics.join(","),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n{}\n", old_shares[1], old_shares[2]).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "rekey: {}", describe_output(&out));

    // Each operator decrypts their own share with openssl.
    let mut new_shares = Vec::new();
    for (i, name) in ["alice", "bob", "carol"].iter().enumerate() {
        let out = openssl(&[
            "pkeyutl",
            "-decrypt",
            "-inkey",
            keys_dir.join(format!("{name}.key")).to_str().unwrap(),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
            "-in",
            new_dir
                .join(format!("share-{}.enc", i + 1))
                .to_str()
                .unwrap(),
        ]);
        new_shares.push(String::from_utf8(out.stdout).unwrap().trim().to_owned());
    }
    trent.run();
    // The old shares no longer open the store; the new ones do, and the root key is the same.
    let out = operator(&trent, "unseal", &format!("{}\n", old_shares[0]));
    assert!(!out.status.success(), "an old share was accepted");
    let out = operator(
        &trent,
        "unseal",
        &format!("{}\n{}\n", new_shares[0], new_shares[1]),
    );
    assert!(out.status.success(), "{}", describe_output(&out));
    let plain = trent
        .client()
        .decrypt()
        .ciphertext_blob(blob)
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap();
    assert_eq!(plain.as_ref(), b"kept");
}

#[test]
fn every_file_in_the_data_dir_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let trent = Trent::start_with(Options {
        provision_admin: false,
        ..Options::default()
    });
    let dir = trent.data_dir();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700, "data dir");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert_eq!(
                mode(&path) & 0o077,
                0,
                "{} is readable by others",
                path.display()
            );
        }
    }
    for name in [
        "trent.db",
        "dev-seal.key",
        "operator-token",
        "bootstrap-credentials",
    ] {
        assert!(dir.join(name).exists(), "{name} missing");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_refused_while_sealed_are_recorded_at_unseal() {
    use trent_crypto::seal::Seal;
    use trent_crypto::shamir::{ShamirSeal, Share};
    use trent_store::Store;
    let (mut trent, shares) = shamir_store();
    trent.run();
    let refused = trent.client().list_keys().send().await;
    let request_id = refused
        .as_ref()
        .err()
        .and_then(|e| e.raw_response())
        .and_then(|r| r.headers().get("x-amzn-requestid"))
        .map(str::to_owned)
        .expect("a request id on the refusal");
    expect_err(refused, "ServiceUnavailableException");
    operator(&trent, "unseal", &format!("{}\n{}\n", shares[0], shares[1]));
    trent.stop();

    // Read the log as an auditor holding the shares would.
    let store = trent_store::sqlite::SqliteStore::open(&trent.data_dir().join("trent.db")).unwrap();
    let sealed = store.get_meta("root_key.sealed").unwrap().unwrap();
    let parsed: Vec<Share> = shares[..2]
        .iter()
        .map(|t| Share::from_text(t).unwrap())
        .collect();
    let root = ShamirSeal::from_shares(&sealed, &parsed)
        .unwrap()
        .unseal(&sealed)
        .unwrap();
    let keys = trent_audit::AuditKeys::load(&store, &root)
        .unwrap()
        .expect("audit keys");
    let mut found = None;
    trent_audit::query::scan(
        &trent.data_dir().join("audit"),
        &keys,
        &Default::default(),
        &mut |record| {
            if record.event["requestID"] == request_id.as_str() {
                found = Some(record.event);
                return false;
            }
            true
        },
    )
    .unwrap();
    let event = found.unwrap_or_else(|| panic!("the refusal {request_id} was not recorded"));
    assert_eq!(event["eventName"], "ListKeys");
    assert_eq!(event["errorCode"], "ServiceUnavailableException");
}
