//! `webclip bench`: a random model of a named CLIP shape, made here with
//! webclip's own initialiser (nothing to download or install), timed on a
//! device: building it, the first and later image and text encodes, a
//! batch, and how often our GPU kernels ran per encode.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use burn::tensor::{Tensor, TensorData};
use clap::Args;
use serde_json::json;

use webclip::config::ClipConfig;
use webclip::device::{self, DeviceChoice};
use webclip::kernels::{self, self_check::check_kernels};
use webclip::pipeline::read_rows;
use webclip::rng::Rng;
use webclip::train::random_clip;
use webclip::{Error, Result};

#[derive(Args)]
pub(super) struct BenchArgs {
    /// The model's shape: vit-b-32, vit-b-16 or vit-l-14-336
    #[arg(long, default_value = "vit-b-32")]
    shape: String,
    /// Where it runs: cpu or wgpu
    #[arg(long, default_value = "wgpu")]
    device: String,
    /// Timed encodes of each kind after the first (the median is reported)
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Images in the batch measure
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Print one JSON object instead of a table
    #[arg(long)]
    json: bool,
    /// Count the GPU dispatches of one image encode and one of 8 prompts
    /// instead of timing (wgpu only; CubeCL's profiler lists each dispatch)
    #[arg(long)]
    count_dispatches: bool,
    /// Keep the matrices and attention's tiles in f32 even where the GPU has
    /// shader-f16 (to compare the two)
    #[arg(long)]
    f32: bool,
}

/// The prompts' lengths in tokens, start and end included: eight texts as a
/// zero-shot batch has them.
const PROMPT_TOKENS: [usize; 8] = [7, 7, 14, 9, 4, 14, 9, 8];

pub(super) fn bench(args: BenchArgs) -> Result<ExitCode> {
    if args.repeats == 0 || args.batch == 0 {
        return Err(Error::Input(
            "--repeats and --batch must be at least 1".into(),
        ));
    }
    let config = ClipConfig::named_shape(&args.shape)?;
    let choice = args.device.parse::<DeviceChoice>()?;
    let dispatch_log = match args.count_dispatches {
        true if choice == DeviceChoice::Cpu => {
            return Err(Error::Input(
                "--count-dispatches counts GPU dispatches: use --device wgpu".into(),
            ));
        }
        true => Some(DispatchLog::start()?),
        false => None,
    };
    let device = device::device(choice)?;
    if args.f32 {
        // The subgroup choice stays the default one (hardware GPUs only).
        let subgroups = kernels::gpu().is_some_and(|gpu| gpu.subgroups && !gpu.software);
        kernels::allow_variants(false, subgroups);
    }
    let mut rng = Rng::new(7);
    // As a loaded model: our kernels only where they pass their check.
    if let Some(note) = burn::cubecl::future::block_on(check_kernels(&device)) {
        eprintln!("note: {note}");
    }

    let start = Instant::now();
    let clip = random_clip(&config, 0, &device)?;
    // A read waits for every upload before it.
    read_rows(clip.logit_scale_exp().unsqueeze::<2>())?;
    let build = start.elapsed();

    let size = config.vision_config.image_size;
    let pixels = |count: usize, rng: &mut Rng| {
        let values = (0..count * 3 * size * size)
            .map(|_| rng.range(-1.8, 2.1))
            .collect::<Vec<f32>>();
        Tensor::<4>::from_data(TensorData::new(values, [count, 3, size, size]), &device)
    };
    let encode_images = |count: usize, rng: &mut Rng| -> Result<Duration> {
        let batch = pixels(count, rng);
        let start = Instant::now();
        read_rows(clip.image_embeds(batch))?;
        Ok(start.elapsed())
    };
    let vocab = config.text_config.vocab_size;
    let prompts =
        |rng: &mut Rng| prompt_ids(rng, vocab, config.text_config.max_position_embeddings);
    let encode_texts = |rng: &mut Rng| -> Result<Duration> {
        let ids = prompts(rng);
        let start = Instant::now();
        read_rows(clip.text_embeds(&ids)?)?;
        Ok(start.elapsed())
    };

    if let Some(log) = dispatch_log {
        // Compiled and uploaded first, so only the encodes' own dispatches count.
        encode_images(1, &mut rng)?;
        encode_texts(&mut rng)?;
        let image = log.count(|| encode_images(1, &mut rng))?;
        let text = log.count(|| encode_texts(&mut rng))?;
        match args.json {
            true => println!(
                "{}",
                json!({"shape": args.shape, "dispatches_per_image": image,
                       "dispatches_per_text8": text})
            ),
            false => println!(
                "{} on wgpu: {image} dispatches per image encode, {text} per 8 prompts",
                args.shape
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }

    let launches = kernels::launches();
    let first_image = encode_images(1, &mut rng)?;
    let image_launches = kernels::launches().attention - launches.attention;
    let precision = match kernels::launches().linear_f16 > launches.linear_f16 {
        true => "f16",
        false => "f32",
    };
    let images = median(
        (0..args.repeats)
            .map(|_| encode_images(1, &mut rng))
            .collect::<Result<_>>()?,
    );
    let launches = kernels::launches();
    let first_text = encode_texts(&mut rng)?;
    let text_launches = kernels::launches().attention - launches.attention;
    let texts = median(
        (0..args.repeats)
            .map(|_| encode_texts(&mut rng))
            .collect::<Result<_>>()?,
    );
    let batch = encode_images(args.batch, &mut rng)?;
    let images_per_s = args.batch as f64 / batch.as_secs_f64();

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    if args.json {
        let report = json!({
            "shape": args.shape, "device": args.device, "repeats": args.repeats,
            "build_ms": ms(build), "first_image_ms": ms(first_image), "image_ms": ms(images),
            "first_text8_ms": ms(first_text), "text8_ms": ms(texts),
            "batch": args.batch, "batch_images_per_s": images_per_s,
            "attention_launches_per_image": image_launches,
            "attention_launches_per_text8": text_launches, "weights": precision,
        });
        println!("{report}");
    } else {
        println!(
            "{} on {}, a random model made here, {precision} weights",
            args.shape, args.device
        );
        let row = |what: &str, value: String| println!("  {what:<44} {value}");
        row("build and upload the model", format!("{:.0} ms", ms(build)));
        row("first image", format!("{:.1} ms", ms(first_image)));
        row(
            &format!("image, median of {}", args.repeats),
            format!("{:.1} ms", ms(images)),
        );
        row("first 8 prompts", format!("{:.1} ms", ms(first_text)));
        row(
            &format!("8 prompts, median of {}", args.repeats),
            format!("{:.1} ms", ms(texts)),
        );
        row(
            &format!("{} images in one batch", args.batch),
            format!("{images_per_s:.2} images/s"),
        );
        row(
            "our attention kernel's launches: image / 8 prompts",
            format!("{image_launches} / {text_launches}"),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// CubeCL's profiler, writing one line `| time | kernel` per dispatch to a
/// file (it waits for each dispatch to finish, so nothing is timed then).
struct DispatchLog {
    path: std::path::PathBuf,
}

impl DispatchLog {
    /// Must run before the GPU starts: CubeCL reads its settings once then.
    fn start() -> Result<Self> {
        let path =
            std::env::temp_dir().join(format!("webclip-dispatches-{}.log", std::process::id()));
        // SAFETY: no other thread exists yet to read the environment.
        unsafe {
            std::env::set_var("CUBECL_DEBUG_LOG", &path);
            std::env::set_var("CUBECL_DEBUG_OPTION", "profile-full");
        }
        Ok(Self { path })
    }

    fn dispatches(&self) -> Result<usize> {
        let log = std::fs::read_to_string(&self.path)
            .map_err(|e| Error::Input(format!("cannot read {}: {e}", self.path.display())))?;
        Ok(log.lines().filter(|line| line.starts_with("| ")).count())
    }

    /// The dispatches `encode` makes.
    fn count(&self, encode: impl FnOnce() -> Result<Duration>) -> Result<usize> {
        let before = self.dispatches()?;
        encode()?;
        Ok(self.dispatches()? - before)
    }
}

impl Drop for DispatchLog {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Eight prompts of random tokens between the start and end tokens, padded
/// to every position with the end token, as CLIP's tokenizer pads.
fn prompt_ids(rng: &mut Rng, vocab: usize, positions: usize) -> Vec<Vec<i64>> {
    let (start, end) = (vocab as i64 - 2, vocab as i64 - 1);
    PROMPT_TOKENS
        .iter()
        .map(|&len| {
            let len = len.min(positions);
            let mut ids = vec![start];
            ids.extend((2..len).map(|_| rng.below(vocab - 2) as i64));
            ids.resize(positions, end);
            ids
        })
        .collect()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}
