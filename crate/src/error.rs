//! One error type for the whole crate: every failure a user can cause names
//! the file, tensor or input at fault, so the message is actionable.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid {file}: {message}")]
    Config { file: String, message: String },

    #[error("unsupported model: {0}")]
    Unsupported(String),

    #[error("weights file {file}: {message}")]
    Weights { file: String, message: String },

    #[error("weights file {file}: tensor `{tensor}` {message}")]
    Tensor {
        file: String,
        tensor: String,
        message: String,
    },

    #[error("tokenizer: {0}")]
    Tokenizer(String),

    #[error("image {name}: {message}")]
    Image { name: String, message: String },

    #[error("invalid input: {0}")]
    Input(String),

    #[error("device: {0}")]
    Device(String),

    #[error(
        "the model's {0} holds a NaN or an infinity: its model.safetensors or config.json is damaged or does not fit it"
    )]
    NonFinite(&'static str),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn image(name: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Image {
            name: name.into(),
            message: message.to_string(),
        }
    }
}
