//! A short run of every target on stable, within the test command: the seeds
//! (and a fuzzing run's corpus, where present), then mutations of them (bit flips, byte
//! runs, cuts, repeats, splices, boundary numbers) for a few seconds each.
//! Coverage-guided fuzzing is `cargo fuzz`'s job; this keeps what it found
//! fixed and catches a plain regression.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use webclip::rng::Rng;

use super::{TARGETS, Target};

/// Each target's share of the run ("a minute in all").
const TIME_PER_TARGET: Duration = Duration::from_secs(10);
/// Inputs never grow past this (the seeds are smaller).
const MAX_LEN: usize = 64 * 1024;

fn corpus(target: Target) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target.name());
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| std::fs::read(entry.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    inputs.extend(target.seeds());
    inputs
}

/// One mutation of `input`, sometimes spliced with `other`.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        let at = rng.below(len + 1);
        match rng.below(7) {
            0 if len > 0 => out[at.min(len - 1)] ^= 1 << rng.below(8),
            1 if len > 0 => out[at.min(len - 1)] = rng.next_u64() as u8,
            2 => out.truncate(at),
            3 => {
                let end = (at + 1 + rng.below(16)).min(len);
                let run = out[at.min(end)..end].to_vec();
                out.splice(at..at, run);
            }
            4 => {
                let from = rng.below(other.len() + 1);
                let end = (from + rng.below(64)).min(other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            5 => {
                let boundary = *rng.pick(&[0u64, 1, 0x7f, 0xff, 0xffff, u32::MAX as u64, u64::MAX]);
                let bytes = boundary.to_le_bytes();
                let width = *rng.pick(&[1usize, 2, 4, 8]);
                let end = (at + width).min(len);
                out.splice(at..end, bytes[..width].iter().copied());
            }
            _ => {
                let digits =
                    rng.pick(&["-1", "0", "1e308", "4294967296", "null", "[]", "{}", "\""]);
                out.splice(at..at, digits.bytes());
            }
        }
    }
    out.truncate(MAX_LEN);
    out
}

#[test]
fn every_target_survives_a_short_run() {
    for target in TARGETS {
        let inputs = corpus(target);
        for input in &inputs {
            target.run(input);
        }
        let mut rng = Rng::new(0xf022 ^ target as u64);
        let start = Instant::now();
        let mut runs = inputs.len();
        while start.elapsed() < TIME_PER_TARGET {
            let input = rng.pick(&inputs);
            let other = rng.pick(&inputs);
            let mutated = mutate(&mut rng, input, other);
            let outcome = std::panic::catch_unwind(|| target.run(&mutated));
            if outcome.is_err() {
                let path =
                    std::env::temp_dir().join(format!("webclip-fuzz-{}-crash", target.name()));
                std::fs::write(&path, &mutated).expect("write the crashing input");
                panic!(
                    "{} failed on the input saved in {}",
                    target.name(),
                    path.display()
                );
            }
            runs += 1;
        }
        eprintln!("{}: {runs} inputs in {:?}", target.name(), start.elapsed());
    }
}

/// Writes every target's seeds to `$WEBCLIP_FUZZ_SEEDS/TARGET/`, the second
/// corpus folder of `cargo fuzz run` (the first, `fuzz/corpus/TARGET`, keeps
/// what fuzzing finds).
#[test]
#[ignore = "run by hand before fuzzing"]
fn write_seeds() {
    let root = PathBuf::from(std::env::var("WEBCLIP_FUZZ_SEEDS").expect("WEBCLIP_FUZZ_SEEDS"));
    for target in TARGETS {
        let dir = root.join(target.name());
        std::fs::create_dir_all(&dir).unwrap();
        for (i, seed) in target.seeds().iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed).unwrap();
        }
    }
}
