//! `preprocessor_config.json` (`CLIPImageProcessor`): sizes, rescale and
//! normalization, with transformers' defaults.

use serde_json::Value;

use crate::error::{Error, Result};

/// OpenAI CLIP's per-channel mean (RGB), as in transformers' `OPENAI_CLIP_MEAN`.
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// OpenAI CLIP's per-channel standard deviation (RGB), `OPENAI_CLIP_STD`.
#[allow(clippy::excessive_precision)] // the digits transformers writes
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// Pillow's `Resampling.BICUBIC`, the only filter this module implements.
const PIL_BICUBIC: i64 = 3;

/// preprocessor_config.json of the Hugging Face layout (`CLIPImageProcessor`).
///
/// Unknown fields are ignored. `size` may be `{"shortest_edge": N}` or an int
/// (older configs); `crop_size` may be `{"height": H, "width": W}`, an int or
/// `[H, W]`. Missing fields take `CLIPImageProcessor`'s defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct PreprocessConfig {
    pub shortest_edge: u32,
    pub crop_height: u32,
    pub crop_width: u32,
    pub do_resize: bool,
    pub do_center_crop: bool,
    pub do_rescale: bool,
    pub rescale_factor: f32,
    pub do_normalize: bool,
    pub image_mean: [f32; 3],
    pub image_std: [f32; 3],
    /// Images always come out of [`decode_image`] as RGB; with `false`
    /// transformers would keep other modes and fail on them later, so the
    /// flag only matters for the record.
    pub do_convert_rgb: bool,
}

impl PreprocessConfig {
    /// OpenAI's CLIP settings for a model whose images are `size`×`size`.
    pub fn clip_default(size: u32) -> Self {
        Self {
            shortest_edge: size,
            crop_height: size,
            crop_width: size,
            do_resize: true,
            do_center_crop: true,
            do_rescale: true,
            rescale_factor: (1.0f64 / 255.0) as f32,
            do_normalize: true,
            image_mean: CLIP_MEAN,
            image_std: CLIP_STD,
            do_convert_rgb: true,
        }
    }

    /// preprocessor_config.json as transformers writes it for `CLIPImageProcessor`.
    pub fn to_json(&self) -> String {
        let value = serde_json::json!({
            "image_processor_type": "CLIPImageProcessor",
            "do_resize": self.do_resize,
            "size": {"shortest_edge": self.shortest_edge},
            "resample": 3,
            "do_center_crop": self.do_center_crop,
            "crop_size": {"height": self.crop_height, "width": self.crop_width},
            "do_rescale": self.do_rescale,
            "rescale_factor": self.rescale_factor,
            "do_normalize": self.do_normalize,
            "image_mean": self.image_mean,
            "image_std": self.image_std,
            "do_convert_rgb": self.do_convert_rgb,
        });
        serde_json::to_string_pretty(&value).expect("a config serializes")
    }

    /// Parses preprocessor_config.json; errors name `file_name`.
    pub fn from_json(text: &str, file_name: &str) -> Result<Self> {
        let fail = |message: String| Error::Config {
            file: file_name.to_string(),
            message,
        };
        let root: Value =
            serde_json::from_str(text).map_err(|e| fail(format!("not valid JSON: {e}")))?;
        let obj = root
            .as_object()
            .ok_or_else(|| fail("expected a JSON object".into()))?;
        let field = |key: &str| obj.get(key).filter(|v| !v.is_null());
        let flag = |key: &str, default: bool| -> Result<bool> {
            match field(key) {
                None => Ok(default),
                Some(v) => v
                    .as_bool()
                    .ok_or_else(|| fail(format!("`{key}` must be true or false, got {v}"))),
            }
        };

        let mut cfg = Self::clip_default(224);

        if let Some(size) = field("size") {
            cfg.shortest_edge =
                parse_shortest_edge(size).map_err(|m| fail(format!("`size` {m}")))?;
        }
        if let Some(crop) = field("crop_size") {
            let (h, w) = parse_crop_size(crop).map_err(|m| fail(format!("`crop_size` {m}")))?;
            cfg.crop_height = h;
            cfg.crop_width = w;
        }
        if let Some(resample) = field("resample")
            && resample.as_i64() != Some(PIL_BICUBIC)
        {
            return Err(fail(format!(
                "`resample` is {resample}, but only 3 (bicubic) is supported"
            )));
        }
        cfg.do_resize = flag("do_resize", true)?;
        cfg.do_center_crop = flag("do_center_crop", true)?;
        cfg.do_rescale = flag("do_rescale", true)?;
        cfg.do_normalize = flag("do_normalize", true)?;
        cfg.do_convert_rgb = flag("do_convert_rgb", true)?;
        if let Some(v) = field("rescale_factor") {
            let f = v
                .as_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| fail(format!("`rescale_factor` must be a number, got {v}")))?;
            cfg.rescale_factor = f as f32;
        }
        if let Some(v) = field("image_mean") {
            cfg.image_mean = parse_channels(v).map_err(|m| fail(format!("`image_mean` {m}")))?;
        }
        if let Some(v) = field("image_std") {
            cfg.image_std = parse_channels(v).map_err(|m| fail(format!("`image_std` {m}")))?;
            if cfg.image_std.contains(&0.0) {
                return Err(fail("`image_std` must not contain 0".into()));
            }
        }
        Ok(cfg)
    }

    /// Size (width, height) that the resize step gives an image of `width`×`height`.
    pub fn resized_size(&self, width: u32, height: u32) -> (u32, u32) {
        if self.do_resize {
            shortest_edge_size(width, height, self.shortest_edge)
        } else {
            (width, height)
        }
    }
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        Self::clip_default(224)
    }
}

/// The largest resize or crop size accepted, twice the largest image side a
/// model config may ask for.
const MAX_SIZE: u64 = 16_384;

fn positive_u32(v: &Value) -> std::result::Result<u32, String> {
    v.as_u64()
        .filter(|n| (1..=MAX_SIZE).contains(n))
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("must be an integer from 1 to {MAX_SIZE}, got {v}"))
}

fn parse_shortest_edge(v: &Value) -> std::result::Result<u32, String> {
    if v.is_number() {
        return positive_u32(v);
    }
    if let Some(obj) = v.as_object() {
        let keys: Vec<&str> = obj
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.as_str())
            .collect();
        if keys == ["shortest_edge"] {
            return positive_u32(&obj["shortest_edge"]);
        }
        return Err(format!(
            "has keys {keys:?}; only {{\"shortest_edge\": N}} (shortest-edge resize) is supported"
        ));
    }
    Err(format!(
        "must be {{\"shortest_edge\": N}} or an integer, got {v}"
    ))
}

fn parse_crop_size(v: &Value) -> std::result::Result<(u32, u32), String> {
    if v.is_number() {
        let n = positive_u32(v)?;
        return Ok((n, n));
    }
    if let Some(obj) = v.as_object() {
        return match (obj.get("height"), obj.get("width")) {
            (Some(h), Some(w)) => Ok((positive_u32(h)?, positive_u32(w)?)),
            _ => Err(format!("must have `height` and `width`, got {v}")),
        };
    }
    if let Some([h, w]) = v.as_array().map(Vec::as_slice) {
        return Ok((positive_u32(h)?, positive_u32(w)?));
    }
    Err(format!(
        "must be {{\"height\": H, \"width\": W}} or an integer, got {v}"
    ))
}

fn parse_channels(v: &Value) -> std::result::Result<[f32; 3], String> {
    let num = |x: &Value| {
        x.as_f64()
            .filter(|f| f.is_finite())
            .map(|f| f as f32)
            .ok_or_else(|| format!("must hold numbers, got {x}"))
    };
    if v.is_number() {
        let x = num(v)?;
        return Ok([x; 3]);
    }
    match v.as_array().map(Vec::as_slice) {
        Some([r, g, b]) => Ok([num(r)?, num(g)?, num(b)?]),
        _ => Err(format!("must be a number or a list of 3 numbers, got {v}")),
    }
}

/// transformers' `get_resize_output_image_size(..., default_to_square=False)`:
/// the short side becomes `size`, the long side `int(size * long / short)`.
/// Returns (width, height).
pub fn shortest_edge_size(width: u32, height: u32, size: u32) -> (u32, u32) {
    if width == 0 || height == 0 {
        return (width, height);
    }
    let (short, long) = if width <= height {
        (width, height)
    } else {
        (height, width)
    };
    // Python divides the exact integer product; both operands are exact in f64
    // and IEEE division rounds the same way, then int() truncates.
    let new_long = (u64::from(size) * u64::from(long)) as f64 / f64::from(short);
    let new_long = new_long.min(f64::from(u32::MAX)) as u32;
    if width <= height {
        (size, new_long)
    } else {
        (new_long, size)
    }
}
