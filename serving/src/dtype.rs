//! Tensor datatypes as the Open Inference Protocol names them, mapped to tract's.

use tract_onnx::prelude::{DatumType, Tensor, f16};

use crate::protocol::json::Num;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    Bool,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F16,
    F32,
    F64,
}

impl DType {
    pub const ALL: [DType; 12] = [
        DType::Bool,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::F16,
        DType::F32,
        DType::F64,
    ];

    pub fn kserve_name(self) -> &'static str {
        match self {
            DType::Bool => "BOOL",
            DType::U8 => "UINT8",
            DType::U16 => "UINT16",
            DType::U32 => "UINT32",
            DType::U64 => "UINT64",
            DType::I8 => "INT8",
            DType::I16 => "INT16",
            DType::I32 => "INT32",
            DType::I64 => "INT64",
            DType::F16 => "FP16",
            DType::F32 => "FP32",
            DType::F64 => "FP64",
        }
    }

    pub fn from_kserve(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.kserve_name() == name)
    }

    pub fn datum(self) -> DatumType {
        match self {
            DType::Bool => DatumType::Bool,
            DType::U8 => DatumType::U8,
            DType::U16 => DatumType::U16,
            DType::U32 => DatumType::U32,
            DType::U64 => DatumType::U64,
            DType::I8 => DatumType::I8,
            DType::I16 => DatumType::I16,
            DType::I32 => DatumType::I32,
            DType::I64 => DatumType::I64,
            DType::F16 => DatumType::F16,
            DType::F32 => DatumType::F32,
            DType::F64 => DatumType::F64,
        }
    }

    pub fn from_datum(dt: DatumType) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.datum() == dt)
    }

    pub fn size(self) -> usize {
        self.datum().size_of()
    }

    /// The smallest and largest value of an integer type; `None` for BOOL and the float types.
    pub fn int_range(self) -> Option<(i128, i128)> {
        Some(match self {
            DType::U8 => (0, u8::MAX.into()),
            DType::U16 => (0, u16::MAX.into()),
            DType::U32 => (0, u32::MAX.into()),
            DType::U64 => (0, u64::MAX.into()),
            DType::I8 => (i8::MIN.into(), i8::MAX.into()),
            DType::I16 => (i16::MIN.into(), i16::MAX.into()),
            DType::I32 => (i32::MIN.into(), i32::MAX.into()),
            DType::I64 => (i64::MIN.into(), i64::MAX.into()),
            DType::Bool | DType::F16 | DType::F32 | DType::F64 => return None,
        })
    }

    /// What a JSON element of this type may be, for an error that names it.
    fn takes(self) -> String {
        let name = self.kserve_name();
        match (self, self.int_range()) {
            (_, Some((min, max))) => format!(
                "{name} takes whole numbers from {min} to {max} (`3` or `3.0`; not a number with a fraction, however small, shown here as the float it rounds to)"
            ),
            (DType::Bool, None) => "BOOL takes true, false, 0 or 1".to_owned(),
            _ => format!("{name} takes numbers"),
        }
    }

    /// Build a tensor of this type from JSON numbers, refusing values the type cannot hold.
    pub fn tensor_from_nums(
        self,
        input: &str,
        shape: &[usize],
        nums: &[Num],
    ) -> Result<Tensor, TensorError> {
        let bad = |ix: usize, v: &Num| TensorError::BadElement {
            input: input.to_string(),
            index: ix,
            value: v.to_string(),
            dtype: self.kserve_name(),
            takes: self.takes(),
        };
        macro_rules! ints {
            ($t:ty) => {{
                let mut out: Vec<$t> = Vec::with_capacity(nums.len());
                for (ix, v) in nums.iter().enumerate() {
                    let x = match *v {
                        Num::I(i) => <$t>::try_from(i).ok(),
                        Num::U(u) => <$t>::try_from(u).ok(),
                        // The parser gives every number written as a whole one within 64
                        // bits (`3`, `3.0`, `3e0`) as an integer, exactly; a float here was
                        // written with a fraction (`1.5`, `1.0000000000000001`, which rounds
                        // to 1.0 but is not 1) or beyond 64 bits, and taking it would change
                        // the value sent.
                        Num::NegZero => Some(0),
                        _ => None,
                    };
                    out.push(x.ok_or_else(|| bad(ix, v))?);
                }
                Tensor::from_shape(shape, &out)
            }};
        }
        macro_rules! floats {
            ($t:ty, $conv:expr) => {{
                let mut out: Vec<$t> = Vec::with_capacity(nums.len());
                for (ix, v) in nums.iter().enumerate() {
                    let f = match *v {
                        Num::F(f) => f,
                        Num::NegZero => -0.0,
                        Num::I(i) => i as f64,
                        Num::U(u) => u as f64,
                        Num::B(_) => return Err(bad(ix, v)),
                    };
                    out.push($conv(f));
                }
                Tensor::from_shape(shape, &out)
            }};
        }
        let t = match self {
            DType::Bool => {
                let mut out = Vec::with_capacity(nums.len());
                for (ix, v) in nums.iter().enumerate() {
                    out.push(match *v {
                        Num::B(b) => b,
                        Num::I(0) | Num::U(0) => false,
                        Num::I(1) | Num::U(1) => true,
                        Num::NegZero => false,
                        _ => return Err(bad(ix, v)),
                    });
                }
                Tensor::from_shape(shape, &out)
            }
            DType::U8 => ints!(u8),
            DType::U16 => ints!(u16),
            DType::U32 => ints!(u32),
            DType::U64 => ints!(u64),
            DType::I8 => ints!(i8),
            DType::I16 => ints!(i16),
            DType::I32 => ints!(i32),
            DType::I64 => ints!(i64),
            DType::F16 => floats!(f16, f16::from_f64),
            DType::F32 => floats!(f32, |f: f64| f as f32),
            DType::F64 => floats!(f64, |f: f64| f),
        };
        t.map_err(|e| TensorError::Shape {
            input: input.to_string(),
            reason: e.to_string(),
        })
    }

    /// Build a tensor from raw little-endian bytes (the binary tensor data extension).
    pub fn tensor_from_bytes(
        self,
        input: &str,
        shape: &[usize],
        bytes: &[u8],
    ) -> Result<Tensor, TensorError> {
        let want = shape
            .iter()
            .try_fold(self.size(), |n, d| n.checked_mul(*d))
            .ok_or_else(|| TensorError::Shape {
                input: input.to_string(),
                reason: format!("shape {shape:?} has more elements than fit in memory"),
            })?;
        if bytes.len() != want {
            return Err(TensorError::ByteCount {
                input: input.to_string(),
                got: bytes.len(),
                shape: shape.to_vec(),
                dtype: self.kserve_name(),
                want,
            });
        }
        if self == DType::Bool && bytes.iter().any(|b| *b > 1) {
            return Err(TensorError::BoolBytes {
                input: input.to_string(),
            });
        }
        // SAFETY: the byte count matches shape × element size (checked above), every bit
        // pattern is a valid value for these plain numeric types (bools checked above), and
        // from_raw_dt copies into a properly aligned buffer.
        unsafe { Tensor::from_raw_dt(self.datum(), shape, bytes) }.map_err(|e| TensorError::Shape {
            input: input.to_string(),
            reason: e.to_string(),
        })
    }
}

/// Input data that does not fit its declared datatype or shape: the client's mistake (400,
/// through `From<TensorError> for ApiError`).
#[derive(Debug, thiserror::Error)]
pub enum TensorError {
    #[error("input {input:?}: element {index} ({value}) is not a valid {dtype} value: {takes}")]
    BadElement {
        input: String,
        index: usize,
        value: String,
        dtype: &'static str,
        /// What the datatype takes, in words.
        takes: String,
    },
    #[error(
        "input {input:?}: binary data has {got} bytes but shape {shape:?} of {dtype} needs {want}"
    )]
    ByteCount {
        input: String,
        got: usize,
        shape: Vec<usize>,
        dtype: &'static str,
        want: usize,
    },
    #[error("input {input:?}: BOOL bytes must be 0 or 1")]
    BoolBytes { input: String },
    #[error("input {input:?}: {reason}")]
    Shape { input: String, reason: String },
}

#[cfg(not(target_endian = "little"))]
compile_error!(
    "the binary tensor data extension is little-endian; this server assumes a little-endian target"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::from_kserve(d.kserve_name()), Some(d));
            assert_eq!(DType::from_datum(d.datum()), Some(d));
        }
        assert_eq!(DType::from_kserve("BYTES"), None);
    }

    #[test]
    fn range_checks() {
        let ok = DType::U8.tensor_from_nums("x", &[2], &[Num::I(0), Num::U(255)]);
        assert!(ok.is_ok());
        let e = DType::U8
            .tensor_from_nums("x", &[1], &[Num::I(256)])
            .unwrap_err();
        assert!(e.to_string().contains("element 0"), "{e}");
        // Numbers as a client writes them, through the parser the routes use.
        let parsed = |dtype: DType, text: &str| {
            let data = crate::protocol::fastarray::parse_data(text.as_bytes()).unwrap();
            dtype.tensor_from_nums("x", &[data.nums.len()], &data.nums)
        };
        let i64s = |text: &str| {
            parsed(DType::I64, text).map(|t| {
                t.try_as_plain_ram()
                    .unwrap()
                    .as_slice::<i64>()
                    .unwrap()
                    .to_vec()
            })
        };
        // Whole numbers written as floats are taken exactly, 2^53 and beyond included.
        assert_eq!(
            i64s("[3.0, -9007199254740992.0, 9007199254740993.0, 1E2, 2.50e1, -0.0, 0e7, -9.223372036854775808e18]").unwrap(),
            [3, -9_007_199_254_740_992, 9_007_199_254_740_993, 100, 25, 0, 0, i64::MIN]
        );
        // Not whole, or beyond 64 bits: refused, naming the element, never rounded into range.
        for bad in [
            "[1.5]",
            "[0, 1.0000000000000001]",
            "[-1e-400]",
            "[-9223372036854775809]",
            "[-9.223372036854775809e18]",
            "[1e19]",
            "[1e-400]",
        ] {
            let e = i64s(bad).unwrap_err();
            let e = e.to_string();
            assert!(
                e.contains("element")
                    && e.contains("INT64 takes whole numbers from -9223372036854775808"),
                "{bad}: {e}"
            );
        }
        let e = parsed(DType::U64, "[18446744073709551616.0]").unwrap_err();
        assert!(e.to_string().contains("element 0"), "{e}");
        // BOOL takes 0 and 1 written as floats, as the integer types take whole floats.
        let b = parsed(DType::Bool, "[1.0, 0.0, -0.0, 1e0]").unwrap();
        assert_eq!(
            b.try_as_plain_ram().unwrap().as_slice::<bool>().unwrap(),
            &[true, false, false, true]
        );
        for bad in ["[0.5]", "[1.0000000000000001]", "[2.0]"] {
            assert!(parsed(DType::Bool, bad).is_err(), "{bad}");
        }
        // Float types keep negative zero and what the float literal says.
        let f = parsed(DType::F32, "[-0.0, 1.0000000000000001, 1e2]").unwrap();
        let f = f
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec();
        assert!(f[0] == 0.0 && f[0].is_sign_negative());
        assert_eq!(&f[1..], &[1.0, 100.0]);
        assert!(
            DType::F32
                .tensor_from_nums("x", &[1], &[Num::B(true)])
                .is_err()
        );
        assert!(
            DType::Bool
                .tensor_from_nums("x", &[2], &[Num::B(true), Num::I(0)])
                .is_ok()
        );
        assert!(
            DType::Bool
                .tensor_from_nums("x", &[1], &[Num::I(2)])
                .is_err()
        );
    }

    #[test]
    fn bytes_must_match_shape() {
        let t = DType::F32
            .tensor_from_bytes("x", &[2], &1.5f32.to_le_bytes().repeat(2))
            .unwrap();
        assert_eq!(t.shape(), &[2]);
        let e = DType::F32
            .tensor_from_bytes("x", &[3], &[0u8; 8])
            .unwrap_err();
        assert!(e.to_string().contains("needs 12"), "{e}");
    }
}
