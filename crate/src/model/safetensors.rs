//! Reading a `model.safetensors` file: its length from its first bytes, and
//! its tensors one at a time from wherever its bytes are.

use std::borrow::Cow;
use std::ops::Range;

use safetensors::Dtype;
use safetensors::tensor::Metadata;

/// The safetensors format's own bound on the header (100 MB).
pub const MAX_SAFETENSORS_HEADER: u64 = 100_000_000;

/// The length of a whole safetensors file, read from its start: 8 bytes of
/// header length, the JSON header, then tensors up to the largest end offset.
/// `head` must hold at least the 8 bytes and the header. A download or a
/// disk read of another length is damaged, whatever else it holds.
pub fn safetensors_len(head: &[u8]) -> std::result::Result<u64, String> {
    let not_header = |why: &str| format!("has no valid safetensors header ({why})");
    let prefix: [u8; 8] = head
        .get(..8)
        .and_then(|p| p.try_into().ok())
        .ok_or_else(|| "is shorter than a safetensors header (8 bytes)".to_string())?;
    let header_len = header_len(prefix)?;
    let header = head
        .get(8..8 + header_len as usize)
        .ok_or_else(|| format!("ends inside its {header_len}-byte header: it is truncated"))?;
    let value: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| not_header(&e.to_string()))?;
    let tensors = value
        .as_object()
        .ok_or_else(|| not_header("not a JSON object"))?;
    let data_len = tensors
        .iter()
        .filter(|(name, _)| *name != "__metadata__")
        .map(|(name, tensor)| {
            tensor["data_offsets"][1]
                .as_u64()
                .ok_or_else(|| not_header(&format!("tensor `{name}` has no data_offsets")))
        })
        .try_fold(0u64, |len, end| Ok::<_, String>(len.max(end?)))?;
    Ok(8 + header_len + data_len)
}

/// The header's length from the file's first 8 bytes, within the format's
/// bound.
fn header_len(prefix: [u8; 8]) -> Result<u64, String> {
    let header_len = u64::from_le_bytes(prefix);
    if header_len > MAX_SAFETENSORS_HEADER {
        return Err(format!(
            "declares a header of {header_len} bytes (at most {MAX_SAFETENSORS_HEADER}); \
             it is not a safetensors file"
        ));
    }
    Ok(header_len)
}

/// A safetensors file's bytes: in memory, or in a browser's buffer outside
/// the module's memory, copied in one tensor at a time so that the file is
/// never held twice while the model is built from it.
pub trait WeightBytes {
    fn byte_len(&self) -> usize;
    /// The bytes in `range` (within [`WeightBytes::byte_len`]).
    fn read(&self, range: Range<usize>) -> Cow<'_, [u8]>;
}

impl WeightBytes for &[u8] {
    fn byte_len(&self) -> usize {
        self.len()
    }

    fn read(&self, range: Range<usize>) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self[range])
    }
}

impl WeightBytes for Vec<u8> {
    fn byte_len(&self) -> usize {
        self.len()
    }

    fn read(&self, range: Range<usize>) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self[range])
    }
}

/// A safetensors file whose header has been read and checked: every tensor
/// lies within the file, one after the other, sized by its dtype and shape,
/// and the file ends where the last one does.
pub struct WeightFile<'a> {
    metadata: Metadata,
    data_start: usize,
    bytes: &'a dyn WeightBytes,
}

/// One tensor of a [`WeightFile`].
pub struct StoredTensor<'a> {
    pub dtype: Dtype,
    pub shape: &'a [usize],
    pub data: Cow<'a, [u8]>,
}

impl<'a> WeightFile<'a> {
    /// Reads the header; the error says what is wrong with the file.
    pub fn open(bytes: &'a dyn WeightBytes) -> Result<Self, String> {
        let len = bytes.byte_len();
        let prefix: [u8; 8] = match len >= 8 {
            true => bytes.read(0..8).as_ref().try_into().expect("8 bytes"),
            false => return Err("it is shorter than its 8-byte header length".into()),
        };
        let header_len = header_len(prefix)?;
        if 8 + header_len > len as u64 {
            return Err(format!(
                "its header length {header_len} does not fit the file's {len} bytes"
            ));
        }
        let data_start = 8 + header_len as usize;
        let metadata: Metadata = serde_json::from_slice(&bytes.read(8..data_start))
            .map_err(|e| format!("its header is not valid: {e}"))?;
        let data_len = metadata
            .tensors()
            .values()
            .map(|info| info.data_offsets.1)
            .max()
            .unwrap_or(0);
        if data_start + data_len != len {
            return Err(format!(
                "its header describes {} bytes, the file has {len}",
                data_start + data_len
            ));
        }
        Ok(Self {
            metadata,
            data_start,
            bytes,
        })
    }

    /// The tensor called `name`, its bytes read now.
    pub fn tensor(&self, name: &str) -> Option<StoredTensor<'_>> {
        let info = self.metadata.info(name)?;
        let (start, end) = info.data_offsets;
        Some(StoredTensor {
            dtype: info.dtype,
            shape: &info.shape,
            data: self
                .bytes
                .read(self.data_start + start..self.data_start + end),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;

    fn file() -> Vec<u8> {
        let (a, b) = ([1u8, 2, 3, 4, 5, 6, 7, 8], [9u8, 10]);
        let views = [
            ("a", TensorView::new(Dtype::F32, vec![2], &a).unwrap()),
            ("b", TensorView::new(Dtype::F16, vec![1], &b).unwrap()),
        ];
        safetensors::serialize(views, None).unwrap()
    }

    #[test]
    fn tensors_are_read_where_the_header_puts_them() {
        let bytes = file();
        let file = WeightFile::open(&bytes).unwrap();
        let a = file.tensor("a").unwrap();
        assert_eq!((a.dtype, a.shape), (Dtype::F32, &[2][..]));
        assert_eq!(&a.data[..], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&file.tensor("b").unwrap().data[..], &[9, 10]);
        assert!(file.tensor("c").is_none());
    }

    #[test]
    fn damaged_files_are_refused_with_the_reason() {
        let bytes = file();
        let why = |bytes: &[u8]| WeightFile::open(&bytes).err().unwrap_or_default();
        assert!(why(&bytes[..5]).contains("shorter than"));
        assert!(why(&bytes[..bytes.len() - 1]).contains("the file has"));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(why(&longer).contains("the file has"));
        let mut huge_header = bytes.clone();
        huge_header[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(why(&huge_header).contains("it is not a safetensors file"));
        let mut long_header = bytes.clone();
        long_header[..8].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        assert!(why(&long_header).contains("does not fit"));
        let mut bad_json = bytes.clone();
        bad_json[8] = b'[';
        assert!(why(&bad_json).contains("not valid"));
        assert_eq!(why(&bytes), "");
    }
}
