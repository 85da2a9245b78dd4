//! Reading files from disk with a size limit suited to what they hold, checked
//! before and while reading: a path such as `/dev/zero`, a FIFO or a runaway
//! log file gets a message instead of filling memory.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::safetensors::{MAX_SAFETENSORS_HEADER, safetensors_len};

/// What a file holds, and so how large it may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// config.json, tokenizer.json and the other small files of a model
    /// folder, label lists, run state (CLIP's tokenizer.json is 2.2 MB).
    Text,
    /// An image file: well above any image the decoder accepts (64
    /// megapixels, which even as an uncompressed PNG is under 200 MB).
    Image,
    /// A training list of image/caption pairs, one JSON object a line.
    PairList,
}

impl FileKind {
    pub const fn limit(self) -> u64 {
        match self {
            FileKind::Text => 16 << 20,
            FileKind::Image => 256 << 20,
            FileKind::PairList => 1 << 30,
        }
    }

    fn name(self) -> &'static str {
        match self {
            FileKind::Text => "a text file",
            FileKind::Image => "an image file",
            FileKind::PairList => "a list of pairs",
        }
    }
}

/// The whole file, if it holds at most `kind`'s limit.
pub fn read(path: &Path, kind: FileKind) -> Result<Vec<u8>> {
    let limit = kind.limit();
    let too_large = || {
        Error::Input(format!(
            "{} is too large to be {} (at most {} MB)",
            path.display(),
            kind.name(),
            limit >> 20
        ))
    };
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    if let Ok(meta) = file.metadata()
        && meta.is_file()
        && meta.len() > limit
    {
        return Err(too_large());
    }
    // Devices and pipes report no length: the limit holds while reading.
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The whole file as UTF-8 text, within [`FileKind::Text`]'s limit.
pub fn read_text(path: &Path) -> Result<String> {
    read_text_of(path, FileKind::Text)
}

/// The whole file as UTF-8 text, within `kind`'s limit.
pub fn read_text_of(path: &Path, kind: FileKind) -> Result<String> {
    String::from_utf8(read(path, kind)?).map_err(|_| Error::Config {
        file: path.display().to_string(),
        message: "is not UTF-8 text".into(),
    })
}

/// A `model.safetensors`: its own header says how long it is, so exactly that
/// much is read, and a file of another length is named as truncated or padded
/// before its tensors are read.
pub fn read_safetensors(path: &Path) -> Result<Vec<u8>> {
    let weights_error = |message: String| Error::Weights {
        file: path.display().to_string(),
        message: format!("{message}; re-download it"),
    };
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = [0u8; 8].to_vec();
    file.read_exact(&mut head)
        .map_err(|_| weights_error("is shorter than a safetensors header (8 bytes)".into()))?;
    let header_len = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    (&mut file)
        .take(header_len.min(MAX_SAFETENSORS_HEADER))
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    let total = safetensors_len(&head).map_err(weights_error)?;
    if let Ok(meta) = file.metadata()
        && meta.is_file()
        && meta.len() != total
    {
        let state = match meta.len() < total {
            true => "is truncated",
            false => "has bytes beyond its tensors",
        };
        return Err(weights_error(format!(
            "{state}: its header describes {total} bytes, the file has {}",
            meta.len()
        )));
    }
    let mut bytes = head;
    bytes.reserve_exact((total as usize).saturating_sub(bytes.len()));
    file.take(total - bytes.len() as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 != total {
        return Err(weights_error(format!(
            "is truncated: its header describes {total} bytes, only {} could be read",
            bytes.len()
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_files_are_refused_at_the_limit() {
        let err = read(Path::new("/dev/zero"), FileKind::Text).unwrap_err();
        assert!(
            err.to_string()
                .contains("/dev/zero is too large to be a text file (at most 16 MB)"),
            "{err}"
        );
    }

    #[test]
    fn safetensors_length_comes_from_its_header() {
        let dir = std::env::temp_dir().join(format!("webclip-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("model.safetensors");
        let data = [1.0f32, 2.0].map(f32::to_le_bytes).concat();
        let view =
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2], &data).unwrap();
        let whole = safetensors::serialize([("w", view)], None).unwrap();
        std::fs::write(&path, &whole).unwrap();
        assert_eq!(read_safetensors(&path).unwrap(), whole);

        std::fs::write(&path, &whole[..whole.len() - 1]).unwrap();
        let err = read_safetensors(&path).unwrap_err().to_string();
        assert!(err.contains("is truncated"), "{err}");
        std::fs::write(&path, [whole.as_slice(), &[0]].concat()).unwrap();
        let err = read_safetensors(&path).unwrap_err().to_string();
        assert!(err.contains("beyond its tensors"), "{err}");
        std::fs::write(&path, [0xff; 8]).unwrap();
        let err = read_safetensors(&path).unwrap_err().to_string();
        assert!(err.contains("not a safetensors file"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();

        let err = read_safetensors(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no valid safetensors header"), "{err}");
        assert!(err.contains("re-download it"), "{err}");
    }
}
