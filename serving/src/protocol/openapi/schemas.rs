//! The model-dependent schemas of `/openapi.json`: an inference request that names exactly the
//! served model's inputs, datatypes and shapes, with data of exactly the shape's length, so a
//! property-based tester that follows the document sends requests the server accepts.
//!
//! OpenAPI cannot tie a data array's length to a free dimension of the shape beside it, so a
//! free batch dimension is spelled out for `LISTED_ROWS` batch sizes (the document says any
//! size is accepted). A model with other free dimensions (served per input shape) gets the
//! general tensor schema, which says so in words instead.

use serde_json::{Value, json};

use crate::dtype::DType;
use crate::model::TensorSpec;

/// Batch sizes a free batch dimension is listed with.
pub const LISTED_ROWS: usize = 3;

/// What the document describes: the served model.
pub struct Described<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub inputs: &'a [TensorSpec],
    pub outputs: &'a [TensorSpec],
    pub batchable: bool,
}

impl Described<'_> {
    /// The shapes a request may carry, one per listed batch size; `None` when a dimension other
    /// than the batch is free (a model served per input shape).
    fn shapes(&self, spec: &TensorSpec) -> Option<Vec<Vec<usize>>> {
        let fixed_after =
            |from: usize| -> Option<Vec<usize>> { spec.shape[from..].iter().copied().collect() };
        match spec.shape.first() {
            Some(None) if self.batchable => {
                let rest = fixed_after(1)?;
                Some(
                    (1..=LISTED_ROWS)
                        .map(|r| std::iter::once(r).chain(rest.iter().copied()).collect())
                        .collect(),
                )
            }
            _ => Some(vec![fixed_after(0)?]),
        }
    }

    /// Listed batch sizes (1 when the model has no free batch dimension), or `None` when some
    /// input has a free dimension besides the batch.
    fn row_variants(&self) -> Option<usize> {
        let mut n = 1;
        for spec in self.inputs {
            n = n.max(self.shapes(spec)?.len());
        }
        Some(n)
    }
}

/// One element of a tensor of this datatype, as the server accepts it in JSON.
pub fn element(dtype: DType) -> Value {
    match (dtype, dtype.int_range()) {
        (_, Some((min, max))) => json!({ "type": "integer", "minimum": min, "maximum": max }),
        (DType::Bool, None) => json!({ "anyOf": [{ "type": "boolean" }, { "enum": [0, 1] }] }),
        _ => json!({ "type": "number" }),
    }
}

fn exact_array(items: Value, n: usize) -> Value {
    json!({ "type": "array", "items": items, "minItems": n, "maxItems": n })
}

/// Elements nested as the shape says (`[[1, 2], [3, 4]]` for `[2, 2]`).
pub fn nested(dtype: DType, shape: &[usize]) -> Value {
    shape
        .iter()
        .rev()
        .fold(element(dtype), |inner, n| exact_array(inner, *n))
}

/// The `data` of an input of this shape: flat, or nested as the shape.
fn data(dtype: DType, shape: &[usize]) -> Value {
    let flat = exact_array(element(dtype), shape.iter().product());
    if shape.len() <= 1 {
        flat
    } else {
        json!({ "anyOf": [flat, nested(dtype, shape)] })
    }
}

/// An input tensor's parameters: free-form, but `binary_data_size` belongs to the binary
/// extension, which a JSON body does not use.
fn input_parameters() -> Value {
    json!({ "type": ["object", "null"], "properties": { "binary_data_size": { "not": {} } } })
}

fn tensor_in(spec: &TensorSpec, shape: &[usize]) -> Value {
    json!({
        "type": "object", "required": ["name", "shape", "datatype", "data"], "additionalProperties": false,
        "properties": {
            "name": { "const": spec.name },
            "shape": { "const": shape },
            "datatype": { "const": spec.dtype.kserve_name() },
            "parameters": input_parameters(),
            "data": data(spec.dtype, shape)
        }
    })
}

/// Any tensor of the model's inputs, for models served per input shape: data's length must be
/// the shape's product, which the schema cannot say.
fn tensor_in_general(m: &Described) -> Value {
    let names: Vec<&str> = m.inputs.iter().map(|s| s.name.as_str()).collect();
    let dtypes: Vec<&str> = m.inputs.iter().map(|s| s.dtype.kserve_name()).collect();
    json!({
        "type": "object", "required": ["name", "shape", "datatype", "data"], "additionalProperties": false,
        "description": "each input once; data holds exactly the shape's product of elements (flat or nested)",
        "properties": {
            "name": { "enum": names },
            "shape": { "type": "array", "items": { "type": "integer", "minimum": 1 } },
            "datatype": { "enum": dtypes },
            "parameters": input_parameters(),
            "data": { "type": "array" }
        }
    })
}

fn requested_outputs(m: &Described) -> Value {
    let names: Vec<&str> = m.outputs.iter().map(|s| s.name.as_str()).collect();
    json!({ "type": ["array", "null"], "items": {
        "type": "object", "required": ["name"], "additionalProperties": false,
        "properties": {
            "name": { "enum": names },
            "parameters": { "type": ["object", "null"], "properties": { "binary_data": { "type": "boolean" } } }
        } } })
}

fn request(m: &Described, inputs: Value) -> Value {
    json!({
        "type": "object", "required": ["inputs"], "additionalProperties": false,
        "properties": {
            "id": { "type": ["string", "null"] },
            "parameters": { "type": ["object", "null"], "properties": { "binary_data_output": { "type": "boolean" } } },
            "inputs": inputs,
            "outputs": requested_outputs(m)
        }
    })
}

/// The inference request (JSON form): every input once, in the model's order (the server takes
/// any order; the document describes one), with one batch size across inputs.
pub fn infer_request(m: &Described) -> Value {
    let n = m.inputs.len();
    let Some(variants) = m.row_variants() else {
        let inputs =
            json!({ "type": "array", "items": tensor_in_general(m), "minItems": n, "maxItems": n });
        return request(m, inputs);
    };
    let by_rows: Vec<Value> = (0..variants)
        .map(|v| {
            let tensors: Vec<Value> = m
                .inputs
                .iter()
                .filter_map(|spec| {
                    let shapes = m.shapes(spec)?;
                    let shape = shapes.get(v).or(shapes.first())?;
                    Some(tensor_in(spec, shape))
                })
                .collect();
            let inputs =
                json!({ "type": "array", "prefixItems": tensors, "items": false, "minItems": n });
            request(m, inputs)
        })
        .collect();
    if by_rows.len() == 1 {
        by_rows.into_iter().next().unwrap_or(Value::Null)
    } else {
        json!({ "oneOf": by_rows })
    }
}

/// `/predict`'s body for a single-input model: the input nested as its shape, with any number
/// of rows for a batchable model (or one row without its batch dimension).
pub fn predict_request(m: &Described) -> Option<Value> {
    let [spec] = m.inputs else { return None };
    match spec.shape.split_first() {
        Some((None, rest)) if m.batchable => {
            let inner: Option<Vec<usize>> = rest.iter().copied().collect();
            let row = match inner {
                Some(inner) => nested(spec.dtype, &inner),
                None => {
                    json!({ "type": "array", "description": "one row, nested as the input's shape" })
                }
            };
            Some(json!({ "anyOf": [
                { "type": "array", "items": row.clone(), "minItems": 1 },
                row
            ] }))
        }
        _ => {
            let shape: Option<Vec<usize>> = spec.shape.iter().copied().collect();
            Some(match shape {
                Some(shape) => nested(spec.dtype, &shape),
                None => json!({ "type": "array", "description": "nested as the input's shape" }),
            })
        }
    }
}

/// The inference response (JSON form).
pub fn infer_response(m: &Described) -> Value {
    let names: Vec<&str> = m.outputs.iter().map(|s| s.name.as_str()).collect();
    json!({
        "type": "object", "required": ["model_name", "model_version", "outputs"],
        "properties": {
            "model_name": { "const": m.name },
            "model_version": { "const": m.version },
            "id": { "type": "string" },
            "outputs": { "type": "array", "items": {
                "type": "object", "required": ["name", "datatype", "shape"],
                "properties": {
                    "name": { "enum": names },
                    "datatype": { "type": "string" },
                    "shape": { "type": "array", "items": { "type": "integer", "minimum": 0 } },
                    "parameters": { "type": "object", "properties": { "binary_data_size": { "type": "integer", "minimum": 0 } } },
                    "data": { "type": "array" }
                } } }
        }
    })
}

/// Model metadata, as `GET /v2/models/{name}` answers it.
pub fn model_metadata() -> Value {
    let tensor = json!({ "type": "object", "required": ["name", "datatype", "shape"], "properties": {
        "name": { "type": "string" }, "datatype": { "type": "string" },
        "shape": { "type": "array", "items": { "type": "integer", "minimum": -1 } } } });
    json!({
        "type": "object", "required": ["name", "versions", "platform", "inputs", "outputs"],
        "properties": {
            "name": { "type": "string" },
            "versions": { "type": "array", "items": { "type": "string" } },
            "platform": { "type": "string" },
            "inputs": { "type": "array", "items": tensor },
            "outputs": { "type": "array", "items": tensor }
        }
    })
}
