//! `config.json` of a Hugging Face `CLIPModel`, with transformers' defaults for
//! every field an older checkpoint may omit.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The activation inside the MLP blocks (`hidden_act`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// OpenAI's checkpoints: `x * sigmoid(1.702 x)`.
    QuickGelu,
    /// LAION's checkpoints: the exact (erf) GELU.
    Gelu,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct TextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
    /// transformers' legacy rule: 2 means "pool at the highest token id" (the
    /// hub's OpenAI configs); anything else means "pool at the first token
    /// equal to this id".
    pub eos_token_id: i64,
}

impl Default for TextConfig {
    fn default() -> Self {
        Self {
            vocab_size: 49408,
            hidden_size: 512,
            intermediate_size: 2048,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            max_position_embeddings: 77,
            hidden_act: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
            eos_token_id: 49407,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct VisionConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_channels: usize,
    pub image_size: usize,
    pub patch_size: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
}

impl Default for VisionConfig {
    fn default() -> Self {
        Self {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            num_channels: 3,
            image_size: 224,
            patch_size: 32,
            hidden_act: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
        }
    }
}

impl VisionConfig {
    pub fn num_patches(&self) -> usize {
        (self.image_size / self.patch_size).pow(2)
    }
}

/// The shape of one tower's stack of transformer blocks: the fields both
/// tower configs hold under the same names.
#[derive(Clone, Debug, PartialEq)]
pub struct EncoderConfig {
    pub num_hidden_layers: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_attention_heads: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
}

/// `encoder()` for each tower config, from its fields of the same names.
macro_rules! encoder_config_of {
    ($($tower:ty),*) => {$(
        impl $tower {
            pub fn encoder(&self) -> EncoderConfig {
                EncoderConfig {
                    num_hidden_layers: self.num_hidden_layers,
                    hidden_size: self.hidden_size,
                    intermediate_size: self.intermediate_size,
                    num_attention_heads: self.num_attention_heads,
                    hidden_act: self.hidden_act,
                    layer_norm_eps: self.layer_norm_eps,
                }
            }
        }
    )*};
}
encoder_config_of!(TextConfig, VisionConfig);

/// How the text encoder picks the token whose state becomes the text embedding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextPooling {
    /// The position of the largest token id (`<|endoftext|>` is the largest).
    ArgmaxId,
    /// The first position holding this id.
    FirstToken(i64),
}

impl TextConfig {
    pub fn pooling(&self) -> TextPooling {
        if self.eos_token_id == 2 {
            TextPooling::ArgmaxId
        } else {
            TextPooling::FirstToken(self.eos_token_id)
        }
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct ClipConfig {
    #[serde(default = "default_model_type")]
    pub model_type: String,
    #[serde(default = "default_projection_dim")]
    pub projection_dim: usize,
    #[serde(default)]
    pub text_config: TextConfig,
    #[serde(default)]
    pub vision_config: VisionConfig,
    /// The temperature a new model starts from (`ln(1 / 0.07)`).
    #[serde(default = "default_logit_scale_init_value")]
    pub logit_scale_init_value: f32,
}

fn default_logit_scale_init_value() -> f32 {
    2.6592
}

fn default_model_type() -> String {
    "clip".into()
}

fn default_projection_dim() -> usize {
    512
}

impl ClipConfig {
    /// Parses `config.json`; `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<Self> {
        let config_error = |message: String| Error::Config {
            file: file.into(),
            message,
        };
        // Older hub configs carry explicit nulls for fields they leave at the
        // default: drop them so serde's defaults apply.
        let mut value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| config_error(e.to_string()))?;
        strip_nulls(&mut value);
        let config: ClipConfig =
            serde_json::from_value(value).map_err(|e| config_error(e.to_string()))?;
        if config.model_type != "clip" {
            return Err(Error::Unsupported(format!(
                "{file} has model_type \"{}\"; webclip runs CLIP models (model_type \"clip\")",
                config.model_type
            )));
        }
        config.validate().map_err(config_error)?;
        Ok(config)
    }

    /// The shape of a CLIP that OpenAI released, by name: `vit-b-32`,
    /// `vit-b-16` or `vit-l-14-336` (for benchmarks that need the shape, not
    /// the weights).
    pub fn named_shape(name: &str) -> Result<Self> {
        // (vision width, layers, heads, patch, image; text width, heads; projection)
        let (width, layers, heads, patch, image, text_width, text_heads, projection) = match name {
            "vit-b-32" => (768, 12, 12, 32, 224, 512, 8, 512),
            "vit-b-16" => (768, 12, 12, 16, 224, 512, 8, 512),
            "vit-l-14-336" => (1024, 24, 16, 14, 336, 768, 12, 768),
            other => {
                return Err(Error::Input(format!(
                    "unknown shape {other:?}: use vit-b-32, vit-b-16 or vit-l-14-336"
                )));
            }
        };
        let config = serde_json::json!({
            "projection_dim": projection,
            "text_config": {
                "hidden_size": text_width, "intermediate_size": 4 * text_width,
                "num_attention_heads": text_heads, "num_hidden_layers": 12,
                "vocab_size": 49408, "max_position_embeddings": 77, "eos_token_id": 2,
                "hidden_act": "quick_gelu",
            },
            "vision_config": {
                "hidden_size": width, "intermediate_size": 4 * width,
                "num_attention_heads": heads, "num_hidden_layers": layers,
                "patch_size": patch, "image_size": image, "hidden_act": "quick_gelu",
            },
        });
        Self::from_json(&config.to_string(), name)
    }

    /// `config.json` as transformers writes it for a `CLIPModel`.
    pub fn to_json(&self) -> String {
        let mut value = serde_json::to_value(self).expect("a config serializes");
        value["architectures"] = serde_json::json!(["CLIPModel"]);
        value["initializer_factor"] = 1.0.into();
        value["text_config"]["bos_token_id"] = 49406.into();
        value["text_config"]["pad_token_id"] = 1.into();
        for tower in ["text_config", "vision_config"] {
            value[tower]["projection_dim"] = self.projection_dim.into();
        }
        serde_json::to_string_pretty(&value).expect("a config serializes")
    }

    /// Checks what transformers would only find out mid-run (or never): every
    /// size within bounds (so no product of them can overflow), shapes that
    /// divide, a positive epsilon, an end-of-text id inside the vocabulary.
    fn validate(&self) -> std::result::Result<(), String> {
        let t = &self.text_config;
        let v = &self.vision_config;
        let sizes = [
            ("projection_dim", self.projection_dim, 1, MAX_WIDTH),
            ("text_config.vocab_size", t.vocab_size, 1, MAX_VOCAB),
            ("text_config.hidden_size", t.hidden_size, 1, MAX_WIDTH),
            (
                "text_config.intermediate_size",
                t.intermediate_size,
                1,
                4 * MAX_WIDTH,
            ),
            (
                "text_config.num_hidden_layers",
                t.num_hidden_layers,
                1,
                MAX_LAYERS,
            ),
            (
                "text_config.num_attention_heads",
                t.num_attention_heads,
                1,
                MAX_WIDTH,
            ),
            // A start token, at least one token of text, an end token.
            (
                "text_config.max_position_embeddings",
                t.max_position_embeddings,
                3,
                MAX_POSITIONS,
            ),
            ("vision_config.hidden_size", v.hidden_size, 1, MAX_WIDTH),
            (
                "vision_config.intermediate_size",
                v.intermediate_size,
                1,
                4 * MAX_WIDTH,
            ),
            (
                "vision_config.num_hidden_layers",
                v.num_hidden_layers,
                1,
                MAX_LAYERS,
            ),
            (
                "vision_config.num_attention_heads",
                v.num_attention_heads,
                1,
                MAX_WIDTH,
            ),
            ("vision_config.image_size", v.image_size, 1, MAX_IMAGE_SIZE),
            ("vision_config.patch_size", v.patch_size, 1, MAX_IMAGE_SIZE),
        ];
        if let Some((name, value, min, max)) = sizes
            .iter()
            .find(|(_, value, min, max)| !(min..=max).contains(&value))
        {
            return Err(format!("{name} is {value}; it must be from {min} to {max}"));
        }
        let eps = [
            ("text_config.layer_norm_eps", t.layer_norm_eps),
            ("vision_config.layer_norm_eps", v.layer_norm_eps),
        ];
        if let Some((name, value)) = eps.iter().find(|(_, e)| !(e.is_finite() && *e > 0.0)) {
            return Err(format!("{name} is {value}; it must be a positive number"));
        }
        let checks = [
            (
                t.hidden_size.is_multiple_of(t.num_attention_heads),
                "text_config.hidden_size must be a multiple of num_attention_heads".to_string(),
            ),
            (
                v.hidden_size.is_multiple_of(v.num_attention_heads),
                "vision_config.hidden_size must be a multiple of num_attention_heads".to_string(),
            ),
            (
                v.image_size.is_multiple_of(v.patch_size),
                "vision_config.image_size must be a multiple of patch_size".to_string(),
            ),
            (
                v.num_channels == 3,
                "vision_config.num_channels must be 3 (RGB)".to_string(),
            ),
            (
                t.pooling() == TextPooling::ArgmaxId
                    || (0..t.vocab_size as i64).contains(&t.eos_token_id),
                format!(
                    "text_config.eos_token_id is {}, outside the vocabulary of {} tokens",
                    t.eos_token_id, t.vocab_size
                ),
            ),
            (
                self.logit_scale_init_value.is_finite(),
                "logit_scale_init_value must be a finite number".to_string(),
            ),
        ];
        match checks.into_iter().find(|(ok, _)| !ok) {
            Some((_, message)) => Err(message),
            None => Ok(()),
        }
    }
}

/// Bounds on a config's sizes, far above any CLIP (ViT-bigG is 1664 wide with
/// 48 layers, at most 448 pixels), low enough that no product overflows.
const MAX_WIDTH: usize = 16_384;
const MAX_LAYERS: usize = 512;
const MAX_VOCAB: usize = 1 << 24;
const MAX_POSITIONS: usize = 1 << 16;
const MAX_IMAGE_SIZE: usize = 8_192;

fn strip_nulls(value: &mut serde_json::Value) {
    if let serde_json::Value::Object(map) = value {
        map.retain(|_, v| !v.is_null());
        map.values_mut().for_each(strip_nulls);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_openai_vit_b32() {
        let config = ClipConfig::from_json("{}", "config.json").unwrap();
        assert_eq!(config.projection_dim, 512);
        assert_eq!(config.vision_config.num_patches(), 49);
        assert_eq!(config.text_config.pooling(), TextPooling::FirstToken(49407));
    }

    #[test]
    fn legacy_eos_id_pools_at_argmax_and_gelu_is_read() {
        let text = r#"{"model_type":"clip","projection_dim":16,
            "text_config":{"eos_token_id":2,"hidden_act":"gelu","hidden_size":32,"num_attention_heads":4,"bos_token_id":null},
            "vision_config":{"hidden_act":"gelu"}}"#;
        let config = ClipConfig::from_json(text, "config.json").unwrap();
        assert_eq!(config.text_config.pooling(), TextPooling::ArgmaxId);
        assert_eq!(config.text_config.hidden_act, Activation::Gelu);
        assert_eq!(config.text_config.head_dim(), 8);
        assert_eq!(config.projection_dim, 16);
    }

    #[test]
    fn other_model_types_are_named() {
        let err = ClipConfig::from_json(r#"{"model_type":"siglip"}"#, "x/config.json").unwrap_err();
        assert!(err.to_string().contains("siglip"), "{err}");
    }

    #[test]
    fn unknown_activation_and_bad_json_name_the_file() {
        let err =
            ClipConfig::from_json(r#"{"text_config":{"hidden_act":"relu"}}"#, "m/config.json")
                .unwrap_err();
        assert!(err.to_string().contains("m/config.json"), "{err}");
        let err = ClipConfig::from_json("{not json", "m/config.json").unwrap_err();
        assert!(err.to_string().contains("m/config.json"), "{err}");
        let err =
            ClipConfig::from_json(r#"{"vision_config":{"patch_size":30}}"#, "c.json").unwrap_err();
        assert!(err.to_string().contains("patch_size"), "{err}");
    }

    #[test]
    fn fields_that_cannot_work_are_named() {
        let cases = [
            (
                r#"{"text_config":{"eos_token_id":60000}}"#,
                "text_config.eos_token_id is 60000, outside the vocabulary",
            ),
            (
                r#"{"text_config":{"layer_norm_eps":-10}}"#,
                "text_config.layer_norm_eps is -10; it must be a positive number",
            ),
            (
                r#"{"vision_config":{"layer_norm_eps":0}}"#,
                "vision_config.layer_norm_eps is 0",
            ),
            (
                r#"{"text_config":{"max_position_embeddings":2}}"#,
                "text_config.max_position_embeddings is 2; it must be from 3",
            ),
            (
                r#"{"vision_config":{"image_size":4294967296,"patch_size":4294967296}}"#,
                "vision_config.image_size is 4294967296; it must be from 1 to 8192",
            ),
            (
                r#"{"text_config":{"num_attention_heads":0}}"#,
                "text_config.num_attention_heads is 0",
            ),
        ];
        for (json, expected) in cases {
            let err = ClipConfig::from_json(json, "m/config.json")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("m/config.json") && err.contains(expected),
                "{json}: {err}"
            );
        }
    }
}
