//! The audit log from the command line: how `trent serve` writes it (flags)
//! and `trent audit verify|tail|query|export|public-key` for operators.
//! Reading records needs the root key (the same seal as `serve`); `verify
//! --public-key` checks chains and signatures without it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use trent_audit::query::{self, Filter, StoredRecord};
use trent_audit::verify::{self, Trust};
use trent_audit::{AuditConfig, AuditKeys, Durability, PublicKey, checkpoint_meta};

use crate::SealArgs;
use crate::data_dir::{open_root, open_store, store_path};

/// When a record counts as written (`--audit-durability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DurabilityChoice {
    /// Written to the OS before the answer; fsync'd within 100 ms.
    Buffered,
    /// fsync'd before the answer.
    Strict,
}

/// Audit settings of `trent serve`.
#[derive(Debug, Clone, Args)]
pub(crate) struct AuditArgs {
    /// Directory of the audit log (default DATA_DIR/audit).
    #[arg(long, env = "TRENT_AUDIT_DIR")]
    pub(crate) audit_dir: Option<PathBuf>,
    /// This node's id in the log (default: generated once, kept in
    /// AUDIT_DIR/node-id). Nodes sharing a store need distinct ids.
    #[arg(long, env = "TRENT_AUDIT_NODE_ID")]
    pub(crate) audit_node_id: Option<String>,
    /// `buffered`: records reach the OS before each answer and disk within
    /// 100 ms; `strict`: records reach disk before each answer.
    #[arg(long, value_enum, default_value_t = DurabilityChoice::Buffered, env = "TRENT_AUDIT_DURABILITY")]
    pub(crate) audit_durability: DurabilityChoice,
    /// Start a new segment when the current one reaches this many bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024, env = "TRENT_AUDIT_SEGMENT_BYTES")]
    pub(crate) audit_segment_bytes: u64,
    /// Start a new segment when the current one is this old (e.g. 1d, 6h).
    #[arg(long, default_value = "1d", value_parser = parse_duration, env = "TRENT_AUDIT_SEGMENT_AGE")]
    pub(crate) audit_segment_age: Duration,
    /// Delete closed segments older than this (e.g. 365d); default: keep.
    #[arg(long, value_parser = parse_duration, env = "TRENT_AUDIT_RETAIN_AGE")]
    pub(crate) audit_retain_age: Option<Duration>,
    /// Delete the oldest closed segments while the log is larger than this
    /// many bytes; default: no limit.
    #[arg(long, env = "TRENT_AUDIT_RETAIN_BYTES")]
    pub(crate) audit_retain_bytes: Option<u64>,
    /// How often a signed checkpoint is written while records arrive.
    #[arg(long, default_value = "1s", value_parser = parse_duration, env = "TRENT_AUDIT_CHECKPOINT_INTERVAL")]
    pub(crate) audit_checkpoint_interval: Duration,
}

impl AuditArgs {
    /// The log's configuration for a node on `data_dir`.
    pub(crate) fn config(&self, data_dir: &Path) -> Result<AuditConfig, String> {
        let dir = audit_dir(data_dir, self.audit_dir.as_deref());
        let node = match &self.audit_node_id {
            Some(id) => id.clone(),
            None => trent_audit::local_node_id(&dir).map_err(|e| e.to_string())?,
        };
        let mut config = AuditConfig::new(dir, node);
        config.durability = match self.audit_durability {
            DurabilityChoice::Buffered => Durability::Buffered,
            DurabilityChoice::Strict => Durability::Strict,
        };
        config.segment_max_bytes = self.audit_segment_bytes;
        config.segment_max_age = self.audit_segment_age;
        config.retain_age = self.audit_retain_age;
        config.retain_bytes = self.audit_retain_bytes;
        config.checkpoint_interval = self.audit_checkpoint_interval;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }
}

fn audit_dir(data_dir: &Path, explicit: Option<&Path>) -> PathBuf {
    explicit.map_or_else(|| data_dir.join("audit"), Path::to_path_buf)
}

/// `90s`, `15m`, `6h`, `30d` (or plain seconds).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 90s, 15m, 6h, 30d"))?;
    let seconds = match unit {
        "" | "s" => n,
        "ms" => return Ok(Duration::from_millis(n)),
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => {
            return Err(format!(
                "'{text}': unknown unit '{unit}' (use ms, s, m, h, d)"
            ));
        }
    };
    Ok(Duration::from_secs(seconds))
}

/// `trent audit …`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check every chain, checkpoint and the store's checkpoint; report the
    /// first broken or missing record. Exits 1 if anything is wrong.
    Verify(VerifyArgs),
    /// Print the newest records (JSON lines); --follow keeps printing.
    Tail(TailArgs),
    /// Print the records matching filters (JSON lines).
    Query(QueryArgs),
    /// Write records (JSON lines) to a file or stdout.
    Export(ExportArgs),
    /// Print the checkpoint verification key (PEM), for `verify --public-key`.
    PublicKey(LogArgs),
}

/// Where the log and its store are.
#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// Data directory.
    #[arg(long, default_value = "./trent-data", env = "TRENT_DATA_DIR")]
    pub(crate) data_dir: PathBuf,
    /// Directory of the audit log (default DATA_DIR/audit).
    #[arg(long, env = "TRENT_AUDIT_DIR")]
    pub(crate) audit_dir: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) seal: SealArgs,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    /// Verify with this public key (from `trent audit public-key`) instead
    /// of unsealing: chains and signatures only, records stay encrypted.
    #[arg(long)]
    pub(crate) public_key: Option<PathBuf>,
    /// Also expect this node's chain (repeatable); this data dir's own node
    /// is always expected.
    #[arg(long)]
    pub(crate) node: Vec<String>,
}

/// Record filters.
#[derive(Debug, Clone, Args)]
pub(crate) struct FilterArgs {
    /// Only this node's records.
    #[arg(long)]
    pub(crate) node: Option<String>,
    /// Written at or after: RFC 3339, Unix seconds, or an age like 1h.
    #[arg(long, value_parser = parse_time)]
    pub(crate) since: Option<i64>,
    /// Written before: RFC 3339, Unix seconds, or an age like 10m.
    #[arg(long, value_parser = parse_time)]
    pub(crate) until: Option<i64>,
    /// Concerning this key (id, ARN, or alias in the request).
    #[arg(long)]
    pub(crate) key: Option<String>,
    /// Made by this principal (ARN, access key id or account id).
    #[arg(long)]
    pub(crate) principal: Option<String>,
    /// This operation (eventName).
    #[arg(long)]
    pub(crate) operation: Option<String>,
    /// With this error code, or `any` for every failed request.
    #[arg(long)]
    pub(crate) error: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> Filter {
        Filter {
            node: self.node.clone(),
            since_ms: self.since,
            until_ms: self.until,
            key: self.key.clone(),
            principal: self.principal.clone(),
            operation: self.operation.clone(),
            error: self.error.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// How many records.
    #[arg(short = 'n', long, default_value_t = 10)]
    pub(crate) lines: usize,
    /// Keep printing new records.
    #[arg(short, long)]
    pub(crate) follow: bool,
}

#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// At most this many records.
    #[arg(long)]
    pub(crate) limit: Option<usize>,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Write here (mode 0600) instead of stdout.
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
}

/// Unix ms from RFC 3339, Unix seconds, or an age (`1h` = an hour ago).
fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(at) =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
    {
        return Ok((at.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs.saturating_mul(1000));
    }
    let age = parse_duration(text)
        .map_err(|_| format!("'{text}' is not RFC 3339, Unix seconds or an age like 1h"))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    Ok(now as i64 - age.as_millis() as i64)
}

pub(crate) fn run(command: AuditCommand) -> Result<(), String> {
    match command {
        AuditCommand::Verify(args) => verify(args),
        AuditCommand::Tail(args) => tail(args),
        AuditCommand::Query(args) => query(args),
        AuditCommand::Export(args) => export(args),
        AuditCommand::PublicKey(args) => {
            let keys = open_keys(&args)?;
            let pk = keys.public_key();
            print!("{}", pk.to_pem());
            eprintln!(
                "fingerprint (SHA-256, first 16 bytes): {}",
                pk.fingerprint()
            );
            Ok(())
        }
    }
}

/// Opens an existing store (never creating one).
fn existing_store(args: &LogArgs) -> Result<std::sync::Arc<dyn trent_store::Store>, String> {
    if crate::data_dir::store_is_local() && !store_path(&args.data_dir).exists() {
        return Err(format!("no Trent store in {}", args.data_dir.display()));
    }
    open_store(&args.data_dir)
}

fn open_keys(args: &LogArgs) -> Result<AuditKeys, String> {
    let store = existing_store(args)?;
    let root = open_root(&args.data_dir, store.as_ref(), &args.seal)?;
    AuditKeys::load(store.as_ref(), &root)
        .map_err(|e| format!("reading the audit keys: {e}"))?
        .ok_or_else(|| "this store has no audit log yet (start `trent serve` once)".into())
}

fn verify(args: VerifyArgs) -> Result<(), String> {
    let store = existing_store(&args.log)?;
    let dir = audit_dir(&args.log.data_dir, args.log.audit_dir.as_deref());
    let (keys, public_key) = match &args.public_key {
        Some(path) => {
            let pem =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            (
                None,
                PublicKey::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?,
            )
        }
        None => {
            let keys = open_keys(&args.log)?;
            let pk = keys.public_key();
            (Some(keys), pk)
        }
    };
    let mut expected = args.node.clone();
    if let Ok(id) = std::fs::read_to_string(dir.join("node-id")) {
        expected.push(id.trim().to_owned());
    }
    let trust = Trust {
        public_key: &public_key,
        keys: keys.as_ref(),
    };
    let stored = |node: &str| -> trent_audit::Result<Option<Vec<u8>>> {
        Ok(store.get_meta(&checkpoint_meta(node))?)
    };
    let reports = verify::verify_dir(&dir, trust, &expected, &stored).map_err(|e| e.to_string())?;
    if reports.is_empty() {
        println!("no audit log in {}", dir.display());
        return Ok(());
    }
    let mut failed = false;
    for report in &reports {
        print_report(report, keys.is_some());
        failed |= !report.ok();
    }
    if failed {
        Err("the audit log failed verification".into())
    } else {
        Ok(())
    }
}

fn print_report(report: &verify::NodeReport, decrypted: bool) {
    let range = report.range.map_or_else(
        || "no records".to_owned(),
        |(a, b)| format!("records {a}..={b}"),
    );
    println!(
        "node {}: {} in {} segment(s), {} checkpoint(s){}",
        report.node,
        range,
        report.segments,
        report.checkpoints,
        if decrypted {
            format!(", {} decrypted", report.decrypted)
        } else {
            " (signatures only: records not decrypted)".to_owned()
        }
    );
    if let Some(cp) = &report.newest_checkpoint {
        println!(
            "  newest checkpoint covers record {} (retention keeps from {})",
            cp.seq, cp.first_seq
        );
    }
    for note in &report.notes {
        println!("  note: {note}");
    }
    match report.first_problem() {
        None => println!("  OK: chain intact"),
        Some(first) => {
            println!(
                "  FAILED: first broken or missing record: {} ({}): {}",
                first.seq, first.location, first.what
            );
            for p in report.problems.iter().skip(1).take(20) {
                println!("  also: record {} ({}): {}", p.seq, p.location, p.what);
            }
        }
    }
}

fn print_record(out: &mut dyn Write, record: &StoredRecord) -> Result<(), String> {
    serde_json::to_writer(&mut *out, &record.event)
        .map_err(|e| e.to_string())
        .and_then(|()| writeln!(out).map_err(|e| e.to_string()))
}

fn tail(args: TailArgs) -> Result<(), String> {
    let keys = open_keys(&args.log)?;
    let dir = audit_dir(&args.log.data_dir, args.log.audit_dir.as_deref());
    let filter = args.filter.filter();
    let mut newest = std::collections::VecDeque::new();
    query::scan(&dir, &keys, &filter, &mut |r| {
        if newest.len() == args.lines {
            newest.pop_front();
        }
        if args.lines > 0 {
            newest.push_back(r);
        }
        true
    })
    .map_err(|e| e.to_string())?;
    let mut records: Vec<_> = newest.into_iter().collect();
    records.sort_by_key(|r| r.time_ms);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for r in &records {
        print_record(&mut out, r)?;
    }
    out.flush().map_err(|e| e.to_string())?;
    if !args.follow {
        return Ok(());
    }
    let mut cursors = std::collections::BTreeMap::new();
    // Skip what is already printed: read to the end once.
    query::follow(&dir, &keys, &filter, &mut cursors, &mut |_| {}).map_err(|e| e.to_string())?;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let mut failed = None;
        query::follow(&dir, &keys, &filter, &mut cursors, &mut |r| {
            if failed.is_none()
                && let Err(e) = print_record(&mut out, &r)
            {
                failed = Some(e);
            }
        })
        .map_err(|e| e.to_string())?;
        if let Some(e) = failed {
            return Err(e);
        }
        out.flush().map_err(|e| e.to_string())?;
    }
}

fn query(args: QueryArgs) -> Result<(), String> {
    let keys = open_keys(&args.log)?;
    let dir = audit_dir(&args.log.data_dir, args.log.audit_dir.as_deref());
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut printed = 0;
    let mut failed = None;
    query::scan(&dir, &keys, &args.filter.filter(), &mut |r| {
        if let Err(e) = print_record(&mut out, &r) {
            failed = Some(e);
            return false;
        }
        printed += 1;
        args.limit.is_none_or(|limit| printed < limit)
    })
    .map_err(|e| e.to_string())?;
    failed.map_or(Ok(()), Err)
}

fn export(args: ExportArgs) -> Result<(), String> {
    let keys = open_keys(&args.log)?;
    let dir = audit_dir(&args.log.data_dir, args.log.audit_dir.as_deref());
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            Box::new(std::io::BufWriter::new(
                options
                    .open(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
            ))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut count = 0u64;
    let mut failed = None;
    query::scan(&dir, &keys, &args.filter.filter(), &mut |r| {
        if let Err(e) = print_record(&mut *out, &r) {
            failed = Some(e);
            return false;
        }
        count += 1;
        true
    })
    .map_err(|e| e.to_string())?;
    if let Some(e) = failed {
        return Err(e);
    }
    out.flush().map_err(|e| e.to_string())?;
    if let Some(path) = &args.output {
        eprintln!("exported {count} records to {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_parse() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("1y").is_err());
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000_000);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000
        );
        assert!(parse_time("1h").unwrap() < parse_time("1m").unwrap());
    }
}
