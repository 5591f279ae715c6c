//! The Open Inference Protocol (KServe v2) REST inference request and response, with the
//! binary tensor data extension in both directions.

use serde::Deserialize;
use serde::ser::{Serialize, SerializeSeq, Serializer};
use serde_json::{Map, Value};
use tract_onnx::prelude::{Tensor, f16};

use crate::dtype::DType;
use crate::error::ApiError;
use crate::model::TensorSpec;

pub const HEADER_LEN: &str = "inference-header-content-length";

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct InferRequest {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    pub inputs: Vec<InputTensor>,
    #[serde(default)]
    pub outputs: Option<Vec<RequestedOutput>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct InputTensor {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    /// Kept raw and parsed by the fast numeric-array path (falling back to serde for errors).
    #[serde(default)]
    pub data: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RequestedOutput {
    pub name: String,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
}

/// A validated request: tensors in the model's input order, and what to send back.
pub struct Prepared {
    pub id: Option<String>,
    pub inputs: Vec<Tensor>,
    pub rows: usize,
    /// (output index in the model, answer as binary)
    pub outputs: Vec<(usize, bool)>,
}

/// Split a body into its JSON header and binary tail when the extension header is present.
pub fn split_body<'a>(
    body: &'a [u8],
    header_len: Option<&str>,
) -> Result<(&'a [u8], &'a [u8]), ApiError> {
    match header_len {
        None => Ok((body, &[])),
        Some(v) => {
            let n: usize = v.trim().parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "Inference-Header-Content-Length {v:?} is not a byte count"
                ))
            })?;
            if n > body.len() {
                return Err(ApiError::bad_request(format!(
                    "Inference-Header-Content-Length is {n} but the body has only {} bytes",
                    body.len()
                )));
            }
            Ok(body.split_at(n))
        }
    }
}

fn param_u64(p: &Option<Map<String, Value>>, key: &str) -> Result<Option<u64>, ApiError> {
    match p.as_ref().and_then(|m| m.get(key)) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            ApiError::bad_request(format!(
                "parameter {key:?} must be a non-negative integer, got {v}"
            ))
        }),
    }
}

fn param_bool(p: &Option<Map<String, Value>>, key: &str) -> Result<bool, ApiError> {
    match p.as_ref().and_then(|m| m.get(key)) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(ApiError::bad_request(format!(
            "parameter {key:?} must be true or false, got {v}"
        ))),
    }
}

/// Check a request against the model and build its tensors.
pub fn prepare(
    req: InferRequest,
    binary: &[u8],
    inputs: &[TensorSpec],
    outputs: &[TensorSpec],
    batchable: bool,
) -> Result<Prepared, ApiError> {
    let mut slots: Vec<Option<Tensor>> = vec![None; inputs.len()];
    let mut offset = 0usize;
    let mut rows: Option<usize> = None;
    for t in req.inputs {
        let Checked { ix, dtype, shape } = check_input(
            &t.name,
            &t.datatype,
            &t.shape,
            inputs,
            batchable,
            &slots,
            &mut rows,
        )?;
        let count: usize = shape.iter().product();
        let tensor = match (param_u64(&t.parameters, "binary_data_size")?, t.data) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(format!(
                    "input {:?} has both \"data\" and a binary_data_size parameter",
                    t.name
                )));
            }
            (Some(n), None) => {
                let n = n as usize;
                let bytes = binary.get(offset..offset.saturating_add(n)).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "input {:?}: binary_data_size {n} runs past the end of the binary data ({} bytes left)",
                        t.name,
                        binary.len().saturating_sub(offset)
                    ))
                })?;
                offset += n;
                dtype.tensor_from_bytes(&t.name, &shape, bytes)?
            }
            (None, Some(raw)) => {
                let data = super::fastarray::parse_data(raw.get().as_bytes()).map_err(|e| {
                    ApiError::bad_request(format!("input {:?}: invalid data: {e}", t.name))
                })?;
                if data.nums.len() != count {
                    return Err(ApiError::bad_request(format!(
                        "input {:?}: shape {:?} needs {count} elements but data has {}",
                        t.name,
                        t.shape,
                        data.nums.len()
                    )));
                }
                dtype.tensor_from_nums(&t.name, &shape, &data.nums)?
            }
            (None, None) => {
                return Err(ApiError::bad_request(format!(
                    "input {:?} has neither \"data\" nor a binary_data_size parameter",
                    t.name
                )));
            }
        };
        slots[ix] = Some(tensor);
    }
    if offset != binary.len() {
        return Err(ApiError::bad_request(format!(
            "the body carries {} bytes of binary data but the inputs' binary_data_size add up to {offset}",
            binary.len()
        )));
    }
    let tensors = all_inputs(slots, inputs)?;
    let all_binary = param_bool(&req.parameters, "binary_data_output")?;
    let wanted = match req.outputs {
        None => (0..outputs.len()).map(|i| (i, all_binary)).collect(),
        Some(list) => {
            let mut v = Vec::new();
            for o in list {
                let ix = output_index(&o.name, outputs)?;
                let bin = match o.parameters.as_ref().and_then(|m| m.get("binary_data")) {
                    None => all_binary,
                    Some(_) => param_bool(&o.parameters, "binary_data")?,
                };
                v.push((ix, bin));
            }
            v
        }
    };
    Ok(Prepared {
        id: req.id,
        inputs: tensors,
        rows: rows.unwrap_or(1),
        outputs: wanted,
    })
}

/// An input's name, datatype and shape checked against the model (the same for every protocol).
pub(crate) struct Checked {
    /// Its index in the model's inputs.
    pub ix: usize,
    pub dtype: DType,
    pub shape: Vec<usize>,
}

/// Check one input's declaration: a known name not given before, the model's datatype, a shape
/// that fits, and (for batchable models) the same batch size as the inputs before it.
pub(crate) fn check_input(
    name: &str,
    datatype: &str,
    shape: &[i64],
    inputs: &[TensorSpec],
    batchable: bool,
    slots: &[Option<Tensor>],
    rows: &mut Option<usize>,
) -> Result<Checked, ApiError> {
    let ix = inputs.iter().position(|s| s.name == name).ok_or_else(|| {
        let names: Vec<&str> = inputs.iter().map(|s| s.name.as_str()).collect();
        ApiError::bad_request(format!(
            "unknown input {name:?}; the model's inputs are {names:?}"
        ))
    })?;
    if slots.get(ix).is_some_and(Option::is_some) {
        return Err(ApiError::bad_request(format!(
            "input {name:?} is given twice"
        )));
    }
    let spec = &inputs[ix];
    let dtype = DType::from_kserve(datatype).ok_or_else(|| {
        ApiError::bad_request(format!(
            "input {name:?}: unknown or unsupported datatype {datatype:?}"
        ))
    })?;
    if dtype != spec.dtype {
        return Err(ApiError::bad_request(format!(
            "input {name:?}: datatype {datatype} does not match the model's {}",
            spec.dtype.kserve_name()
        )));
    }
    let shape = check_shape(name, shape, spec)?;
    if batchable {
        let r = shape[0];
        let agreed = *rows.get_or_insert(r);
        if agreed != r {
            return Err(ApiError::bad_request(format!(
                "input {name:?}: batch size {r} differs from the other inputs' {agreed}"
            )));
        }
    }
    Ok(Checked { ix, dtype, shape })
}

/// Every input filled, in the model's order, or the first missing one named.
pub(crate) fn all_inputs(
    slots: Vec<Option<Tensor>>,
    inputs: &[TensorSpec],
) -> Result<Vec<Tensor>, ApiError> {
    slots
        .into_iter()
        .zip(inputs)
        .map(|(slot, spec)| {
            slot.ok_or_else(|| ApiError::bad_request(format!("missing input {:?}", spec.name)))
        })
        .collect()
}

/// A requested output's index in the model's outputs.
pub(crate) fn output_index(name: &str, outputs: &[TensorSpec]) -> Result<usize, ApiError> {
    outputs.iter().position(|s| s.name == name).ok_or_else(|| {
        let names: Vec<&str> = outputs.iter().map(|s| s.name.as_str()).collect();
        ApiError::bad_request(format!(
            "unknown output {name:?}; the model's outputs are {names:?}"
        ))
    })
}

fn check_shape(name: &str, shape: &[i64], spec: &TensorSpec) -> Result<Vec<usize>, ApiError> {
    if shape.len() != spec.shape.len() {
        return Err(ApiError::bad_request(format!(
            "input {name:?}: shape {shape:?} has rank {} but the model expects rank {} ({:?})",
            shape.len(),
            spec.shape.len(),
            spec.kserve_shape()
        )));
    }
    let mut out = Vec::with_capacity(shape.len());
    for (ix, (got, want)) in shape.iter().zip(&spec.shape).enumerate() {
        let d = usize::try_from(*got)
            .ok()
            .filter(|d| *d > 0)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "input {name:?}: dimension {ix} is {got}; it must be positive"
                ))
            })?;
        if let Some(w) = want
            && *w != d
        {
            return Err(ApiError::bad_request(format!(
                "input {name:?}: shape {shape:?} does not fit the model's {:?} (dimension {ix} must be {w})",
                spec.kserve_shape()
            )));
        }
        out.push(d);
    }
    if out
        .iter()
        .try_fold(1usize, |n, d| n.checked_mul(*d))
        .is_none()
    {
        return Err(ApiError::bad_request(format!(
            "input {name:?}: shape {shape:?} has more elements than fit in memory"
        )));
    }
    Ok(out)
}

/// Serialize a tensor's elements as a flat JSON array.
pub struct FlatJson<'a>(pub &'a Tensor);

impl Serialize for FlatJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let view = t.try_as_plain_ram().map_err(serde::ser::Error::custom)?;
        macro_rules! emit {
            ($ty:ty, $conv:expr) => {{
                let data = view.as_slice::<$ty>().map_err(serde::ser::Error::custom)?;
                let mut seq = s.serialize_seq(Some(data.len()))?;
                for v in data {
                    seq.serialize_element(&$conv(*v))?;
                }
                seq.end()
            }};
        }
        use tract_onnx::prelude::DatumType as D;
        match t.datum_type() {
            D::Bool => emit!(bool, |v| v),
            D::U8 => emit!(u8, |v| v),
            D::U16 => emit!(u16, |v| v),
            D::U32 => emit!(u32, |v| v),
            D::U64 => emit!(u64, |v| v),
            D::I8 => emit!(i8, |v| v),
            D::I16 => emit!(i16, |v| v),
            D::I32 => emit!(i32, |v| v),
            D::I64 => emit!(i64, |v| v),
            D::F16 => emit!(f16, |v: f16| v.to_f32()),
            D::F32 => emit!(f32, |v| v),
            D::F64 => emit!(f64, |v| v),
            other => Err(serde::ser::Error::custom(format!(
                "cannot serialize datatype {other:?}"
            ))),
        }
    }
}

/// Build the response: (content type, header length if binary, body).
pub fn respond(
    model_name: &str,
    model_version: &str,
    prepared_id: Option<String>,
    wanted: &[(usize, bool)],
    specs: &[TensorSpec],
    tensors: &[Tensor],
) -> Result<(Option<usize>, Vec<u8>), ApiError> {
    let mut outs = Vec::with_capacity(wanted.len());
    let mut tail: Vec<u8> = Vec::new();
    for (ix, binary) in wanted {
        let t = tensors.get(*ix).ok_or_else(|| {
            ApiError::internal("the model returned fewer outputs than it declares")
        })?;
        let spec = &specs[*ix];
        let dtype = DType::from_datum(t.datum_type()).unwrap_or(spec.dtype);
        let mut o = serde_json::json!({
            "name": spec.name,
            "datatype": dtype.kserve_name(),
            "shape": t.shape(),
        });
        if *binary {
            let bytes = t.as_bytes();
            o["parameters"] = serde_json::json!({ "binary_data_size": bytes.len() });
            tail.extend_from_slice(bytes);
        } else {
            o["data"] =
                serde_json::to_value(FlatJson(t)).map_err(|e| ApiError::internal(e.to_string()))?;
        }
        outs.push(o);
    }
    let mut head = serde_json::json!({
        "model_name": model_name,
        "model_version": model_version,
        "outputs": outs,
    });
    if let Some(id) = prepared_id {
        head["id"] = Value::String(id);
    }
    let mut body = serde_json::to_vec(&head).map_err(|e| ApiError::internal(e.to_string()))?;
    if wanted.iter().any(|(_, b)| *b) {
        let n = body.len();
        body.extend_from_slice(&tail);
        Ok((Some(n), body))
    } else {
        Ok((None, body))
    }
}
