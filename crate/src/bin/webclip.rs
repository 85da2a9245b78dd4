//! The `webclip` command: embeddings and zero-shot classification from a
//! model folder in the Hugging Face layout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

// The crate root looks for modules beside itself; these live in webclip/.
#[path = "webclip/bench.rs"]
mod bench;
#[path = "webclip/evaluate.rs"]
mod evaluate;
#[path = "webclip/index.rs"]
mod index;

use clap::{Args, Parser, Subcommand};
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use webclip::config::ClipConfig;
use webclip::device::{self, DeviceChoice};
use webclip::files::{self, FileKind};
use webclip::pipeline::ClipPipeline;
use webclip::probe::{LinearProbe, leave_one_out_accuracy};
use webclip::sketch::Spread;
use webclip::train::{self, DataSource, TokenizerFiles, TrainOptions, Trainer};
use webclip::zeroshot::{DEFAULT_TEMPLATE, argmax};
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
    Embed(EmbedArgs),
    /// Zero-shot classification of images (folders are searched recursively),
    /// or by a linear probe taught with --examples
    Classify(ClassifyArgs),
    /// Encode images (folders are searched recursively) into an index folder;
    /// run again, it encodes only new or changed files and drops deleted ones
    Index(IndexArgs),
    /// The images of an index that best match texts and images
    Search(SearchArgs),
    /// Contrastive pretraining of a new CLIP; writes a model folder in the
    /// Hugging Face layout (checkpoints in OUT/checkpoint)
    Train(TrainArgs),
    /// Times a random model of a named CLIP shape, made here (no files
    /// needed): build, image and text encodes, a batch
    Bench(bench::BenchArgs),
    /// Accuracy on fresh synthetic drawings of the sketch categories:
    /// zero-shot, linear probes, confusion matrix
    Eval(evaluate::EvalArgs),
}

#[derive(Args)]
struct EmbedArgs {
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
}

#[derive(Args)]
struct ClassifyArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Image files or folders
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// A class name (repeatable)
    #[arg(
        long = "label",
        required_unless_present_any = ["labels_file", "examples"],
        conflicts_with_all = ["labels_file", "examples"]
    )]
    labels: Vec<String>,
    /// A file with one class name per line
    #[arg(long, conflicts_with = "examples")]
    labels_file: Option<PathBuf>,
    /// A folder of example images, one subfolder per class (named after it):
    /// a linear probe learns the classes from them instead of their names
    #[arg(long)]
    examples: Option<PathBuf>,
    /// The sentence each label is put in; {} marks the label
    #[arg(long, default_value = DEFAULT_TEMPLATE)]
    template: String,
    /// The images are drawings: show the model each one's ink framed, as the
    /// page's drawing option and Draw screen do, rather than the whole sheet
    #[arg(long)]
    frame_ink: bool,
    /// Print {"labels": [..], "results": [{"image", "probs", "top"}]}
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct IndexArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Image files or folders
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The index folder (made if missing, brought up to date if not)
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct SearchArgs {
    /// An index folder made by `webclip index`
    #[arg(long)]
    index: PathBuf,
    /// The model folder (default: the one that made the index)
    #[arg(long)]
    model: Option<PathBuf>,
    /// Where the model runs
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "wgpu"])]
    device: String,
    /// Describe the image you look for (repeatable; all parts are added up)
    #[arg(long = "text", required_unless_present = "images")]
    texts: Vec<String>,
    /// Find images like this one (repeatable)
    #[arg(long = "image")]
    images: Vec<PathBuf>,
    /// Leave out what this text describes (repeatable), as in
    /// --image beach.jpg --minus-text "people"
    #[arg(long = "minus-text")]
    minus_texts: Vec<String>,
    /// How many matches to print
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Print {"results": [{"path", "score"}, ..]}, best first
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct TrainArgs {
    /// Output model folder
    #[arg(long)]
    out: PathBuf,
    /// "sketches" (built-in generator), "sketches-wide" (the same, spread anywhere on the sheet,
    /// larger tilts, thinner pens: for fine-tuning with --from), "sketches-mixed" (wide and
    /// standard drawings in turn) or a JSONL file of {"image": PATH, "text": CAPTION}
    #[arg(long, default_value = "sketches")]
    data: String,
    /// Continue the run saved in --out (all other settings come from it)
    #[arg(long)]
    resume: bool,
    /// The architecture as a CLIP config.json (default: the bundled sketch model's)
    #[arg(long, conflicts_with = "from")]
    model_config: Option<PathBuf>,
    /// Start from this model folder's weights instead of random ones (fine-tuning); its
    /// architecture, tokenizer and pixel normalization are kept
    #[arg(long, conflicts_with = "tokenizer")]
    from: Option<PathBuf>,
    /// Folder with the CLIP tokenizer (tokenizer.json) to train with and ship
    #[arg(long, default_value = "tests/fixtures/tokenizer")]
    tokenizer: PathBuf,
    #[arg(long)]
    steps: Option<usize>,
    #[arg(long)]
    batch_size: Option<usize>,
    /// Peak learning rate
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long)]
    warmup_steps: Option<usize>,
    #[arg(long)]
    seed: Option<u64>,
    /// Save a checkpoint every this many steps
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Write model.safetensors in f32 instead of f16
    #[arg(long)]
    f32: bool,
    /// Where training runs
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "wgpu"])]
    device: String,
}

const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp", "gif"];

fn main() -> ExitCode {
    give_vulkan_a_runtime_dir();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Without XDG_RUNTIME_DIR the Vulkan loader prints "error: XDG_RUNTIME_DIR
/// is invalid or not set" on every GPU run, which reads like our own errors.
fn give_vulkan_a_runtime_dir() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: the first thing main does, before any other thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
}

fn load(args: &ModelArgs) -> Result<ClipPipeline> {
    let device = device::device(args.device.parse::<DeviceChoice>()?)?;
    let model = ClipPipeline::load_dir(&args.model, &device)?;
    for note in model.notes() {
        eprintln!("note: {note}");
    }
    Ok(model)
}

fn read_pixels(model: &ClipPipeline, path: &Path) -> Result<Vec<f32>> {
    let bytes = files::read(path, FileKind::Image)?;
    model.pixel_values(&bytes, &path.display().to_string())
}

fn read_drawing(path: &Path) -> Result<RgbImage> {
    let bytes = files::read(path, FileKind::Image)?;
    webclip::preprocess::decode_image(&bytes, &path.display().to_string())
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Embed(args) => embed(args),
        Command::Classify(args) => classify(args),
        Command::Index(args) => index::index(args),
        Command::Search(args) => index::search(args),
        Command::Train(args) => train(args),
        Command::Eval(args) => evaluate::evaluate(args),
        Command::Bench(args) => bench::bench(args),
    }
}

fn embed(args: EmbedArgs) -> Result<ExitCode> {
    let (images, texts) = (&args.images, &args.texts);
    if images.is_empty() && texts.is_empty() {
        return Err(Error::Input(
            "nothing to embed: give --image and/or --text".into(),
        ));
    }
    let model = load(&args.model)?;
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
    if args.json {
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
            let head: Vec<String> = row.iter().take(4).map(|v| format!("{v:+.4}")).collect();
            println!("{name}: [{}, …] ({} dims)", head.join(", "), row.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn classify(args: ClassifyArgs) -> Result<ExitCode> {
    let labels = match (&args.labels_file, &args.examples) {
        (Some(file), _) => read_labels(file)?,
        (None, Some(examples)) => class_folders(examples)?,
        (None, None) => args.labels,
    };
    webclip::zeroshot::prompts(&labels, &args.template)?;
    let images = collect_images(&args.paths)?;
    if images.is_empty() {
        return Err(Error::Input("no images found in the given paths".into()));
    }
    let model = load(&args.model)?;
    let probe = match &args.examples {
        Some(examples) => Some(teach_probe(&model, examples, &labels, args.frame_ink)?),
        None => None,
    };
    let (embedded, failures) = embed_files(&model, &images, args.frame_ink)?;
    let (paths, rows): (Vec<PathBuf>, Vec<Vec<f32>>) = embedded.into_iter().unzip();
    let probs = match (&probe, rows.is_empty()) {
        (_, true) => Vec::new(),
        (Some(probe), false) => rows.iter().map(|row| probe.probabilities(row)).collect(),
        (None, false) => model.label_embeddings(&rows, &labels, &args.template)?,
    };
    let results: Vec<(PathBuf, Vec<f32>)> = paths.into_iter().zip(probs).collect();
    if args.json {
        let rows: Vec<_> = results
            .iter()
            .map(|(path, probs)| json!({ "image": path.display().to_string(), "probs": probs, "top": labels[argmax(probs)] }))
            .collect();
        println!("{}", json!({ "labels": labels, "results": rows }));
    } else {
        print_table(&results, &labels);
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

/// The class names of an ImageFolder layout: its subfolders, in name order.
fn class_folders(dir: &Path) -> Result<Vec<String>> {
    let mut classes: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_dir())
        .filter_map(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    classes.sort();
    if classes.len() < 2 {
        return Err(Error::Input(format!(
            "{} must hold a subfolder of example images for each of at least two classes",
            dir.display()
        )));
    }
    Ok(classes)
}

/// A linear probe taught by the example images under `dir/CLASS/`; prints its
/// leave-one-out accuracy on them.
fn teach_probe(
    model: &ClipPipeline,
    dir: &Path,
    classes: &[String],
    frame_ink: bool,
) -> Result<LinearProbe> {
    let (mut rows, mut labels) = (Vec::new(), Vec::new());
    for (class, name) in classes.iter().enumerate() {
        let images = collect_images(&[dir.join(name)])?;
        let (embedded, failures) = embed_files(model, &images, frame_ink)?;
        if failures > 0 || embedded.is_empty() {
            return Err(Error::Input(format!(
                "the examples of {name:?} in {} hold no readable image, or a broken one (see above)",
                dir.display()
            )));
        }
        labels.extend(std::iter::repeat_n(class, embedded.len()));
        rows.extend(embedded.into_iter().map(|(_, row)| row));
    }
    let probe = LinearProbe::fit(&rows, &labels, classes.len())?;
    let accuracy = leave_one_out_accuracy(&rows, &labels, classes.len())?;
    eprintln!(
        "probe taught by {} examples of {} classes: {:.0}% of the examples right when each is left out",
        rows.len(),
        classes.len(),
        accuracy * 100.0
    );
    Ok(probe)
}

/// Three threads a core in Burn's CPU pool, unless `RAYON_NUM_THREADS` says
/// otherwise. A training step's many small ops split into as many pieces as
/// there are threads; with one piece a core, a core whose piece finishes
/// first waits for the other (the sketch model's step is 12% shorter with
/// six threads than with two on a 2-core machine, and the weights are the
/// same bit for bit).
fn share_cores_finely() {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Fails only if the pool already exists, which then stays as it is.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(3 * cores)
        .build_global();
}

fn train(args: TrainArgs) -> Result<ExitCode> {
    share_cores_finely();
    let device = device::device(args.device.parse::<DeviceChoice>()?)?;
    let checkpoint = args.out.join(train::CHECKPOINT_DIR);
    let mut trainer = if args.resume {
        Trainer::resume(&args.out, &device)?
    } else {
        if checkpoint.exists() {
            return Err(Error::Input(format!(
                "{} already holds a training run; pass --resume to continue it or choose another --out",
                args.out.display()
            )));
        }
        let mut options = TrainOptions::sketches();
        let spread = match args.data.as_str() {
            "sketches" => Some(Spread::Standard),
            "sketches-wide" => Some(Spread::Wide),
            "sketches-mixed" => Some(Spread::Mixed),
            _ => None,
        };
        match (&mut options.data, spread) {
            (DataSource::Sketches { spread, .. }, Some(chosen)) => *spread = chosen,
            (data, _) => {
                *data = DataSource::Pairs {
                    file: PathBuf::from(&args.data),
                }
            }
        }
        if let Some(path) = &args.model_config {
            let text = files::read_text(path)?;
            options.model = ClipConfig::from_json(&text, &path.display().to_string())?;
        }
        options.steps = args.steps.unwrap_or(options.steps);
        options.batch_size = args.batch_size.unwrap_or(options.batch_size);
        options.learning_rate = args.lr.unwrap_or(options.learning_rate);
        options.warmup_steps = args.warmup_steps.unwrap_or(options.warmup_steps);
        options.seed = args.seed.unwrap_or(options.seed);
        options.checkpoint_every = args.checkpoint_every.unwrap_or(options.checkpoint_every);
        options.export_f16 = !args.f32;
        match &args.from {
            Some(from) => Trainer::fine_tune(options, from, &device)?,
            None => Trainer::new(options, TokenizerFiles::read_dir(&args.tokenizer)?, &device)?,
        }
    };
    let progress = ProgressBar::new(trainer.options().steps as u64);
    progress.set_style(
        ProgressStyle::with_template(
            "[{elapsed_precise}] {bar:30} step {pos}/{len} {msg} (eta {eta})",
        )
        .expect("valid progress template"),
    );
    progress.set_position(trainer.step() as u64);
    train::run(&mut trainer, &args.out, |report| {
        progress.set_position(report.step as u64);
        progress.set_message(format!(
            "loss {:.3} batch acc {:.0}% scale {:.1} lr {:.1e} {:.0} pairs/s",
            report.loss,
            report.batch_accuracy * 100.0,
            report.logit_scale,
            report.learning_rate,
            report.pairs_per_second
        ));
        if !progress.is_hidden() {
            return;
        }
        if report.step.is_multiple_of(10) || report.step == report.steps {
            eprintln!(
                "step {}/{} {}",
                report.step,
                report.steps,
                progress.message()
            );
        }
    })?;
    progress.finish();
    eprintln!("model written to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn read_labels(file: &Path) -> Result<Vec<String>> {
    let text = files::read_text(file)?;
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

/// An image file and its embedding.
type Embedded = (PathBuf, Vec<f32>);

/// Embeddings of image files, encoded 16 at a time under a progress bar; a
/// file that cannot be read or decoded is reported and skipped (the second
/// value counts them).
/// Embeddings of image files (the readable ones, and how many were not);
/// with `frame_ink`, of each drawing's framed ink.
fn embed_files(
    model: &ClipPipeline,
    images: &[PathBuf],
    frame_ink: bool,
) -> Result<(Vec<Embedded>, usize)> {
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
    let mut embedded = Vec::new();
    let mut failures = 0;
    for chunk in images.chunks(16) {
        let (mut paths, mut pixels, mut drawings) = (Vec::new(), Vec::new(), Vec::new());
        for path in chunk {
            let read = if frame_ink {
                read_drawing(path).map(|drawing| drawings.push(drawing))
            } else {
                read_pixels(model, path).map(|values| pixels.push(values))
            };
            match read {
                Ok(()) => paths.push(path.clone()),
                Err(e) => {
                    failures += 1;
                    progress.suspend(|| eprintln!("error: {e}"));
                }
            }
        }
        if !paths.is_empty() {
            let rows = if frame_ink {
                model.embed_drawings(&drawings)?
            } else {
                model.embed_images(&pixels)?
            };
            embedded.extend(paths.into_iter().zip(rows));
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    Ok((embedded, failures))
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
