//! gRPC inference messages to tensors and back. The checks an input goes through (its name,
//! datatype, shape, batch size) are REST's own (`protocol::v2`), so both protocols refuse the
//! same requests with the same messages; only where the data sits differs.
//!
//! Input data comes either as typed contents (the field of its datatype) or, for every input
//! at once, as `raw_input_contents` (one little-endian buffer per input). The answer is raw
//! (`raw_output_contents`, as Triton answers) when the inputs came raw, typed otherwise; the
//! request parameter `binary_data_output`, or the requested outputs' `binary_data`, choose
//! explicitly. An FP16 output has no typed field, so an answer carrying one is raw.

use std::collections::HashMap;

use tract_onnx::prelude::{DatumType, Tensor, f16};

use super::pb::infer_parameter::ParameterChoice;
use super::pb::model_infer_response::InferOutputTensor;
use super::pb::{InferParameter, InferTensorContents, ModelInferRequest, ModelInferResponse};
use crate::dtype::{DType, TensorError};
use crate::error::ApiError;
use crate::model::TensorSpec;
use crate::protocol::json::Num;
use crate::protocol::v2::{Checked, all_inputs, check_input, output_index};

/// A checked gRPC request: tensors in the model's input order and what to send back.
#[derive(Debug)]
pub struct Prepared {
    pub id: String,
    pub inputs: Vec<Tensor>,
    pub rows: usize,
    /// Indexes of the outputs to answer, in the order asked.
    pub outputs: Vec<usize>,
    /// Answer in `raw_output_contents` rather than typed contents.
    pub raw: bool,
}

pub fn prepare(
    req: ModelInferRequest,
    inputs: &[TensorSpec],
    outputs: &[TensorSpec],
    batchable: bool,
) -> Result<Prepared, ApiError> {
    let raw_in = !req.raw_input_contents.is_empty();
    if raw_in && req.raw_input_contents.len() != req.inputs.len() {
        return Err(ApiError::bad_request(format!(
            "raw_input_contents has {} entries but the request declares {} inputs: give one per input, in the order of `inputs`",
            req.raw_input_contents.len(),
            req.inputs.len()
        )));
    }
    let mut raw = req.raw_input_contents.into_iter();
    let mut slots: Vec<Option<Tensor>> = vec![None; inputs.len()];
    let mut rows = None;
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
        let contents = t.contents.unwrap_or_default();
        let tensor = match raw.next() {
            Some(bytes) => {
                if let Some(field) = filled_fields(&contents).first() {
                    return Err(ApiError::bad_request(format!(
                        "input {:?} has both {field} and an entry in raw_input_contents: give its data once",
                        t.name
                    )));
                }
                dtype.tensor_from_bytes(&t.name, &shape, &bytes)?
            }
            None => from_contents(&t.name, dtype, &shape, &contents)?,
        };
        slots[ix] = Some(tensor);
    }
    let tensors = all_inputs(slots, inputs)?;

    let mut per_output: Option<bool> = None;
    let wanted = if req.outputs.is_empty() {
        (0..outputs.len()).collect()
    } else {
        let mut v = Vec::with_capacity(req.outputs.len());
        for o in &req.outputs {
            if let Some(b) = param_bool(&o.parameters, "binary_data")? {
                if per_output.is_some_and(|p| p != b) {
                    return Err(ApiError::bad_request(
                        "the requested outputs' binary_data parameters disagree: over gRPC every output is answered raw (raw_output_contents) or none is",
                    ));
                }
                per_output = Some(b);
            }
            v.push(output_index(&o.name, outputs)?);
        }
        v
    };
    let fp16_out = wanted
        .iter()
        .any(|ix: &usize| outputs[*ix].dtype == DType::F16);
    let raw_out = fp16_out
        || param_bool(&req.parameters, "binary_data_output")?
            .or(per_output)
            .unwrap_or(raw_in);
    Ok(Prepared {
        id: req.id,
        inputs: tensors,
        rows: rows.unwrap_or(1),
        outputs: wanted,
        raw: raw_out,
    })
}

/// A boolean parameter, if given; any other kind is refused by name.
fn param_bool(p: &HashMap<String, InferParameter>, key: &str) -> Result<Option<bool>, ApiError> {
    match p.get(key).map(|v| &v.parameter_choice) {
        None => Ok(None),
        Some(Some(ParameterChoice::BoolParam(b))) => Ok(Some(*b)),
        Some(other) => Err(ApiError::bad_request(format!(
            "parameter {key:?} must be a bool_param, got {other:?}"
        ))),
    }
}

/// The typed field a datatype's elements go in (FP16 has none).
fn field_of(dtype: DType) -> Option<&'static str> {
    Some(match dtype {
        DType::Bool => "bool_contents",
        DType::I8 | DType::I16 | DType::I32 => "int_contents",
        DType::I64 => "int64_contents",
        DType::U8 | DType::U16 | DType::U32 => "uint_contents",
        DType::U64 => "uint64_contents",
        DType::F32 => "fp32_contents",
        DType::F64 => "fp64_contents",
        DType::F16 => return None,
    })
}

/// The typed fields that hold elements, by name.
fn filled_fields(c: &InferTensorContents) -> Vec<&'static str> {
    [
        ("bool_contents", c.bool_contents.len()),
        ("int_contents", c.int_contents.len()),
        ("int64_contents", c.int64_contents.len()),
        ("uint_contents", c.uint_contents.len()),
        ("uint64_contents", c.uint64_contents.len()),
        ("fp32_contents", c.fp32_contents.len()),
        ("fp64_contents", c.fp64_contents.len()),
        ("bytes_contents", c.bytes_contents.len()),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(name, _)| name)
    .collect()
}

fn from_contents(
    name: &str,
    dtype: DType,
    shape: &[usize],
    c: &InferTensorContents,
) -> Result<Tensor, ApiError> {
    let Some(field) = field_of(dtype) else {
        return Err(ApiError::bad_request(format!(
            "input {name:?}: FP16 has no typed contents field; send its bytes in raw_input_contents"
        )));
    };
    let filled = filled_fields(c);
    if let Some(other) = filled.iter().find(|f| **f != field) {
        return Err(ApiError::bad_request(format!(
            "input {name:?}: datatype {} takes its elements in {field}, not {other}",
            dtype.kserve_name()
        )));
    }
    let count: usize = shape.iter().product();
    let given = match field {
        "bool_contents" => c.bool_contents.len(),
        "int_contents" => c.int_contents.len(),
        "int64_contents" => c.int64_contents.len(),
        "uint_contents" => c.uint_contents.len(),
        "uint64_contents" => c.uint64_contents.len(),
        "fp32_contents" => c.fp32_contents.len(),
        _ => c.fp64_contents.len(),
    };
    if given != count {
        return Err(ApiError::bad_request(format!(
            "input {name:?}: shape {shape:?} needs {count} elements but {field} has {given}"
        )));
    }
    let exact = |t: tract_onnx::prelude::TractResult<Tensor>| {
        t.map_err(|e| {
            ApiError::from(TensorError::Shape {
                input: name.to_owned(),
                reason: e.to_string(),
            })
        })
    };
    let nums = |v: Vec<Num>| {
        dtype
            .tensor_from_nums(name, shape, &v)
            .map_err(ApiError::from)
    };
    match dtype {
        DType::F32 => exact(Tensor::from_shape(shape, &c.fp32_contents)),
        DType::F64 => exact(Tensor::from_shape(shape, &c.fp64_contents)),
        DType::I64 => exact(Tensor::from_shape(shape, &c.int64_contents)),
        DType::U64 => exact(Tensor::from_shape(shape, &c.uint64_contents)),
        DType::I32 => exact(Tensor::from_shape(shape, &c.int_contents)),
        DType::U32 => exact(Tensor::from_shape(shape, &c.uint_contents)),
        DType::Bool => exact(Tensor::from_shape(shape, &c.bool_contents)),
        // narrower integers travel widened: range-checked on the way in
        DType::I8 | DType::I16 => nums(
            c.int_contents
                .iter()
                .map(|v| Num::I(i64::from(*v)))
                .collect(),
        ),
        DType::U8 | DType::U16 => nums(
            c.uint_contents
                .iter()
                .map(|v| Num::U(u64::from(*v)))
                .collect(),
        ),
        DType::F16 => Err(ApiError::internal("FP16 has no typed field")),
    }
}

/// A tensor's elements in the typed field of its datatype.
fn to_contents(t: &Tensor) -> Result<InferTensorContents, ApiError> {
    let view = t
        .try_as_plain_ram()
        .map_err(|e| ApiError::internal(format!("reading an output: {e}")))?;
    let mut c = InferTensorContents::default();
    macro_rules! put {
        ($field:ident, $ty:ty, $conv:expr) => {{
            let data = view
                .as_slice::<$ty>()
                .map_err(|e| ApiError::internal(format!("reading an output: {e}")))?;
            c.$field = data.iter().map(|v| $conv(*v)).collect();
        }};
    }
    match t.datum_type() {
        DatumType::Bool => put!(bool_contents, bool, |v| v),
        DatumType::I8 => put!(int_contents, i8, i32::from),
        DatumType::I16 => put!(int_contents, i16, i32::from),
        DatumType::I32 => put!(int_contents, i32, |v| v),
        DatumType::I64 => put!(int64_contents, i64, |v| v),
        DatumType::U8 => put!(uint_contents, u8, u32::from),
        DatumType::U16 => put!(uint_contents, u16, u32::from),
        DatumType::U32 => put!(uint_contents, u32, |v| v),
        DatumType::U64 => put!(uint64_contents, u64, |v| v),
        DatumType::F32 => put!(fp32_contents, f32, |v| v),
        DatumType::F64 => put!(fp64_contents, f64, |v| v),
        DatumType::F16 => put!(fp32_contents, f16, |v: f16| v.to_f32()),
        other => {
            return Err(ApiError::internal(format!(
                "cannot answer an output of datatype {other:?}"
            )));
        }
    }
    Ok(c)
}

/// The answer to a prepared request, from the model's output tensors.
pub fn respond(
    model_name: &str,
    model_version: &str,
    prepared: &Prepared,
    specs: &[TensorSpec],
    tensors: Vec<Tensor>,
) -> Result<ModelInferResponse, ApiError> {
    let mut resp = ModelInferResponse {
        model_name: model_name.to_owned(),
        model_version: model_version.to_owned(),
        id: prepared.id.clone(),
        ..Default::default()
    };
    for ix in &prepared.outputs {
        let t = tensors.get(*ix).ok_or_else(|| {
            ApiError::internal("the model returned fewer outputs than it declares")
        })?;
        let spec = &specs[*ix];
        let dtype = DType::from_datum(t.datum_type()).unwrap_or(spec.dtype);
        let mut out = InferOutputTensor {
            name: spec.name.clone(),
            datatype: dtype.kserve_name().to_owned(),
            shape: t.shape().iter().map(|d| *d as i64).collect(),
            ..Default::default()
        };
        if prepared.raw {
            resp.raw_output_contents.push(t.as_bytes().to_vec());
        } else {
            out.contents = Some(to_contents(t)?);
        }
        resp.outputs.push(out);
    }
    Ok(resp)
}
