//! Project tasks, run as `cargo xtask <task>`:
//!
//! - `test`: installs what the tests need (Mesa's Vulkan driver, so the wgpu
//!   tests run on a real driver even without a GPU; Chromium for the browser
//!   tests) and runs every test: the Rust tests, then the page's in headless
//!   Chromium.
//! - `test-web`: the browser tests alone.
//! - `bench [REPEATS] [ROUNDS]`: times webclip's encoders on the CPU beside
//!   PyTorch and onnxruntime on the same random ViT-B/32-shaped model, in
//!   alternating rounds (3), and prints ratios.
//! - `bench-web [--quick | --large] [--cpu-only | --webgpu-only] [--profile] [--photos]`: webclip beside
//!   transformers.js in one headless Chromium, on the CPU and WebGPU
//!   (`--quick`: a small model; `--profile`: where webclip's time goes;
//!   `--photos`: indexing and searching a photo collection instead).
//! - `dist`: builds the web page into `dist/` (any static host can serve it).
//! - `serve [PORT]`: `dist`, then serves it on localhost.

mod web;

use std::path::Path;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("test-web") => install_system_packages().and_then(|()| web::test_browser()),
        Some("bench") => match args.get(2).map_or(Ok(3), |r| r.parse()) {
            Ok(rounds) => bench(args.get(1).map_or("10", String::as_str), rounds),
            Err(_) => Err("ROUNDS must be a number".into()),
        },
        Some("bench-web") => {
            install_system_packages().and_then(|()| web::bench_browser(&args[1..]))
        }
        Some("dist") => web::dist(false).map(|_| ()),
        Some("serve") => match args.get(1).map_or(Ok(8000), |p| p.parse()) {
            Ok(port) => web::serve(port),
            Err(_) => Err("the port must be a number".into()),
        },
        _ => {
            eprintln!(
                "usage: cargo xtask test [cargo test args] | test-web | bench [REPEATS] [ROUNDS] | bench-web [--quick | --large] [--cpu-only | --webgpu-only] [--profile] [--photos] | dist | serve [PORT]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    match status.success() {
        true => Ok(()),
        false => Err(format!("{command:?} failed ({status})")),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Debian packages the tests need, by a file each one installs.
const SYSTEM_PACKAGES: &[(&str, &str)] = &[
    (
        "mesa-vulkan-drivers",
        "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
    ),
    // Ships SwiftShader, so WebGPU runs headless without a GPU.
    ("chromium", "/usr/bin/chromium"),
];

fn install_system_packages() -> Result<(), String> {
    let missing: Vec<&str> = SYSTEM_PACKAGES
        .iter()
        .filter(|(_, file)| !Path::new(file).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() || !Path::new("/usr/bin/apt-get").exists() {
        return Err(format!(
            "the tests need these Debian packages: {}",
            missing.join(" ")
        ));
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn test(extra: &[String]) -> Result<(), String> {
    install_system_packages()?;
    let mut cargo = cargo();
    // Not xtask: testing it together with webclip would unify their
    // dependencies' features and build much of the tree a second time. The
    // fuzz targets' short run shares webclip's build.
    cargo
        .args(["test", "-p", "webclip", "-p", "webclip-fuzz"])
        .args(extra);
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        cargo.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    run(&mut cargo)?;
    web::test_browser()
}

const FIXTURES: &str = "tests/fixtures";
/// Random benchmark models (not committed), by make_fixtures.py's shape name.
const BENCH_MODELS: &str = "tests/fixtures/big";
const BENCH_IMAGE: &str = "tests/fixtures/images/chelsea.png";

/// Runs `command` and parses the JSON object its last stdout line holds.
fn json_of(command: &mut Command) -> Result<serde_json::Value, String> {
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{command:?} failed ({})", output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).map_err(|e| format!("{command:?} printed no JSON ({e}): {stdout}"))
}

/// The workspace root: every path below is relative to it. `cargo run`
/// names xtask's folder at run time; the one compiled in is the fallback,
/// and goes stale when a build is reused from another checkout.
fn root() -> std::path::PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    manifest_dir.parent().unwrap().to_path_buf()
}

/// The Python environment of the reference runtimes (several GB), made
/// when missing; returns its interpreter.
fn python() -> Result<String, String> {
    let python = root().join(FIXTURES).join(".venv/bin/python");
    if !python.exists() {
        eprintln!("xtask: making the Python environment of the reference runtimes (several GB)");
        let venv = root().join(FIXTURES).join(".venv");
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        run(Command::new(&python)
            .args(["-m", "pip", "install", "-q", "-r"])
            .arg(root().join(FIXTURES).join("requirements.txt")))?;
    }
    Ok(python.display().to_string())
}

/// The random model of make_fixtures.py's `shape` with its ONNX export (none
/// for ViT-L/14@336, which no peer runs) in `BENCH_MODELS/name`, written when
/// missing; returns its folder.
fn bench_model(name: &str, shape: &str) -> Result<std::path::PathBuf, String> {
    let dir = root().join(BENCH_MODELS).join(name);
    let last_written = match shape {
        "vit-l-14-336" => "model.safetensors",
        _ => "onnx/text_model.onnx",
    };
    if !dir.join(last_written).exists() {
        eprintln!(
            "xtask: writing a random model of shape {shape} to {}",
            dir.display()
        );
        run(Command::new(python()?)
            .arg(root().join(FIXTURES).join("make_fixtures.py"))
            .arg("--bench-model")
            .arg(&dir)
            .args(["--bench-shape", shape]))?;
    }
    Ok(dir)
}

/// webclip's CPU encoders beside PyTorch and onnxruntime, in `rounds` that
/// alternate the systems (a shared machine's speed drifts over minutes), each
/// system's medians then the median over rounds.
fn bench(repeats: &str, rounds: usize) -> Result<(), String> {
    std::env::set_current_dir(root()).map_err(|e| e.to_string())?;
    // Absolute paths: cargo runs benchmarks from the package's own folder.
    let at_root = |path: &str| root().join(path).display().to_string();
    let python = python()?;
    let model = bench_model("clip-b32", "vit-b-32")?.display().to_string();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .to_string();
    let mut results: Vec<(serde_json::Value, serde_json::Value)> = Vec::new();
    for round in 1..=rounds {
        eprintln!("bench: round {round} of {rounds}");
        let ours = json_of(
            cargo()
                .args(["bench", "--profile", "dev", "-p", "webclip"])
                .args(["--bench", "encode", "--"])
                .args([model.as_str(), at_root(BENCH_IMAGE).as_str(), repeats]),
        )?;
        let peers = json_of(Command::new(&python).args([
            &format!("{FIXTURES}/bench_peers.py"),
            "--model",
            &model,
            "--threads",
            &threads,
            "--repeats",
            repeats,
        ]))?;
        results.push((ours, peers));
    }
    println!(
        "one 224x224 image and 8 prompts, CPU, {threads} threads; ms, median over {rounds} alternating rounds of medians of {repeats}; ratio = webclip / peer (below 1: webclip is faster)"
    );
    let median = |mut values: Vec<f64>| -> Option<f64> {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied()
    };
    let over_rounds = |pick: &dyn Fn(&(serde_json::Value, serde_json::Value)) -> Option<f64>| {
        median(results.iter().filter_map(pick).collect())
    };
    for key in ["image_ms", "text8_ms"] {
        let mine = over_rounds(&|(ours, _)| ours["webclip"][key].as_f64())
            .ok_or("webclip's result is incomplete")?;
        let mut line = format!("{key:>9}: webclip {mine:7.1}");
        for peer in ["torch", "onnxruntime"] {
            for peer_key in [key.to_string(), key.replace("_ms", "_longest_ms")] {
                if let Some(theirs) = over_rounds(&|(_, peers)| peers[peer][&peer_key].as_f64()) {
                    let padded = match peer_key.contains("longest") {
                        true => " (padded to longest)",
                        false => "",
                    };
                    line.push_str(&format!(
                        " | {peer}{padded} {theirs:7.1} ({:.2})",
                        mine / theirs
                    ));
                }
            }
        }
        println!("{line}");
    }
    for (round, (ours, peers)) in results.iter().enumerate() {
        println!(
            "round {}: webclip: {ours}\n         peers: {peers}",
            round + 1
        );
    }
    Ok(())
}
