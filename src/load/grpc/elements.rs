//! The request file's tensors as `raw_input_contents`: each element checked against its
//! datatype and written little-endian, as the server reads it (whole numbers written as
//! floats included); what is wrong with an input, in words.

use serde_json::Value;

/// What is wrong with one input of the request file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputProblem {
    #[error("no \"datatype\"")]
    NoDatatype,
    #[error("\"shape\" is not an array of non-negative integers")]
    BadShape,
    #[error("no \"data\" (the binary extension's binary_data_size is REST only)")]
    NoData,
    #[error("shape {0:?} has more elements than can be counted")]
    Uncountable(Vec<i64>),
    #[error("shape {shape:?} needs {needs} elements but \"data\" has {has}")]
    Count {
        shape: Vec<i64>,
        needs: i64,
        has: usize,
    },
    #[error("element {index} ({value}) is not a valid {datatype} value{hint}")]
    Element {
        index: usize,
        value: String,
        datatype: &'static str,
        hint: &'static str,
    },
    #[error("datatype {0:?} is not supported by --grpc (BOOL, INT8-64, UINT8-64, FP32, FP64 are)")]
    Unsupported(String),
}

pub(super) fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other),
    }
}

/// The largest magnitude below which every whole `f64` is exactly the integer it was written
/// as: past 2^53 a number written with a decimal point (`9007199254740993.0`) may already
/// have been rounded by the JSON reader.
const EXACT_FLOAT_INT: f64 = 9_007_199_254_740_992.0;

/// An element for an integer datatype: an integer, or a whole number written as a float
/// (`3.0`, `-0.0`, `1e2`), as the server takes it; None for anything else.
fn whole<T: TryFrom<i64> + TryFrom<u64>>(v: &Value) -> Option<T> {
    let Value::Number(n) = v else { return None };
    if let Some(i) = n.as_i64() {
        return T::try_from(i).ok();
    }
    if let Some(u) = n.as_u64() {
        return T::try_from(u).ok();
    }
    let f = n.as_f64()?;
    // Within ±2^53 the cast is exact, so a whole float is the integer it names.
    (f.fract() == 0.0 && f.abs() <= EXACT_FLOAT_INT)
        .then(|| T::try_from(f as i64).ok())
        .flatten()
}

/// Why an element does not fit its datatype, beyond what the datatype's name says.
fn element_hint(v: &Value) -> &'static str {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() > EXACT_FLOAT_INT => {
            ": past 2^53 write a whole number without a decimal point or exponent, so it stays exact"
        }
        _ => "",
    }
}

/// The elements as little-endian bytes of `datatype`, each checked to fit it.
pub(super) fn raw(datatype: &str, elems: &[&Value]) -> Result<Vec<u8>, InputProblem> {
    let mut out = Vec::new();
    let bad = |index: usize, v: &Value, datatype: &'static str| InputProblem::Element {
        index,
        value: v.to_string(),
        datatype,
        hint: element_hint(v),
    };
    macro_rules! ints {
        ($t:ty, $name:literal) => {{
            for (ix, v) in elems.iter().enumerate() {
                let n = whole::<$t>(v).ok_or_else(|| bad(ix, v, $name))?;
                out.extend_from_slice(&n.to_le_bytes());
            }
        }};
    }
    macro_rules! floats {
        ($t:ty, $name:literal) => {{
            for (ix, v) in elems.iter().enumerate() {
                let f = v.as_f64().ok_or_else(|| bad(ix, v, $name))?;
                out.extend_from_slice(&(f as $t).to_le_bytes());
            }
        }};
    }
    match datatype {
        "BOOL" => {
            for (ix, v) in elems.iter().enumerate() {
                let b = match v {
                    Value::Bool(b) => *b,
                    other => match whole::<u8>(other) {
                        Some(0) => false,
                        Some(1) => true,
                        _ => return Err(bad(ix, v, "BOOL")),
                    },
                };
                out.push(u8::from(b));
            }
        }
        "INT8" => ints!(i8, "INT8"),
        "INT16" => ints!(i16, "INT16"),
        "INT32" => ints!(i32, "INT32"),
        "INT64" => ints!(i64, "INT64"),
        "UINT8" => ints!(u8, "UINT8"),
        "UINT16" => ints!(u16, "UINT16"),
        "UINT32" => ints!(u32, "UINT32"),
        "UINT64" => ints!(u64, "UINT64"),
        "FP32" => floats!(f32, "FP32"),
        "FP64" => floats!(f64, "FP64"),
        other => return Err(InputProblem::Unsupported(other.to_owned())),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_written_as_floats_reach_integer_inputs_as_the_server_takes_them() {
        let ints = |data: &str| {
            let json = format!(
                r#"{{"inputs": [{{"name": "a", "shape": [-1], "datatype": "INT64", "data": {data}}}]}}"#
            )
            .replace("[-1]", &format!("[{}]", data.matches(',').count() + 1));
            super::super::request(json.as_bytes(), "m", "").map(|m| {
                m.raw_input_contents[0]
                    .chunks(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            ints("[3.0, -0.0, 1e2, -9007199254740992.0]"),
            Ok(vec![3, 0, 100, -9_007_199_254_740_992])
        );
        let problem = |data: &str| match ints(data) {
            Err(super::super::GrpcRequestError::Input { problem, .. }) => problem,
            other => panic!("{data}: {other:?}"),
        };
        for fraction in ["[2.5]", "[1.0000001]", "[1e-300]"] {
            assert!(
                matches!(
                    problem(fraction),
                    InputProblem::Element {
                        index: 0,
                        hint: "",
                        ..
                    }
                ),
                "{fraction}"
            );
        }
        let e = problem("[1, 9007199254740994.0]");
        assert!(matches!(e, InputProblem::Element { index: 1, .. }), "{e:?}");
        assert!(e.to_string().contains("without a decimal point"), "{e}");
        assert_eq!(ints("[9007199254740994]"), Ok(vec![9_007_199_254_740_994]));
    }
}
