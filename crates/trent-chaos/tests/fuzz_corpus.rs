//! The fuzz targets' checks on stable Rust: every seed of `fuzz/corpus/`
//! (and any crash reproducer saved in `fuzz/regressions/`), plus a few
//! thousand seeded mutations of them, through the same functions the
//! cargo-fuzz targets call. CI runs this; `scripts/fuzz.sh` runs the real
//! fuzzers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use trent_chaos::fuzz_checks;
use trent_chaos::rng::Rng;

/// A fuzz target's check.
type Check = fn(&[u8]);

const TARGETS: &[(&str, Check)] = &[
    ("request_decoder", fuzz_checks::request_decoder),
    ("sigv4", fuzz_checks::sigv4_parse_verify),
    ("ciphertext", fuzz_checks::ciphertext_parser),
    ("policy", fuzz_checks::policy_document),
    ("wrapped_key", fuzz_checks::wrapped_key),
];

const MUTATIONS_PER_SEED: usize = 300;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.index(8) {
        let at = rng.index(data.len() + 1);
        match rng.below(5) {
            0 if !data.is_empty() => {
                let i = rng.index(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                data.remove(at.min(data.len() - 1));
            }
            2 => data.insert(at, rng.below(256) as u8),
            3 => data.truncate(at),
            _ => {
                let n = rng.index(16);
                let chunk = rng.bytes(n);
                data.splice(at..at, chunk);
            }
        }
    }
    data
}

#[test]
fn seed_corpora_and_their_mutations_pass_every_check() {
    let mut rng = Rng::new(0x7e57_c0de);
    let mut total = 0;
    for (name, check) in TARGETS {
        let seeds = files(&fuzz_dir().join("corpus").join(name));
        assert!(!seeds.is_empty(), "no seed corpus for {name}");
        let regressions = files(&fuzz_dir().join("regressions").join(name));
        for input in seeds.iter().chain(regressions.iter()) {
            check(input);
            total += 1;
        }
        for seed in &seeds {
            for _ in 0..MUTATIONS_PER_SEED {
                check(&mutate(&mut rng, seed));
                total += 1;
            }
        }
    }
    assert!(total > 10_000, "{total}");
}
