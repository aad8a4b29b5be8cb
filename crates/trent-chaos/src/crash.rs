//! Crash consistency: several clients write to a real `trent serve` while
//! it is `kill -9`ed at a random moment; it is restarted and everything is
//! checked against what the clients were told.
//!
//! The model: each worker owns the keys and aliases it created, so the
//! writes to any one object are sequential and their acknowledged order is
//! known exactly. What a worker had in flight when the server died is
//! uncertain, and recorded as "old or new" ([`Fact::Either`]); after the
//! restart the observed value must be one of the two, and becomes the known
//! value. Checks after every restart:
//!
//! - every acknowledged write is present with its value (key exists, state,
//!   tags, policy, on-demand rotation count, alias targets);
//! - every ciphertext that was returned decrypts to its plaintext (those of
//!   the last cycle, a sample of older ones, and all of them at the end);
//! - nothing unacknowledged is half-applied: a key no client was told about
//!   must come from a CreateKey in flight, and be complete (enabled, tagged,
//!   encrypts and decrypts); a rotation either happened (and the new
//!   material is the one Encrypt uses) or did not;
//! - the store reopens (the server starts) and SQLite's `quick_check` passes.
//!
//! Imports and grants are not implemented yet; each becomes one more
//! [`Op`] with its own [`Fact`]s and checks here when it lands.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::{CallError, Client, Credentials, Reply, b64};
use crate::process::{DataDir, Trent};
use crate::rng::Rng;

/// The on-demand rotations a worker does at most per key (Trent's limit is
/// 10; staying below it keeps a rotation in flight from hitting it).
const MAX_ROTATIONS: u32 = 8;

/// What a crash run does.
#[derive(Debug, Clone)]
pub struct CrashConfig {
    /// The `trent` binary.
    pub bin: PathBuf,
    /// Kill/restart cycles.
    pub cycles: u64,
    /// Concurrent clients.
    pub workers: usize,
    /// Shortest time the server runs under load before the kill.
    pub min_run: Duration,
    /// Longest time the server runs under load before the kill.
    pub max_run: Duration,
    /// Keys each worker creates at most.
    pub keys_per_worker: usize,
    /// Older ciphertexts re-checked per cycle (all at the end).
    pub sample: usize,
    /// Seed of the run (printed; reproduces the workload, not the timing).
    pub seed: u64,
    /// Print a line per cycle.
    pub verbose: bool,
    /// Sabotage, to prove the harness sees losses: delete the WAL after
    /// each kill, as if acknowledged writes had never been fsync'd.
    pub sabotage_discard_wal: bool,
}

impl CrashConfig {
    /// Defaults for `bin`.
    pub fn new(bin: &Path) -> CrashConfig {
        CrashConfig {
            bin: bin.to_path_buf(),
            cycles: 10,
            workers: 4,
            min_run: Duration::from_millis(50),
            max_run: Duration::from_millis(1500),
            keys_per_worker: 40,
            sample: 40,
            seed: Rng::fresh_seed(),
            verbose: false,
            sabotage_discard_wal: false,
        }
    }
}

/// What a crash run found.
#[derive(Debug, Clone, Default)]
pub struct CrashReport {
    /// Cycles completed.
    pub cycles: u64,
    /// Writes acknowledged to the clients.
    pub acknowledged_writes: u64,
    /// Writes in flight at a kill (outcome unknown to the client).
    pub in_flight_at_kill: u64,
    /// Of those, how many turned out applied.
    pub in_flight_applied: u64,
    /// Ciphertexts returned to clients.
    pub ciphertexts: u64,
    /// Decryptions checked after restarts.
    pub decrypts_checked: u64,
    /// Keys at the end.
    pub keys: u64,
    /// Violations: lost or wrong acknowledged writes, half-applied changes,
    /// store failures, unexpected errors. Empty means the run passed.
    pub violations: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

/// A value known exactly, or one of two (a write was in flight at a kill).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fact<T> {
    Known(T),
    Either { old: T, new: T },
}

impl<T: Clone + PartialEq + std::fmt::Debug> Fact<T> {
    fn known(&self) -> Option<&T> {
        match self {
            Fact::Known(v) => Some(v),
            Fact::Either { .. } => None,
        }
    }

    /// Checks an observed value; on success the fact becomes known.
    /// Returns whether an uncertain write turned out applied.
    fn settle(&mut self, observed: T, what: &str, out: &mut Vec<String>) -> Option<bool> {
        match self {
            Fact::Known(v) if *v == observed => None,
            Fact::Known(v) => {
                out.push(format!(
                    "LOST: {what}: acknowledged {v:?}, found {observed:?}"
                ));
                *self = Fact::Known(observed);
                None
            }
            Fact::Either { old, new } => {
                let applied = observed == *new && *old != *new;
                if observed != *old && observed != *new {
                    out.push(format!(
                        "HALF-APPLIED: {what}: expected {old:?} or {new:?}, found {observed:?}"
                    ));
                }
                *self = Fact::Known(observed);
                Some(applied)
            }
        }
    }
}

#[derive(Debug, Clone)]
struct KeyModel {
    key_id: String,
    description: String,
    enabled: Fact<bool>,
    tags: BTreeMap<String, Fact<Option<String>>>,
    policy_id: Fact<String>,
    rotations: Fact<u32>,
}

#[derive(Debug, Clone)]
struct Ciphertext {
    key_id: String,
    plaintext: Vec<u8>,
    context: BTreeMap<String, String>,
    blob: Vec<u8>,
    cycle: u64,
}

/// One worker's objects, carried from cycle to cycle.
#[derive(Debug, Default)]
struct Ledger {
    worker: usize,
    keys: Vec<KeyModel>,
    /// alias name → target key id (None: absent).
    aliases: BTreeMap<String, Fact<Option<String>>>,
    ciphertexts: Vec<Ciphertext>,
    /// Descriptions of CreateKey calls in flight at a kill.
    pending_creates: BTreeSet<String>,
    counter: u64,
    acknowledged: u64,
    in_flight: u64,
    unexpected: Vec<String>,
}

/// Runs the harness. `Err` only if it could not run at all; violations are
/// in the report.
pub fn run(config: &CrashConfig) -> Result<CrashReport, String> {
    let started = Instant::now();
    let mut dir = DataDir::new("crash").map_err(|e| e.to_string())?;
    let credentials = Credentials {
        access_key_id: "CHAOSADMIN".into(),
        secret: "chaos-secret-not-for-production".into(),
    };
    let mut trent = Trent::new(&config.bin, dir.path());
    trent.add_credentials(&credentials)?;
    let mut rng = Rng::new(config.seed);
    let mut ledgers: Vec<Ledger> = (0..config.workers)
        .map(|worker| Ledger {
            worker,
            ..Ledger::default()
        })
        .collect();
    let mut report = CrashReport::default();

    for cycle in 0..config.cycles {
        if let Err(e) = trent.start() {
            report
                .violations
                .push(format!("STORE DID NOT REOPEN (cycle {cycle}): {e}"));
            break;
        }
        let mut client = trent.client(&credentials)?;
        // Check the state the last crash left, before new load.
        if cycle > 0 {
            verify(&mut client, &mut ledgers, &mut report, config, cycle, false);
            quick_check(trent.data_dir(), &mut report.violations, "quick_check");
        }
        let run_for = config.min_run
            + Duration::from_millis(
                rng.below((config.max_run.saturating_sub(config.min_run)).as_millis() as u64 + 1),
            );
        let killed = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = ledgers
            .drain(..)
            .map(|ledger| {
                let worker_rng = rng.fork();
                let client = trent.client(&credentials);
                let killed = killed.clone();
                let config = config.clone();
                std::thread::spawn(move || {
                    let mut ledger = ledger;
                    if let Ok(client) = client {
                        work(client, &mut ledger, worker_rng, &killed, &config, cycle);
                    }
                    ledger
                })
            })
            .collect();
        std::thread::sleep(run_for);
        killed.store(true, Ordering::SeqCst);
        trent.kill9();
        if config.sabotage_discard_wal {
            let _ = std::fs::remove_file(dir.path().join("trent.db-wal"));
            let _ = std::fs::remove_file(dir.path().join("trent.db-shm"));
        }
        for handle in handles {
            match handle.join() {
                Ok(ledger) => ledgers.push(ledger),
                Err(_) => return Err("a worker panicked".into()),
            }
        }
        for ledger in &mut ledgers {
            report.violations.append(&mut ledger.unexpected);
        }
        report.cycles = cycle + 1;
        if config.verbose {
            eprintln!(
                "cycle {:>5}: ran {:>5} ms, {} keys, {} ciphertexts, {} violations",
                cycle,
                run_for.as_millis(),
                ledgers.iter().map(|l| l.keys.len()).sum::<usize>(),
                ledgers.iter().map(|l| l.ciphertexts.len()).sum::<usize>(),
                report.violations.len()
            );
        }
        if report.violations.len() > 50 {
            break;
        }
    }

    // A last restart, and the full check.
    match trent.start() {
        Ok(_) => {
            let mut client = trent.client(&credentials)?;
            let cycles = report.cycles;
            verify(&mut client, &mut ledgers, &mut report, config, cycles, true);
            integrity_check(trent.data_dir(), &mut report.violations);
            let _ = trent.stop();
        }
        Err(e) => report
            .violations
            .push(format!("STORE DID NOT REOPEN (final): {e}")),
    }
    for ledger in &ledgers {
        report.acknowledged_writes += ledger.acknowledged;
        report.in_flight_at_kill += ledger.in_flight;
        report.keys += ledger.keys.len() as u64;
        report.ciphertexts += ledger.ciphertexts.len() as u64;
    }
    report.elapsed = started.elapsed();
    if !report.violations.is_empty() {
        dir.keep();
        report
            .violations
            .push(format!("data dir kept at {}", dir.path().display()));
    }
    Ok(report)
}

/// What a worker does next.
#[derive(Debug, Clone, Copy)]
enum Op {
    CreateKey,
    CreateAlias,
    UpdateAlias,
    Rotate,
    PutPolicy,
    Tag,
    Toggle,
    Encrypt,
    Decrypt,
}

const OPS: &[(Op, u64)] = &[
    (Op::CreateKey, 3),
    (Op::CreateAlias, 2),
    (Op::UpdateAlias, 2),
    (Op::Rotate, 2),
    (Op::PutPolicy, 2),
    (Op::Tag, 3),
    (Op::Toggle, 3),
    (Op::Encrypt, 6),
    (Op::Decrypt, 3),
];

fn pick(rng: &mut Rng) -> Op {
    let total: u64 = OPS.iter().map(|(_, w)| w).sum();
    let mut n = rng.below(total);
    for (op, w) in OPS {
        if n < *w {
            return *op;
        }
        n -= w;
    }
    Op::Encrypt
}

/// The outcome of one write: acknowledged, refused (a violation: the
/// workload only sends valid requests), or unknown (connection lost).
enum Outcome {
    Acked(Value),
    Unknown,
    Stop,
}

fn send(
    client: &mut Client,
    ledger: &mut Ledger,
    killed: &AtomicBool,
    op: &str,
    body: &Value,
) -> Outcome {
    match client.call(op, body) {
        Ok(v) => Outcome::Acked(v),
        Err(CallError::Transport(e)) => {
            if !killed.load(Ordering::SeqCst) {
                ledger.unexpected.push(format!(
                    "UNEXPECTED: {op} lost its connection before the kill: {e}"
                ));
            }
            Outcome::Unknown
        }
        Err(e) => {
            ledger
                .unexpected
                .push(format!("UNEXPECTED: {op} refused: {e} (body {body})"));
            Outcome::Stop
        }
    }
}

fn work(
    mut client: Client,
    ledger: &mut Ledger,
    mut rng: Rng,
    killed: &AtomicBool,
    config: &CrashConfig,
    cycle: u64,
) {
    // Bounded: the kill ends the loop; the count bounds it regardless.
    for _ in 0..1_000_000 {
        if killed.load(Ordering::SeqCst) {
            return;
        }
        ledger.counter += 1;
        let keep_going = match pick(&mut rng) {
            Op::CreateKey if ledger.keys.len() < config.keys_per_worker => {
                create_key(&mut client, ledger, killed)
            }
            Op::CreateKey | Op::Encrypt => encrypt(&mut client, ledger, &mut rng, killed, cycle),
            Op::CreateAlias => create_alias(&mut client, ledger, &mut rng, killed),
            Op::UpdateAlias => update_alias(&mut client, ledger, &mut rng, killed),
            Op::Rotate => rotate(&mut client, ledger, &mut rng, killed),
            Op::PutPolicy => put_policy(&mut client, ledger, &mut rng, killed),
            Op::Tag => tag(&mut client, ledger, &mut rng, killed),
            Op::Toggle => toggle(&mut client, ledger, &mut rng, killed),
            Op::Decrypt => decrypt(&mut client, ledger, &mut rng, killed),
        };
        if !keep_going {
            return;
        }
    }
}

fn token(ledger: &Ledger, what: &str) -> String {
    format!("chaos-w{}-{what}-{}", ledger.worker, ledger.counter)
}

fn create_key(client: &mut Client, ledger: &mut Ledger, killed: &AtomicBool) -> bool {
    let description = token(ledger, "key");
    let body = json!({
        "Description": description,
        "Tags": [{"TagKey": "created-by", "TagValue": description}],
    });
    match send(client, ledger, killed, "CreateKey", &body) {
        Outcome::Acked(v) => {
            let Some(key_id) = v["KeyMetadata"]["KeyId"].as_str() else {
                ledger
                    .unexpected
                    .push(format!("UNEXPECTED: CreateKey answer without KeyId: {v}"));
                return false;
            };
            ledger.acknowledged += 1;
            ledger.keys.push(new_model(key_id, &description));
            true
        }
        Outcome::Unknown => {
            ledger.in_flight += 1;
            ledger.pending_creates.insert(description);
            false
        }
        Outcome::Stop => false,
    }
}

fn new_model(key_id: &str, description: &str) -> KeyModel {
    let mut tags = BTreeMap::new();
    tags.insert(
        "created-by".to_owned(),
        Fact::Known(Some(description.to_owned())),
    );
    KeyModel {
        key_id: key_id.to_owned(),
        description: description.to_owned(),
        enabled: Fact::Known(true),
        tags,
        policy_id: Fact::Known("key-default-1".into()),
        rotations: Fact::Known(0),
    }
}

/// A key of this worker whose state is known and satisfies `filter`.
fn some_key(ledger: &Ledger, rng: &mut Rng, filter: impl Fn(&KeyModel) -> bool) -> Option<usize> {
    let candidates: Vec<usize> = (0..ledger.keys.len())
        .filter(|&i| filter(&ledger.keys[i]))
        .collect();
    (!candidates.is_empty()).then(|| candidates[rng.index(candidates.len())])
}

fn enabled(k: &KeyModel) -> bool {
    k.enabled.known() == Some(&true)
}

fn create_alias(
    client: &mut Client,
    ledger: &mut Ledger,
    rng: &mut Rng,
    killed: &AtomicBool,
) -> bool {
    let Some(i) = some_key(ledger, rng, |_| true) else {
        return true;
    };
    let name = format!("alias/{}", token(ledger, "alias"));
    let target = ledger.keys[i].key_id.clone();
    let body = json!({"AliasName": name, "TargetKeyId": target});
    match send(client, ledger, killed, "CreateAlias", &body) {
        Outcome::Acked(_) => {
            ledger.acknowledged += 1;
            ledger.aliases.insert(name, Fact::Known(Some(target)));
            true
        }
        Outcome::Unknown => {
            ledger.in_flight += 1;
            let fact = Fact::Either {
                old: None,
                new: Some(target),
            };
            ledger.aliases.insert(name, fact);
            false
        }
        Outcome::Stop => false,
    }
}

fn update_alias(
    client: &mut Client,
    ledger: &mut Ledger,
    rng: &mut Rng,
    killed: &AtomicBool,
) -> bool {
    let names: Vec<String> = ledger
        .aliases
        .iter()
        .filter(|(_, f)| matches!(f, Fact::Known(Some(_))))
        .map(|(n, _)| n.clone())
        .collect();
    if names.is_empty() {
        return true;
    }
    let name = names[rng.index(names.len())].clone();
    let Some(i) = some_key(ledger, rng, |_| true) else {
        return true;
    };
    let target = ledger.keys[i].key_id.clone();
    let old = ledger.aliases[&name].known().cloned().flatten();
    let body = json!({"AliasName": name, "TargetKeyId": target});
    match send(client, ledger, killed, "UpdateAlias", &body) {
        Outcome::Acked(_) => {
            ledger.acknowledged += 1;
            ledger.aliases.insert(name, Fact::Known(Some(target)));
            true
        }
        Outcome::Unknown => {
            ledger.in_flight += 1;
            let fact = Fact::Either {
                old,
                new: Some(target),
            };
            ledger.aliases.insert(name, fact);
            false
        }
        Outcome::Stop => false,
    }
}

fn rotate(client: &mut Client, ledger: &mut Ledger, rng: &mut Rng, killed: &AtomicBool) -> bool {
    let Some(i) = some_key(ledger, rng, |k| {
        enabled(k) && k.rotations.known().is_some_and(|n| *n < MAX_ROTATIONS)
    }) else {
        return true;
    };
    let key_id = ledger.keys[i].key_id.clone();
    let n = ledger.keys[i].rotations.known().copied().unwrap_or(0);
    match send(
        client,
        ledger,
        killed,
        "RotateKeyOnDemand",
        &json!({"KeyId": key_id}),
    ) {
        Outcome::Acked(_) => {
            ledger.acknowledged += 1;
            ledger.keys[i].rotations = Fact::Known(n + 1);
            true
        }
        Outcome::Unknown => {
            ledger.in_flight += 1;
            ledger.keys[i].rotations = Fact::Either { old: n, new: n + 1 };
            false
        }
        Outcome::Stop => false,
    }
}

/// A policy equivalent to the default one, told apart by its `Id`.
fn policy(id: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Id": id,
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{}:root", crate::process::ACCOUNT_ID)},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}

fn put_policy(
    client: &mut Client,
    ledger: &mut Ledger,
    rng: &mut Rng,
    killed: &AtomicBool,
) -> bool {
    let Some(i) = some_key(ledger, rng, |k| k.policy_id.known().is_some()) else {
        return true;
    };
    let key_id = ledger.keys[i].key_id.clone();
    let id = token(ledger, "policy");
    let old = ledger.keys[i]
        .policy_id
        .known()
        .cloned()
        .unwrap_or_default();
    let body = json!({"KeyId": key_id, "PolicyName": "default", "Policy": policy(&id)});
    match send(client, ledger, killed, "PutKeyPolicy", &body) {
        Outcome::Acked(_) => {
            ledger.acknowledged += 1;
            ledger.keys[i].policy_id = Fact::Known(id);
            true
        }
        Outcome::Unknown => {
            ledger.in_flight += 1;
            ledger.keys[i].policy_id = Fact::Either { old, new: id };
            false
        }
        Outcome::Stop => false,
    }
}

fn tag(client: &mut Client, ledger: &mut Ledger, rng: &mut Rng, killed: &AtomicBool) -> bool {
    let tag_key = format!("t{}", rng.below(4));
    let Some(i) = some_key(ledger, rng, |k| {
        k.tags.get(&tag_key).is_none_or(|f| f.known().is_some())
    }) else {
        return true;
    };
    let key_id = ledger.keys[i].key_id.clone();
    let value = token(ledger, "tag");
    let old = ledger.keys[i]
        .tags
        .get(&tag_key)
        .and_then(|f| f.known().cloned())
        .flatten();
    let body = json!({"KeyId": key_id, "Tags": [{"TagKey": tag_key, "TagValue": value}]});
    match send(client, ledger, killed, "TagResource", &body) {
        Outcome::Acked(_) => {
            ledger.acknowledged += 1;
            ledger.keys[i]
                .tags
                .insert(tag_key, Fact::Known(Some(value)));
            true
        }
        Outcome::Unknown => {
            ledger.in_flight += 1;
            let fact = Fact::Either {
                old,
                new: Some(value),
            };
            ledger.keys[i].tags.insert(tag_key, fact);
            false
        }
        Outcome::Stop => false,
    }
}

fn toggle(client: &mut Client, ledger: &mut Ledger, rng: &mut Rng, killed: &AtomicBool) -> bool {
    let Some(i) = some_key(ledger, rng, |k| k.enabled.known().is_some()) else {
        return true;
    };
    let key_id = ledger.keys[i].key_id.clone();
    let now = enabled(&ledger.keys[i]);
    let op = if now { "DisableKey" } else { "EnableKey" };
    match send(client, ledger, killed, op, &json!({"KeyId": key_id})) {
        Outcome::Acked(_) => {
            ledger.acknowledged += 1;
            ledger.keys[i].enabled = Fact::Known(!now);
            true
        }
        Outcome::Unknown => {
            ledger.in_flight += 1;
            ledger.keys[i].enabled = Fact::Either {
                old: now,
                new: !now,
            };
            false
        }
        Outcome::Stop => false,
    }
}

fn encrypt(
    client: &mut Client,
    ledger: &mut Ledger,
    rng: &mut Rng,
    killed: &AtomicBool,
    cycle: u64,
) -> bool {
    let Some(i) = some_key(ledger, rng, enabled) else {
        return true;
    };
    let key_id = ledger.keys[i].key_id.clone();
    let len = 1 + rng.index(300);
    let mut plaintext = token(ledger, "pt").into_bytes();
    plaintext.extend(rng.bytes(len));
    let mut context = BTreeMap::new();
    context.insert("worker".to_owned(), ledger.worker.to_string());
    context.insert("n".to_owned(), ledger.counter.to_string());
    let body = json!({"KeyId": key_id, "Plaintext": b64(&plaintext), "EncryptionContext": context});
    match send(client, ledger, killed, "Encrypt", &body) {
        Outcome::Acked(v) => match Reply::blob(&v, "CiphertextBlob") {
            Some(blob) => {
                ledger.ciphertexts.push(Ciphertext {
                    key_id,
                    plaintext,
                    context,
                    blob,
                    cycle,
                });
                true
            }
            None => {
                ledger
                    .unexpected
                    .push(format!("UNEXPECTED: Encrypt answer without blob: {v}"));
                false
            }
        },
        Outcome::Unknown | Outcome::Stop => false,
    }
}

fn decrypt(client: &mut Client, ledger: &mut Ledger, rng: &mut Rng, killed: &AtomicBool) -> bool {
    if ledger.ciphertexts.is_empty() {
        return true;
    }
    let c = ledger.ciphertexts[rng.index(ledger.ciphertexts.len())].clone();
    let key_enabled = ledger
        .keys
        .iter()
        .find(|k| k.key_id == c.key_id)
        .is_some_and(enabled);
    if !key_enabled {
        return true;
    }
    let body = json!({"CiphertextBlob": b64(&c.blob), "EncryptionContext": c.context});
    match send(client, ledger, killed, "Decrypt", &body) {
        Outcome::Acked(v) => {
            if Reply::blob(&v, "Plaintext").as_deref() != Some(&c.plaintext[..]) {
                ledger.unexpected.push(format!(
                    "WRONG PLAINTEXT: Decrypt under {} during load",
                    c.key_id
                ));
            }
            true
        }
        Outcome::Unknown | Outcome::Stop => false,
    }
}

// ------------------------------------------------------------ verification

fn verify(
    client: &mut Client,
    ledgers: &mut [Ledger],
    report: &mut CrashReport,
    config: &CrashConfig,
    cycle: u64,
    full: bool,
) {
    let out = &mut report.violations;
    let mut rng = Rng::new(config.seed ^ cycle);
    adopt_unacknowledged_keys(client, ledgers, out, &mut report.in_flight_applied);
    for ledger in ledgers.iter_mut() {
        let sample: BTreeSet<usize> = if full {
            (0..ledger.keys.len()).collect()
        } else {
            // Keys with an uncertain fact, plus a sample of the others.
            let mut s: BTreeSet<usize> = (0..ledger.keys.len())
                .filter(|&i| uncertain(&ledger.keys[i]))
                .collect();
            for _ in 0..config.sample.min(ledger.keys.len()) / 4 + 1 {
                if !ledger.keys.is_empty() {
                    s.insert(rng.index(ledger.keys.len()));
                }
            }
            s
        };
        for i in sample {
            let applied = check_key(client, &mut ledger.keys[i], out);
            report.in_flight_applied += applied;
        }
        check_aliases(client, ledger, out, &mut report.in_flight_applied);
        // Enable every key (an acknowledged write like any other) so all
        // ciphertexts can be checked and all keys stay in play.
        for key in ledger.keys.iter_mut() {
            if key.enabled == Fact::Known(false) {
                match client.call("EnableKey", &json!({"KeyId": key.key_id})) {
                    Ok(_) => key.enabled = Fact::Known(true),
                    Err(e) => out.push(format!("EnableKey {} after restart: {e}", key.key_id)),
                }
            }
        }
        let count = ledger.ciphertexts.len();
        let mut check: Vec<usize> = if full {
            (0..count).collect()
        } else {
            (0..count)
                .filter(|&i| ledger.ciphertexts[i].cycle + 1 >= cycle)
                .collect()
        };
        if !full {
            for _ in 0..config.sample.min(count) {
                check.push(rng.index(count));
            }
        }
        for i in check {
            report.decrypts_checked += 1;
            check_ciphertext(client, &ledger.ciphertexts[i], out);
        }
    }
}

fn uncertain(key: &KeyModel) -> bool {
    key.enabled.known().is_none()
        || key.policy_id.known().is_none()
        || key.rotations.known().is_none()
        || key.tags.values().any(|f| f.known().is_none())
}

/// Checks one key against its model; returns how many uncertain writes
/// turned out applied.
fn check_key(client: &mut Client, key: &mut KeyModel, out: &mut Vec<String>) -> u64 {
    let id = key.key_id.clone();
    let mut applied = 0;
    let mut count = |r: Option<bool>| applied += u64::from(r == Some(true));
    let meta = match client.call("DescribeKey", &json!({"KeyId": id})) {
        Ok(v) => v["KeyMetadata"].clone(),
        Err(e) => {
            out.push(format!("LOST: key {id} (acknowledged CreateKey): {e}"));
            return 0;
        }
    };
    if meta["Description"].as_str() != Some(&key.description) {
        out.push(format!(
            "LOST: key {id} description: {}",
            meta["Description"]
        ));
    }
    let state = meta["KeyState"].as_str().unwrap_or("?");
    let observed = match state {
        "Enabled" => true,
        "Disabled" => false,
        other => {
            out.push(format!("key {id} in unexpected state {other}"));
            return 0;
        }
    };
    count(
        key.enabled
            .settle(observed, &format!("key {id} enabled"), out),
    );

    match client.call("ListResourceTags", &json!({"KeyId": id, "Limit": 50})) {
        Ok(v) => {
            let found: BTreeMap<String, String> = v["Tags"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|t| {
                            let k = t["TagKey"].as_str().unwrap_or("").to_owned();
                            let v = t["TagValue"].as_str().unwrap_or("").to_owned();
                            (k, v)
                        })
                        .collect()
                })
                .unwrap_or_default();
            for (tag_key, fact) in key.tags.iter_mut() {
                let observed = found.get(tag_key).cloned();
                count(fact.settle(observed, &format!("key {id} tag {tag_key}"), out));
            }
        }
        Err(e) => out.push(format!("ListResourceTags {id}: {e}")),
    }

    match client.call(
        "GetKeyPolicy",
        &json!({"KeyId": id, "PolicyName": "default"}),
    ) {
        Ok(v) => {
            let policy: Value =
                serde_json::from_str(v["Policy"].as_str().unwrap_or("")).unwrap_or_default();
            let observed = policy["Id"].as_str().unwrap_or("").to_owned();
            count(
                key.policy_id
                    .settle(observed, &format!("key {id} policy"), out),
            );
        }
        Err(e) => out.push(format!("GetKeyPolicy {id}: {e}")),
    }

    let current = match client.call("ListKeyRotations", &json!({"KeyId": id, "Limit": 100})) {
        Ok(v) => {
            let rotations = v["Rotations"].as_array().cloned().unwrap_or_default();
            let observed = rotations
                .iter()
                .filter(|r| r["RotationType"] == "ON_DEMAND")
                .count() as u32;
            count(
                key.rotations
                    .settle(observed, &format!("key {id} rotations"), out),
            );
            rotations
                .iter()
                .find(|r| r["KeyMaterialState"] == "CURRENT")
                .and_then(|r| r["KeyMaterialId"].as_str())
                .map(str::to_owned)
        }
        Err(e) => {
            out.push(format!("ListKeyRotations {id}: {e}"));
            None
        }
    };
    // The current material is usable, and is the one Encrypt uses.
    let expected_material =
        current.or_else(|| meta["CurrentKeyMaterialId"].as_str().map(str::to_owned));
    if observed {
        round_trip(client, &id, expected_material.as_deref(), out);
    }
    applied
}

/// Encrypt then Decrypt under `key_id`; the material used must be `material`.
fn round_trip(client: &mut Client, key_id: &str, material: Option<&str>, out: &mut Vec<String>) {
    let plaintext = format!("round trip {key_id}");
    let body = json!({"KeyId": key_id, "Plaintext": b64(plaintext.as_bytes())});
    let blob = match client.call("Encrypt", &body) {
        Ok(v) => Reply::blob(&v, "CiphertextBlob").unwrap_or_default(),
        Err(e) => {
            out.push(format!("HALF-APPLIED: key {key_id} cannot encrypt: {e}"));
            return;
        }
    };
    match client.call("Decrypt", &json!({"CiphertextBlob": b64(&blob)})) {
        Ok(v) => {
            if Reply::blob(&v, "Plaintext").as_deref() != Some(plaintext.as_bytes()) {
                out.push(format!("key {key_id}: round trip gave the wrong plaintext"));
            }
            if let Some(m) = material
                && v["KeyMaterialId"].as_str() != Some(m)
            {
                out.push(format!(
                    "HALF-APPLIED: key {key_id} encrypts with material {} but its current material is {m}",
                    v["KeyMaterialId"]
                ));
            }
        }
        Err(e) => out.push(format!(
            "HALF-APPLIED: key {key_id} cannot decrypt its own ciphertext: {e}"
        )),
    }
}

fn check_aliases(
    client: &mut Client,
    ledger: &mut Ledger,
    out: &mut Vec<String>,
    applied: &mut u64,
) {
    for (name, fact) in ledger.aliases.iter_mut() {
        let observed = match client.call("DescribeKey", &json!({"KeyId": name})) {
            Ok(v) => v["KeyMetadata"]["KeyId"].as_str().map(str::to_owned),
            Err(e) if e.error_type() == Some("NotFoundException") => None,
            Err(e) => {
                out.push(format!("DescribeKey {name}: {e}"));
                continue;
            }
        };
        if fact.settle(observed, &format!("alias {name}"), out) == Some(true) {
            *applied += 1;
        }
    }
    ledger.aliases.retain(|_, f| f != &Fact::Known(None));
}

fn check_ciphertext(client: &mut Client, c: &Ciphertext, out: &mut Vec<String>) {
    let body = json!({"CiphertextBlob": b64(&c.blob), "EncryptionContext": c.context});
    match client.call("Decrypt", &body) {
        Ok(v) => {
            if Reply::blob(&v, "Plaintext").as_deref() != Some(&c.plaintext[..]) {
                out.push(format!(
                    "LOST: a ciphertext under {} decrypts to other bytes",
                    c.key_id
                ));
            }
            if v["KeyId"].as_str().is_none_or(|k| !k.ends_with(&c.key_id)) {
                out.push(format!(
                    "a ciphertext under {} names key {}",
                    c.key_id, v["KeyId"]
                ));
            }
        }
        Err(e) => out.push(format!(
            "LOST: a ciphertext under {} no longer decrypts: {e}",
            c.key_id
        )),
    }
}

/// Finds keys no client was told about: each must come from a CreateKey in
/// flight at a kill, and be complete. Adopts them into their worker's ledger.
fn adopt_unacknowledged_keys(
    client: &mut Client,
    ledgers: &mut [Ledger],
    out: &mut Vec<String>,
    applied: &mut u64,
) {
    let known: BTreeSet<String> = ledgers
        .iter()
        .flat_map(|l| l.keys.iter().map(|k| k.key_id.clone()))
        .collect();
    let mut marker: Option<String> = None;
    let mut all = Vec::new();
    for _ in 0..10_000 {
        let mut body = json!({"Limit": 1000});
        if let Some(m) = &marker {
            body["Marker"] = json!(m);
        }
        match client.call("ListKeys", &body) {
            Ok(v) => {
                for k in v["Keys"].as_array().cloned().unwrap_or_default() {
                    all.extend(k["KeyId"].as_str().map(str::to_owned));
                }
                marker = v["NextMarker"].as_str().map(str::to_owned);
                if marker.is_none() {
                    break;
                }
            }
            Err(e) => {
                out.push(format!("ListKeys: {e}"));
                return;
            }
        }
    }
    for key_id in all.into_iter().filter(|k| !known.contains(k)) {
        let meta = match client.call("DescribeKey", &json!({"KeyId": key_id})) {
            Ok(v) => v["KeyMetadata"].clone(),
            Err(e) => {
                out.push(format!(
                    "HALF-APPLIED: listed key {key_id} cannot be described: {e}"
                ));
                continue;
            }
        };
        let description = meta["Description"].as_str().unwrap_or("").to_owned();
        let Some(ledger) = ledgers
            .iter_mut()
            .find(|l| l.pending_creates.contains(&description))
        else {
            out.push(format!(
                "UNEXPLAINED: key {key_id} ({description:?}) was never requested"
            ));
            continue;
        };
        ledger.pending_creates.remove(&description);
        *applied += 1;
        let mut model = new_model(&key_id, &description);
        check_key(client, &mut model, out);
        ledger.keys.push(model);
    }
    for ledger in ledgers.iter_mut() {
        ledger.pending_creates.clear();
    }
}

fn quick_check(dir: &Path, out: &mut Vec<String>, pragma: &str) {
    let path = dir.join("trent.db");
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let result = rusqlite::Connection::open_with_flags(&path, flags).and_then(|conn| {
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.query_row(&format!("PRAGMA {pragma}"), [], |row| {
            row.get::<_, String>(0)
        })
    });
    match result {
        Ok(s) if s == "ok" => {}
        Ok(s) => out.push(format!("CORRUPT: {pragma}: {s}")),
        Err(e) => out.push(format!("CORRUPT: {pragma} could not run: {e}")),
    }
}

fn integrity_check(dir: &Path, out: &mut Vec<String>) {
    quick_check(dir, out, "integrity_check");
}
