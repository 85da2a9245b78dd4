//! `webclip index` and `webclip search`: a folder of images kept as a
//! collection of embeddings on disk (see `webclip::collection` for the format).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;
use webclip::collection::{self, Collection, Item};
use webclip::files::{self, FileKind};
use webclip::{Error, Result};

use super::{IndexArgs, ModelArgs, SearchArgs, collect_images, embed_files, load, read_pixels};

pub(super) fn index(args: IndexArgs) -> Result<ExitCode> {
    let images = collect_images(&args.paths)?;
    let model = load(&args.model)?;
    let mut collection = match read_index(&args.out)? {
        Some(found) if found.model() != model.fingerprint() => {
            return Err(Error::Input(format!(
                "{} was made by another model (fingerprint {}, this one is {}); index into \
                 another --out, or use the model that made it",
                args.out.display(),
                found.model(),
                model.fingerprint()
            )));
        }
        Some(found) => found,
        None => Collection::new(model.fingerprint(), model.embed_dim()),
    };
    let dropped = collection.retain(|item| Path::new(&item.path).exists());
    let (mut todo, mut unchanged) = (Vec::new(), 0);
    for path in images {
        let item = file_item(&path)?;
        match collection.has_unchanged(&item) {
            true => unchanged += 1,
            false => todo.push((path, item)),
        }
    }
    let paths: Vec<PathBuf> = todo.iter().map(|(path, _)| path.clone()).collect();
    let (embedded, failures) = embed_files(&model, &paths, false)?;
    let items: std::collections::HashMap<PathBuf, Item> = todo.into_iter().collect();
    for (path, row) in &embedded {
        collection.insert(items[path].clone(), row)?;
    }
    write_index(&args.out, &collection, &args.model.model)?;
    eprintln!(
        "{}: {} images ({} encoded, {unchanged} unchanged, {dropped} deleted files dropped, {failures} unreadable)",
        args.out.display(),
        collection.len(),
        embedded.len(),
    );
    Ok(match failures {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

pub(super) fn search(args: SearchArgs) -> Result<ExitCode> {
    let collection = read_index(&args.index)?.ok_or_else(|| {
        Error::Input(format!(
            "{} holds no index (see `webclip index`)",
            args.index.display()
        ))
    })?;
    let model_dir = match &args.model {
        Some(dir) => dir.clone(),
        None => index_model_dir(&args.index)?,
    };
    let model = load(&ModelArgs {
        model: model_dir,
        device: args.device.clone(),
    })?;
    if model.fingerprint() != collection.model() {
        return Err(Error::Input(format!(
            "{} was made by another model than {}; search it with the model that made it",
            args.index.display(),
            args.model
                .as_deref()
                .unwrap_or(Path::new("the recorded one"))
                .display()
        )));
    }
    let pixels = args
        .images
        .iter()
        .map(|p| read_pixels(&model, p))
        .collect::<Result<Vec<_>>>()?;
    let mut terms: Vec<(f32, Vec<f32>)> = Vec::new();
    if !pixels.is_empty() {
        terms.extend(
            model
                .embed_images(&pixels)?
                .into_iter()
                .map(|row| (1.0, row)),
        );
    }
    for (weight, texts) in [(1.0, &args.texts), (-1.0, &args.minus_texts)] {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        if !refs.is_empty() {
            terms.extend(
                model
                    .embed_texts(&refs)?
                    .into_iter()
                    .map(|row| (weight, row)),
            );
        }
    }
    let terms: Vec<(f32, &[f32])> = terms.iter().map(|(w, row)| (*w, row.as_slice())).collect();
    let query = collection::combine(&terms)?;
    let hits = collection.search(&query, args.top)?;
    let path = |hit: &collection::Hit| &collection.items()[hit.index].path;
    if args.json {
        let results: Vec<_> = hits
            .iter()
            .map(|hit| json!({ "path": path(hit), "score": hit.score }))
            .collect();
        println!("{}", json!({ "results": results }));
    } else {
        for hit in &hits {
            println!("{:.4}  {}", hit.score, path(hit));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the command line records the model folder beside the index.
const INDEX_MODEL_FILE: &str = "model.txt";

fn read_index(dir: &Path) -> Result<Option<Collection>> {
    if !dir.join(collection::INDEX_FILE).exists() {
        return Ok(None);
    }
    let read = |name: &str| files::read(&dir.join(name), FileKind::Text);
    let embeddings = files::read_safetensors(&dir.join(collection::EMBEDDINGS_FILE))?;
    Collection::from_files(
        &read(collection::INDEX_FILE)?,
        &embeddings,
        &files::read(&dir.join(collection::IMAGES_FILE), FileKind::PairList)?,
        &dir.display().to_string(),
    )
    .map(Some)
}

fn index_model_dir(dir: &Path) -> Result<PathBuf> {
    let recorded = files::read_text(&dir.join(INDEX_MODEL_FILE)).map_err(|_| {
        Error::Input(format!(
            "{} does not say which model made it: give --model",
            dir.display()
        ))
    })?;
    Ok(PathBuf::from(recorded.trim()))
}

/// Writes the index files next to their final names, then renames them, so
/// an interrupted run leaves the old index whole.
fn write_index(dir: &Path, collection: &Collection, model_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let model_dir = std::path::absolute(model_dir).map_err(|e| Error::io(model_dir, e))?;
    let mut files: Vec<(&str, Vec<u8>)> = collection.to_files()?.into();
    files.push((
        INDEX_MODEL_FILE,
        format!("{}\n", model_dir.display()).into_bytes(),
    ));
    for (name, bytes) in &files {
        let partial = dir.join(format!("{name}.partial"));
        std::fs::write(&partial, bytes).map_err(|e| Error::io(&partial, e))?;
    }
    for (name, _) in &files {
        let partial = dir.join(format!("{name}.partial"));
        std::fs::rename(&partial, dir.join(name)).map_err(|e| Error::io(&partial, e))?;
    }
    Ok(())
}

/// What tells a file's versions apart: its path, size and modification time.
fn file_item(path: &Path) -> Result<Item> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64);
    let path = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
    Ok(Item {
        path: path.display().to_string(),
        size: meta.len(),
        modified,
    })
}
