//! The `webclip` command: embeddings and zero-shot classification from a
//! model folder in the Hugging Face layout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use webclip::device::{self, DeviceChoice};
use webclip::model::ClipModel;
use webclip::zeroshot::DEFAULT_TEMPLATE;
use webclip::{Error, Result};

#[derive(Parser)]
#[command(
    name = "webclip",
    version,
    about = "OpenAI's CLIP: image and text embeddings, zero-shot classification"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct ModelArgs {
    /// Model folder: config.json, model.safetensors, tokenizer.json, preprocessor_config.json
    #[arg(long)]
    model: PathBuf,
    /// Where the model runs
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "wgpu"])]
    device: String,
}

#[derive(Subcommand)]
enum Command {
    /// Print L2-normalized embeddings of images and texts, in argument order
    Embed {
        #[command(flatten)]
        model: ModelArgs,
        /// An image file (repeatable)
        #[arg(long = "image")]
        images: Vec<PathBuf>,
        /// A text (repeatable)
        #[arg(long = "text")]
        texts: Vec<String>,
        /// Print {"image_embeds": [[..]], "text_embeds": [[..]]}
        #[arg(long)]
        json: bool,
    },
    /// Zero-shot classification of images (folders are searched recursively)
    Classify {
        #[command(flatten)]
        model: ModelArgs,
        /// Image files or folders
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// A class name (repeatable)
        #[arg(
            long = "label",
            required_unless_present = "labels_file",
            conflicts_with = "labels_file"
        )]
        labels: Vec<String>,
        /// A file with one class name per line
        #[arg(long)]
        labels_file: Option<PathBuf>,
        /// The sentence each label is put in; {} marks the label
        #[arg(long, default_value = DEFAULT_TEMPLATE)]
        template: String,
        /// Print {"labels": [..], "results": [{"image", "probs", "top"}]}
        #[arg(long)]
        json: bool,
    },
}

const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp", "gif"];

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load(args: &ModelArgs) -> Result<ClipModel> {
    let device = device::device(args.device.parse::<DeviceChoice>()?)?;
    ClipModel::load_dir(&args.model, &device)
}

fn read_pixels(model: &ClipModel, path: &Path) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    model.pixel_values(&bytes, &path.display().to_string())
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Embed {
            model,
            images,
            texts,
            json,
        } => {
            if images.is_empty() && texts.is_empty() {
                return Err(Error::Input(
                    "nothing to embed: give --image and/or --text".into(),
                ));
            }
            let model = load(&model)?;
            let pixels = images
                .iter()
                .map(|p| read_pixels(&model, p))
                .collect::<Result<Vec<_>>>()?;
            let image_embeds = if pixels.is_empty() {
                vec![]
            } else {
                model.embed_images(&pixels)?
            };
            let text_refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let text_embeds = if texts.is_empty() {
                vec![]
            } else {
                model.embed_texts(&text_refs)?
            };
            if json {
                println!(
                    "{}",
                    json!({ "image_embeds": image_embeds, "text_embeds": text_embeds })
                );
            } else {
                let names = images
                    .iter()
                    .map(|p| p.display().to_string())
                    .chain(texts.iter().map(|t| format!("{t:?}")));
                for (name, row) in names.zip(image_embeds.iter().chain(&text_embeds)) {
                    let head: Vec<String> =
                        row.iter().take(4).map(|v| format!("{v:+.4}")).collect();
                    println!("{name}: [{}, …] ({} dims)", head.join(", "), row.len());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Classify {
            model,
            paths,
            labels,
            labels_file,
            template,
            json,
        } => {
            let labels = match labels_file {
                Some(file) => read_labels(&file)?,
                None => labels,
            };
            webclip::zeroshot::prompts(&labels, &template)?;
            let images = collect_images(&paths)?;
            if images.is_empty() {
                return Err(Error::Input("no images found in the given paths".into()));
            }
            let model = load(&model)?;
            classify(&model, &images, &labels, &template, json)
        }
    }
}

fn read_labels(file: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

/// Files given by name are taken as they are; folders are searched
/// recursively for image files, in name order.
fn collect_images(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut images = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut images)?;
        } else if path.exists() {
            images.push(path.clone());
        } else {
            return Err(Error::Input(format!("{} does not exist", path.display())));
        }
    }
    Ok(images)
}

fn walk(dir: &Path, images: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, images)?;
        } else if has_image_extension(&path) {
            images.push(path);
        } else {
            eprintln!("note: skipping {} (not an image file)", path.display());
        }
    }
    Ok(())
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn classify(
    model: &ClipModel,
    images: &[PathBuf],
    labels: &[String],
    template: &str,
    json: bool,
) -> Result<ExitCode> {
    let progress = ProgressBar::new(images.len() as u64);
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} images ({per_sec}, eta {eta})",
        )
        .expect("valid progress template"),
    );
    if images.len() < 8 {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut results: Vec<(PathBuf, Vec<f32>)> = Vec::new();
    let mut failures = 0;
    for chunk in images.chunks(16) {
        let (mut paths, mut pixels) = (Vec::new(), Vec::new());
        for path in chunk {
            match read_pixels(model, path) {
                Ok(values) => {
                    paths.push(path.clone());
                    pixels.push(values);
                }
                Err(e) => {
                    failures += 1;
                    progress.suspend(|| eprintln!("error: {e}"));
                }
            }
        }
        if !pixels.is_empty() {
            let probs = model.classify(&pixels, labels, template)?;
            results.extend(paths.into_iter().zip(probs));
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();

    if json {
        let rows: Vec<_> = results
            .iter()
            .map(|(path, probs)| json!({ "image": path.display().to_string(), "probs": probs, "top": labels[argmax(probs)] }))
            .collect();
        println!("{}", json!({ "labels": labels, "results": rows }));
    } else {
        print_table(&results, labels);
    }
    if failures > 0 {
        eprintln!(
            "{failures} of {} images could not be classified",
            images.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn argmax(values: &[f32]) -> usize {
    (0..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best })
}

/// Images as rows, labels as columns, probabilities in percent.
fn print_table(results: &[(PathBuf, Vec<f32>)], labels: &[String]) {
    let names: Vec<String> = results
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    let name_width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    let widths: Vec<usize> = labels.iter().map(|l| l.chars().count().max(6)).collect();
    let mut header = format!("{:name_width$}", "image");
    for (label, width) in labels.iter().zip(&widths) {
        header.push_str(&format!("  {label:>width$}"));
    }
    println!("{header}");
    for (name, (_, probs)) in names.iter().zip(results) {
        let mut line = format!("{name:name_width$}");
        for (p, width) in probs.iter().zip(&widths) {
            line.push_str(&format!("  {:>width$}", format!("{:.1}%", p * 100.0)));
        }
        println!("{line}");
    }
}
