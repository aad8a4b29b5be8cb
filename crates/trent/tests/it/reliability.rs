//! CI-sized runs of the reliability harnesses (crates/trent-chaos) against
//! this build's `trent` binary. The full-sized runs and their figures are
//! in docs/RELIABILITY.md (`trent-chaos crash|hostile|soak|hygiene`).

use std::path::Path;
use std::time::Duration;

use trent_chaos::client::Credentials;
use trent_chaos::process::{DataDir, Trent};
use trent_chaos::rng::Rng;
use trent_chaos::{crash, hostile, hygiene, procfs, soak};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_trent"))
}

fn fresh(label: &str) -> (DataDir, Trent, Credentials) {
    let dir = DataDir::new(label).unwrap();
    let credentials = Credentials {
        access_key_id: "CHAOSADMIN".into(),
        secret: "chaos-secret-not-for-production".into(),
    };
    let mut trent = Trent::new(bin(), dir.path()).with_env("TRENT_LOG", "warn");
    trent.add_credentials(&credentials).unwrap();
    trent.start().unwrap();
    (dir, trent, credentials)
}

#[test]
fn crash_consistency_a_few_kill9_cycles() {
    let mut config = crash::CrashConfig::new(bin());
    config.cycles = 4;
    config.workers = 3;
    config.max_run = Duration::from_millis(800);
    let report = crash::run(&config).unwrap();
    assert!(
        report.violations.is_empty(),
        "seed {}: {:#?}",
        config.seed,
        report.violations
    );
    assert_eq!(report.cycles, 4);
    assert!(report.acknowledged_writes > 0 && report.decrypts_checked > 0);
}

#[test]
fn crash_harness_detects_lost_writes() {
    // Sabotage: throw away the WAL after each kill, as a store that
    // acknowledged before fsync would lose it. The harness must notice.
    let mut config = crash::CrashConfig::new(bin());
    config.cycles = 2;
    config.workers = 2;
    config.min_run = Duration::from_millis(400);
    config.max_run = Duration::from_millis(600);
    config.sabotage_discard_wal = true;
    let report = crash::run(&config).unwrap();
    assert!(
        report.violations.iter().any(|v| v.contains("LOST")),
        "{:#?}",
        report.violations
    );
}

#[test]
fn hostile_corpus_gets_only_named_4xx_answers() {
    let (_dir, trent, credentials) = fresh("hostile-it");
    let mut client = trent.client(&credentials).unwrap();
    let fixtures = hostile::Fixtures::create(&mut client).unwrap();
    let pid = trent.pid().unwrap();
    let before = procfs::usage(pid);
    let config = hostile::HostileConfig {
        cases: 3000,
        threads: 2,
        seed: Rng::fresh_seed(),
    };
    let report = hostile::run_corpus(trent.addr().unwrap(), &credentials, &fixtures, &config);
    assert!(
        report.failures.is_empty(),
        "seed {}: {:#?}",
        config.seed,
        &report.failures[..report.failures.len().min(20)]
    );
    assert!(!report.by_status.keys().any(|s| *s >= 500 || *s == 0));
    let (flips, failures) = hostile::every_bit_flipped(&mut client, &fixtures);
    assert!(flips > 800 && failures.is_empty(), "{failures:#?}");
    let mut rng = Rng::new(config.seed);
    for outcome in hostile::garbage_requests(trent.addr().unwrap(), &mut rng, 40) {
        assert!(outcome.ok, "{outcome:?}");
    }
    let idle = hostile::idle_connections(&mut client, 300);
    assert!(idle.ok, "{idle:?}");
    let after = procfs::usage(pid);
    if let (Some(b), Some(a)) = (before, after) {
        assert!(
            a.rss_kib < b.rss_kib + 128 * 1024,
            "RSS grew from {} to {} KiB",
            b.rss_kib,
            a.rss_kib
        );
    }
}

#[test]
fn short_soak_has_no_errors_and_no_leaks() {
    let (_dir, mut trent, credentials) = fresh("soak-it");
    let config = soak::SoakConfig {
        duration: Duration::from_secs(8),
        workers: 2,
        sample_every: Duration::from_secs(1),
        churn_every: Duration::from_millis(200),
        seed: Rng::fresh_seed(),
    };
    let report = soak::run(
        trent.addr().unwrap(),
        trent.pid(),
        &credentials,
        &config,
        |_| {},
    )
    .unwrap();
    // Latency on a shared CI machine is too noisy to judge in 8 seconds;
    // errors, descriptors, threads and memory are not.
    let failures: Vec<_> = report
        .failures
        .iter()
        .filter(|f| !f.contains("latency"))
        .collect();
    assert!(
        failures.is_empty(),
        "{failures:?}; errors: {:?}",
        report.errors
    );
    assert!(
        report.requests > 100 && report.churn_actions >= 10,
        "{report:?}"
    );
    trent.stop().unwrap();
}

#[test]
fn no_secret_reaches_logs_errors_or_the_store() {
    let report = hygiene::run(bin()).unwrap();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    let mut ops = report.operations.clone();
    ops.sort();
    ops.dedup();
    assert!(ops.len() >= 28, "only {ops:?}");
    assert!(report.secrets >= 10);
}
