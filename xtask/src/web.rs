//! The web page: `dist` builds the wasm module and writes a static site to
//! `dist/`; `serve` does that and serves it on localhost.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo, root, run};

/// The wasm module's name inside `dist/pkg/`; the page's own API module is
/// `webclip.js`.
const MODULE: &str = "webclip_wasm";

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

fn ensure_wasm_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("wasm32-unknown-unknown"))
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Builds the wasm module (release-sized `web` profile), generates its
/// JavaScript bindings and copies the page: everything a static host needs.
/// Function names stay in the module only with `keep_names` (for profiles):
/// they are over a sixth of the download.
pub fn dist(keep_names: bool) -> Result<PathBuf, String> {
    ensure_wasm_target()?;
    run(cargo().current_dir(root()).args([
        "rustc",
        "-p",
        "webclip",
        "--lib",
        "--target",
        "wasm32-unknown-unknown",
        "--no-default-features",
        "--profile",
        "web",
        "--crate-type",
        "cdylib",
    ]))?;
    let wasm = target_dir().join("wasm32-unknown-unknown/web/webclip.wasm");
    let dist = root().join("dist");
    let _ = std::fs::remove_dir_all(&dist);
    copy_dir(&root().join("www"), &dist)?;
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)
        .map_err(|e| e.to_string())?
        .remove_name_section(!keep_names)
        .typescript(true)
        .out_name(MODULE)
        .generate(dist.join("pkg"))
        .map_err(|e| format!("wasm-bindgen: {e}"))?;
    eprintln!("xtask: wrote {}", dist.display());
    Ok(dist)
}

/// `dist`, then serves it on localhost.
pub fn serve(port: u16) -> Result<(), String> {
    let dist = dist(false)?;
    let listener =
        TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("port {port}: {e}"))?;
    eprintln!("xtask: serving http://127.0.0.1:{port}/ (Ctrl-C stops)");
    serve_on(listener, dist);
    Ok(())
}

/// Serves `dist` (and, under `/fixtures/`, the test fixtures) with the
/// headers any static host sends (the page needs no cross-origin
/// isolation), until the process ends.
fn serve_on(listener: TcpListener, dist: PathBuf) {
    let fixtures = root().join("tests/fixtures");
    for stream in listener.incoming().flatten() {
        let (dist, fixtures) = (dist.clone(), fixtures.clone());
        std::thread::spawn(move || {
            let _ = respond(stream, &dist, &fixtures);
        });
    }
}

/// The browser tests (`tests/browser`, Node and playwright-core driving
/// headless Chromium): builds `dist`, serves it on a free port and runs them
/// against it. Screenshots go to `target/browser-artifacts/`.
pub fn test_browser() -> Result<(), String> {
    let tests = root().join("tests/browser");
    let dist = prepare_node_folder(&tests, false)?;
    // The server thread ends with this process.
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| format!("no free port: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    std::thread::spawn(move || serve_on(listener, dist));
    let artifacts = root().join("target/browser-artifacts");
    eprintln!(
        "xtask: browser tests against http://127.0.0.1:{port}/ (screenshots in {})",
        artifacts.display()
    );
    run(Command::new("node")
        .args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
        .current_dir(&tests)
        .env("WEBCLIP_URL", format!("http://127.0.0.1:{port}/"))
        .env("WEBCLIP_ARTIFACTS", &artifacts))
}

/// webclip beside transformers.js in headless Chromium (`bench/web`): the
/// ViT-B/32-shaped random model, or with `--quick` a small one; `--cpu-only`
/// leaves WebGPU out, `--webgpu-only` the CPU; `--profile` instead samples where webclip's worker
/// spends its time on the CPU path. `--large`: webclip alone on WebGPU with
/// a ViT-L/14@336-shaped model (1.7 GB), one image and 8 prompts.
pub fn bench_browser(options: &[String]) -> Result<(), String> {
    let has = |option: &str| options.iter().any(|o| o == option);
    let script = match has("--profile") {
        true => "profile.mjs",
        false => "bench.mjs",
    };
    let (name, shape) = match (has("--quick"), has("--large")) {
        (true, _) => ("clip-small", "small"),
        (false, true) => ("clip-l14-336", "vit-l-14-336"),
        (false, false) => ("clip-b32", "vit-b-32"),
    };
    let model = crate::bench_model(name, shape)?;
    let bench = root().join("bench/web");
    let dist = prepare_node_folder(&bench, has("--profile"))?;
    let mut node = Command::new("node");
    node.arg(script)
        .arg("--dist")
        .arg(&dist)
        .arg("--models")
        .arg(model.parent().expect("models live in a folder"))
        .arg("--images")
        .arg(root().join("tests/fixtures/images"))
        .args(["--model", name])
        .current_dir(&bench);
    node.args(options);
    run(&mut node)
}

/// Checks Node, installs `folder`'s npm packages from its lock file when
/// they are missing or stale, and builds `dist`; returns `dist`.
fn prepare_node_folder(folder: &Path, keep_names: bool) -> Result<PathBuf, String> {
    let node = node_version();
    if node < Some((20, 10)) {
        return Err(format!(
            "Node.js 20.10 or newer is needed, with npm (found {})",
            node.map_or("none".into(), |(major, minor)| format!("{major}.{minor}"))
        ));
    }
    let dist = dist(keep_names)?;
    if is_stale(
        &folder.join("node_modules/.package-lock.json"),
        &folder.join("package-lock.json"),
    ) {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            // transformers.js depends on onnxruntime-node, which the
            // benchmark never runs: no CUDA download for it.
            .env("ONNXRUNTIME_NODE_INSTALL_CUDA", "skip")
            .current_dir(folder))?;
    }
    Ok(dist)
}

/// The (major, minor) version of `node` on the PATH.
fn node_version() -> Option<(u32, u32)> {
    let out = Command::new("node").arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&out.stdout);
    let mut parts = version.trim().trim_start_matches('v').split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Whether `made` is missing or older than `source`, the file it is made from.
fn is_stale(made: &Path, source: &Path) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    match (modified(made), modified(source)) {
        (Some(made), Some(source)) => made < source,
        _ => true,
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn respond(stream: TcpStream, dist: &Path, fixtures: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // The headers: only `Range: bytes=START-` matters (downloads resume with it).
    let mut line = String::new();
    let mut range_start = None;
    while reader.read_line(&mut line)? > 2 {
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("range")
        {
            range_start = value
                .trim()
                .strip_prefix("bytes=")
                .and_then(|r| r.strip_suffix('-'))
                .and_then(|start| start.parse::<usize>().ok());
        }
        line.clear();
    }
    let target = request.split_whitespace().nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = path.split('#').next().unwrap_or("/");
    // `?cut-after=N`: the whole length is announced but the connection closes
    // before byte N of the file is sent, as a network failure mid-download
    // does, on every attempt (for the tests).
    let cut_after = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("cut-after="))
        .and_then(|n| n.parse::<usize>().ok());
    let file = if path.contains("..") {
        None
    } else if let Some(rest) = path.strip_prefix("/fixtures/") {
        Some(fixtures.join(rest))
    } else if path.ends_with('/') {
        Some(dist.join(path.trim_start_matches('/')).join("index.html"))
    } else {
        Some(dist.join(path.trim_start_matches('/')))
    };
    let mut stream = stream;
    match file.and_then(|f| std::fs::read(&f).ok().map(|body| (f, body))) {
        Some((file, body)) => {
            let total = body.len();
            let (status, start) = match range_start {
                Some(start) if start < total => ("206 Partial Content", start),
                _ => ("200 OK", 0),
            };
            let content_range = match start {
                0 => String::new(),
                _ => format!("Content-Range: bytes {start}-{}/{total}\r\n", total - 1),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
                 {content_range}Accept-Ranges: bytes\r\nCache-Control: no-cache\r\n\
                 Connection: close\r\n\r\n",
                content_type(&file),
                total - start
            );
            stream.write_all(head.as_bytes())?;
            let end = cut_after.map_or(total, |n| n.clamp(start, total));
            stream.write_all(&body[start..end])?;
            if end < total {
                // The browser reports the broken connection as soon as it
                // sees it, and may drop bytes it has received but not yet
                // handed to the page: give it time to hand them over first,
                // as a connection that breaks mid-download would.
                stream.flush()?;
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
            Ok(())
        }
        None => stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    }
}
