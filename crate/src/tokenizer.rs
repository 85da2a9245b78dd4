//! CLIP's byte-level BPE through the `tokenizers` crate, padded and truncated
//! to the text encoder's length exactly as transformers does.

use tokenizers::{
    PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationDirection,
    TruncationParams, TruncationStrategy,
};

use crate::config::{TextConfig, TextPooling};
use crate::error::{Error, Result};

pub struct ClipTokenizer {
    inner: Tokenizer,
}

const END_OF_TEXT: &str = "<|endoftext|>";

impl ClipTokenizer {
    /// `tokenizer_json`: the contents of `tokenizer.json`; `tokenizer_config`:
    /// `tokenizer_config.json` if the folder has one (it names the pad token);
    /// `max_len`: the text encoder's positions (77 for CLIP).
    pub fn from_json(
        tokenizer_json: &[u8],
        tokenizer_config: Option<&str>,
        max_len: usize,
    ) -> Result<Self> {
        let mut inner = Tokenizer::from_bytes(tokenizer_json)
            .map_err(|e| Error::Tokenizer(format!("cannot read tokenizer.json: {e}")))?;
        let pad_token = match tokenizer_config {
            Some(text) => pad_token_of(text)?,
            None => END_OF_TEXT.to_string(),
        };
        let pad_id = inner.token_to_id(&pad_token).ok_or_else(|| {
            Error::Tokenizer(format!(
                "pad token {pad_token:?} is not in tokenizer.json's vocabulary"
            ))
        })?;
        inner
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        inner.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::Fixed(max_len),
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id,
            pad_type_id: 0,
            pad_token,
        }));
        Ok(Self { inner })
    }

    /// One row of `max_len` ids per text: start token, BPE tokens (truncated so
    /// the end token stays last), end token, padding.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<i64>>> {
        texts
            .iter()
            .map(|text| {
                let encoding = self
                    .inner
                    .encode(*text, true)
                    .map_err(|e| Error::Tokenizer(format!("cannot tokenize {text:?}: {e}")))?;
                Ok(encoding.get_ids().iter().map(|&id| id as i64).collect())
            })
            .collect()
    }
}

impl ClipTokenizer {
    /// Refuses a tokenizer that is not the text encoder's: its vocabulary
    /// must be the embedding table's, and the token that ends every text must
    /// be the one `eos_token_id` pools at (else every prompt is read at the
    /// wrong position and all labels look alike).
    pub fn check_fits(
        &self,
        text: &TextConfig,
        tokenizer_file: &str,
        config_file: &str,
    ) -> Result<()> {
        let tokens = self.inner.get_vocab_size(true);
        if tokens != text.vocab_size {
            return Err(Error::Tokenizer(format!(
                "{tokenizer_file} has a vocabulary of {tokens} tokens, but {config_file}'s \
                 text_config.vocab_size is {}: the tokenizer is not this model's",
                text.vocab_size
            )));
        }
        let encoding = self
            .inner
            .encode("a", true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let length = encoding
            .get_attention_mask()
            .iter()
            .filter(|&&m| m == 1)
            .count();
        let end = match length.checked_sub(1) {
            Some(last) => i64::from(encoding.get_ids()[last]),
            None => {
                return Err(Error::Tokenizer(format!(
                    "{tokenizer_file} encodes \"a\" as nothing"
                )));
            }
        };
        let pooled = match text.pooling() {
            TextPooling::FirstToken(id) => id == end,
            TextPooling::ArgmaxId => i64::try_from(tokens).is_ok_and(|n| end == n - 1),
        };
        if !pooled {
            return Err(Error::Tokenizer(format!(
                "{tokenizer_file} ends every text with token {end}, but {config_file}'s \
                 text_config.eos_token_id ({}) pools texts at {}: they do not belong together",
                text.eos_token_id,
                match text.pooling() {
                    TextPooling::FirstToken(id) => format!("token {id}"),
                    TextPooling::ArgmaxId => "the largest token id".to_string(),
                }
            )));
        }
        Ok(())
    }
}

/// The pad token named by `tokenizer_config.json` (a string or an AddedToken object).
fn pad_token_of(config: &str) -> Result<String> {
    let value: serde_json::Value = serde_json::from_str(config)
        .map_err(|e| Error::Tokenizer(format!("cannot read tokenizer_config.json: {e}")))?;
    Ok(match &value["pad_token"] {
        serde_json::Value::String(token) => token.clone(),
        serde_json::Value::Object(token) => token
            .get("content")
            .and_then(|c| c.as_str())
            .unwrap_or(END_OF_TEXT)
            .to_string(),
        _ => END_OF_TEXT.to_string(),
    })
}
