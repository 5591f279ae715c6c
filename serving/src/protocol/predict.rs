//! The pipeline's simple API: `POST /predict` with a nested JSON array for a single-input model,
//! answered as `{"prediction": [...]}` (the first output, nested by its shape).

use serde::ser::{Serialize, SerializeSeq, Serializer};
use serde_json::Value;
use tract_onnx::prelude::Tensor;

use super::v2::FlatJson;
use crate::error::ApiError;
use crate::model::TensorSpec;

/// Build the single input tensor from the nested array. A batchable model also takes one
/// example without the batch axis.
pub fn prepare(
    body: &[u8],
    input: &TensorSpec,
    batchable: bool,
) -> Result<(Tensor, usize), ApiError> {
    let data = super::fastarray::parse_data(body).map_err(|e| {
        ApiError::bad_request(format!("body is not a nested JSON array of numbers: {e}"))
    })?;
    let mut shape = data.shape.clone();
    if batchable && shape.len() + 1 == input.shape.len() {
        shape.insert(0, 1);
    }
    let fits = shape.len() == input.shape.len()
        && shape
            .iter()
            .zip(&input.shape)
            .all(|(got, want)| *got > 0 && want.is_none_or(|w| w == *got));
    if !fits {
        return Err(ApiError::bad_request(format!(
            "array of shape {:?} does not fit input {:?} of shape {:?} (-1 is free)",
            data.shape,
            input.name,
            input.kserve_shape()
        )));
    }
    let rows = if batchable { shape[0] } else { 1 };
    let t = input
        .dtype
        .tensor_from_nums(&input.name, &shape, &data.nums)?;
    Ok((t, rows))
}

/// `{"prediction": nested}` for the first output.
pub fn respond(t: &Tensor) -> Result<Vec<u8>, ApiError> {
    let flat = serde_json::to_value(FlatJson(t)).map_err(|e| ApiError::internal(e.to_string()))?;
    let Value::Array(items) = flat else {
        return Err(ApiError::internal("output did not serialize as an array"));
    };
    let nested = Nested {
        shape: t.shape(),
        items: &items,
    };
    serde_json::to_vec(&serde_json::json!({ "prediction": nested }))
        .map_err(|e| ApiError::internal(e.to_string()))
}

struct Nested<'a> {
    shape: &'a [usize],
    items: &'a [Value],
}

impl Serialize for Nested<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.shape {
            [] => self.items.first().unwrap_or(&Value::Null).serialize(s),
            [n, rest @ ..] => {
                let stride: usize = rest.iter().product();
                let mut seq = s.serialize_seq(Some(*n))?;
                for i in 0..*n {
                    let items = self.items.get(i * stride..(i + 1) * stride).unwrap_or(&[]);
                    seq.serialize_element(&Nested { shape: rest, items })?;
                }
                seq.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;

    fn spec(shape: Vec<Option<usize>>) -> TensorSpec {
        TensorSpec {
            name: "x".into(),
            dtype: DType::F32,
            shape,
        }
    }

    #[test]
    fn shapes() {
        let s = spec(vec![None, Some(2)]);
        let (t, rows) = prepare(b"[[1,2],[3,4],[5,6]]", &s, true).unwrap();
        assert_eq!((t.shape(), rows), (&[3usize, 2][..], 3));
        let (t, rows) = prepare(b"[1,2]", &s, true).unwrap();
        assert_eq!((t.shape(), rows), (&[1usize, 2][..], 1));
        let e = prepare(b"[[1,2,3]]", &s, true).unwrap_err();
        assert!(e.message.contains("does not fit"), "{}", e.message);
        let e = prepare(b"[[1,2],[3]]", &s, true).unwrap_err();
        assert!(e.message.contains("ragged"), "{}", e.message);
        let e = prepare(b"{\"x\": 1}", &s, true).unwrap_err();
        assert!(e.message.contains("nested JSON array"), "{}", e.message);
    }

    #[test]
    fn nests_by_shape() {
        let t = Tensor::from_shape(&[2, 3], &[1f32, 2., 3., 4., 5., 6.]).unwrap();
        let body = String::from_utf8(respond(&t).unwrap()).unwrap();
        assert_eq!(body, r#"{"prediction":[[1.0,2.0,3.0],[4.0,5.0,6.0]]}"#);
    }
}
