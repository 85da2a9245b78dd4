//! `webclip eval`: how well a model knows the sketch categories, on fresh
//! drawings of the generator and on the held-out drawing style.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use webclip::eval::{self, drawings::Variation};
use webclip::sketch::CATEGORIES;
use webclip::{Error, Result};

use super::{ModelArgs, load};

#[derive(Args)]
pub(super) struct EvalArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Test drawings per category
    #[arg(long, default_value_t = 50)]
    per_category: usize,
    /// The sentence each category name is put in; {} marks the name
    #[arg(long, default_value = eval::EVAL_TEMPLATE)]
    template: String,
    /// Labelled drawings per category for the linear probes
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    shots: Vec<usize>,
    /// Write the zero-shot confusion matrix to this SVG file
    #[arg(long)]
    confusion: Option<PathBuf>,
    /// Write one drawing of each category in each held-out variation, and
    /// four from the training generator, here (PNG), to see what the model is
    /// tested on
    #[arg(long)]
    save_drawings: Option<PathBuf>,
    /// Show the model each drawing's ink framed, as the Draw screen does, rather than the whole
    /// sheet
    #[arg(long)]
    frame_ink: bool,
    /// Print {"zero_shot": .., "linear_probe": {"1": ..}} instead of a table
    #[arg(long)]
    json: bool,
}

pub(super) fn evaluate(args: EvalArgs) -> Result<ExitCode> {
    let template = &args.template;
    let model = load(&args.model)?;
    // Drawn at twice the model's input size, as training draws them.
    let size = 2 * model.config.vision_config.image_size as u32;
    let framing = if args.frame_ink {
        eval::Framing::Ink
    } else {
        eval::Framing::Sheet
    };
    let test = eval::sketch_features(&model, args.per_category, 0, size, framing)?;
    let zero_shot = eval::zero_shot(&model, &test, template)?;
    let probes = args
        .shots
        .iter()
        .map(|&k| eval::linear_probe(&model, &test, k, size, framing).map(|acc| (k, acc)))
        .collect::<Result<Vec<_>>>()?;
    if let Some(dir) = &args.save_drawings {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let save = |image: image::RgbImage, file: String| {
            let path = dir.join(file);
            image
                .save(&path)
                .map_err(|e| Error::Input(format!("cannot write {}: {e}", path.display())))
        };
        for (category, name) in CATEGORIES.iter().enumerate() {
            for variation in Variation::ALL {
                let drawing =
                    eval::drawings::held_out_drawing(category, variation, category as u64, size);
                save(drawing, format!("{}-{name}.png", variation.name()))?;
            }
            for i in 0..4 {
                save(
                    eval::generator_drawing(category, i, size),
                    format!("generator-{name}-{i}.png"),
                )?;
            }
        }
    }
    // The held-out style, each variation on its own.
    let held_out = Variation::ALL
        .iter()
        .map(|&variation| {
            let features =
                eval::held_out_features(&model, args.per_category, variation, size, framing)?;
            Ok((variation, eval::zero_shot(&model, &features, template)?))
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(path) = &args.confusion {
        let title = format!(
            "zero-shot, \"{template}\": {:.1}% of {} drawings",
            zero_shot.accuracy * 100.0,
            test.labels.len()
        );
        let svg = eval::confusion_svg(&zero_shot.confusion, &CATEGORIES, &title)?;
        std::fs::write(path, svg).map_err(|e| Error::io(path, e))?;
    }
    if args.json {
        let probes: serde_json::Map<String, serde_json::Value> = probes
            .iter()
            .map(|(k, acc)| (k.to_string(), json!(acc)))
            .collect();
        let held_out: serde_json::Map<String, serde_json::Value> = held_out
            .iter()
            .map(|(variation, result)| {
                let per_category: serde_json::Map<String, serde_json::Value> = CATEGORIES
                    .iter()
                    .zip(result.per_category())
                    .map(|(name, acc)| (name.to_string(), json!(acc)))
                    .collect();
                let value = json!({ "zero_shot": result.accuracy, "per_category": per_category });
                (variation.name().to_string(), value)
            })
            .collect();
        println!(
            "{}",
            json!({ "drawings": test.labels.len(), "template": template,
                    "zero_shot": zero_shot.accuracy, "linear_probe": probes,
                    "held_out_style": held_out })
        );
    } else {
        println!(
            "{} test drawings, {} categories",
            test.labels.len(),
            CATEGORIES.len()
        );
        println!(
            "zero-shot ({template:?}): {:.1}%",
            zero_shot.accuracy * 100.0
        );
        for (k, acc) in probes {
            println!("linear probe, {k} per category: {:.1}%", acc * 100.0);
        }
        println!(
            "the held-out drawing style, {} drawings per category each, zero-shot:",
            args.per_category
        );
        for (variation, result) in &held_out {
            println!("  {:<11} {:.1}%", variation.name(), result.accuracy * 100.0);
        }
        let (_, mixed) = held_out.last().expect("Variation::ALL ends with Mixed");
        println!("  per category, mixed:");
        for (name, acc) in CATEGORIES.iter().zip(mixed.per_category()) {
            println!("    {name:<15} {:.0}%", acc * 100.0);
        }
    }
    Ok(ExitCode::SUCCESS)
}
