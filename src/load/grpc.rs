//! `tractor loadtest --grpc`: Open Inference Protocol `ModelInfer` calls over HTTP/2.
//!
//! The request file is the same KServe v2 JSON inference request REST takes; it is turned once,
//! before the run, into a `ModelInferRequest` whose tensors travel in `raw_input_contents` (as
//! Triton's clients and perf_analyzer send them), framed for gRPC. The model comes from the
//! URL's REST-style path (`/v2/models/NAME[/versions/V]`), so switching protocols is changing
//! the port and adding `--grpc`. A call's outcome is its `grpc-status`, counted as the HTTP
//! status of the same meaning (gRPC's published mapping: OK 200, InvalidArgument 400,
//! NotFound 404, ResourceExhausted 429, Unavailable 503, DeadlineExceeded 504, ...).

use std::collections::HashMap;

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;
use serde_json::Value;
use tractor_proto::infer_parameter::ParameterChoice;
use tractor_proto::model_infer_request::{InferInputTensor, InferRequestedOutputTensor};
use tractor_proto::{InferParameter, ModelInferRequest};

mod elements;
pub use elements::InputProblem;
use elements::{flatten, raw};

/// The method every call goes to.
pub fn path() -> String {
    tractor_proto::method_path("ModelInfer")
}

/// Why a request file or URL cannot make a gRPC call; the words name what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GrpcRequestError {
    #[error(
        "--grpc: --url {0:?} names no model: write http://HOST:GRPC_PORT/v2/models/NAME (or .../versions/V)"
    )]
    NoModel(String),
    #[error(
        "--grpc: the --url targets name different models or versions ({0} and {1}); one run calls one model"
    )]
    MixedModels(String, String),
    #[error("--grpc needs --body: a KServe v2 JSON inference request ({{\"inputs\": [...]}})")]
    NoBody,
    #[error("--body is not a KServe v2 JSON inference request: {0}")]
    NotJson(String),
    #[error("--body input {input:?}: {problem}")]
    Input {
        input: String,
        problem: InputProblem,
    },
}

/// Model name and version (empty: the one served) from `/v2/models/NAME[/versions/V][/infer]`.
pub fn model_of(url: &str, path: &str) -> Result<(String, String), GrpcRequestError> {
    let path = path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["v2", "models", name] | ["v2", "models", name, "infer"] if !name.is_empty() => {
            Ok(((*name).to_owned(), String::new()))
        }
        ["v2", "models", name, "versions", v] | ["v2", "models", name, "versions", v, "infer"]
            if !name.is_empty() && !v.is_empty() =>
        {
            Ok(((*name).to_owned(), (*v).to_owned()))
        }
        _ => Err(GrpcRequestError::NoModel(url.to_owned())),
    }
}

/// The framed call body: the JSON request as a `ModelInferRequest`, behind gRPC's 5-byte
/// prefix (uncompressed, length big-endian).
pub fn framed(json: &[u8], model: &str, version: &str) -> Result<Bytes, GrpcRequestError> {
    let msg = request(json, model, version)?;
    let len = msg.encoded_len();
    let framed_len = u32::try_from(len).map_err(|_| {
        GrpcRequestError::NotJson(format!(
            "the request is {len} bytes once encoded; a gRPC message holds at most 4 GiB"
        ))
    })?;
    let mut out = BytesMut::with_capacity(5 + len);
    out.put_u8(0);
    out.put_u32(framed_len);
    msg.encode(&mut out)
        .map_err(|e| GrpcRequestError::NotJson(e.to_string()))?;
    Ok(out.freeze())
}

pub fn request(
    json: &[u8],
    model: &str,
    version: &str,
) -> Result<ModelInferRequest, GrpcRequestError> {
    let v: Value =
        serde_json::from_slice(json).map_err(|e| GrpcRequestError::NotJson(e.to_string()))?;
    let not = |why: &str| GrpcRequestError::NotJson(why.to_owned());
    let inputs = v
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| not("it has no \"inputs\" array"))?;
    let mut req = ModelInferRequest {
        model_name: model.to_owned(),
        model_version: version.to_owned(),
        id: v
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        parameters: parameters(v.get("parameters")),
        ..Default::default()
    };
    for t in inputs {
        let name = t
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| not("an input has no \"name\""))?;
        let bad = |problem: InputProblem| GrpcRequestError::Input {
            input: name.to_owned(),
            problem,
        };
        let datatype = t
            .get("datatype")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(InputProblem::NoDatatype))?;
        let shape: Vec<i64> = t
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|s| s.iter().map(|d| d.as_i64().filter(|d| *d >= 0)).collect())
            .ok_or_else(|| bad(InputProblem::BadShape))?;
        let data = t.get("data").ok_or_else(|| bad(InputProblem::NoData))?;
        let mut flat = Vec::new();
        flatten(data, &mut flat);
        let count = shape
            .iter()
            .try_fold(1i64, |n, d| n.checked_mul(*d))
            .ok_or_else(|| bad(InputProblem::Uncountable(shape.clone())))?;
        if flat.len() as i64 != count {
            return Err(bad(InputProblem::Count {
                shape,
                needs: count,
                has: flat.len(),
            }));
        }
        req.raw_input_contents
            .push(raw(datatype, &flat).map_err(bad)?);
        req.inputs.push(InferInputTensor {
            name: name.to_owned(),
            datatype: datatype.to_owned(),
            shape,
            ..Default::default()
        });
    }
    if let Some(outs) = v.get("outputs").and_then(Value::as_array) {
        for o in outs {
            let name = o
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| not("a requested output has no \"name\""))?;
            req.outputs.push(InferRequestedOutputTensor {
                name: name.to_owned(),
                parameters: parameters(o.get("parameters")),
            });
        }
    }
    Ok(req)
}

fn parameters(p: Option<&Value>) -> HashMap<String, InferParameter> {
    let Some(Value::Object(m)) = p else {
        return HashMap::new();
    };
    m.iter()
        .filter_map(|(k, v)| {
            let choice = match v {
                Value::Bool(b) => ParameterChoice::BoolParam(*b),
                Value::String(s) => ParameterChoice::StringParam(s.clone()),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => ParameterChoice::Int64Param(i),
                    None => ParameterChoice::DoubleParam(n.as_f64()?),
                },
                _ => return None,
            };
            Some((
                k.clone(),
                InferParameter {
                    parameter_choice: Some(choice),
                },
            ))
        })
        .collect()
}

/// The HTTP status that means what a gRPC status code means (gRPC's published mapping), so
/// the run's report and error rate treat both protocols alike.
pub fn http_status_of(code: u32) -> u16 {
    match code {
        0 => 200,
        1 => 499,
        3 | 9 | 11 => 400,
        4 => 504,
        5 => 404,
        6 | 10 => 409,
        7 => 403,
        8 => 429,
        12 => 501,
        14 => 503,
        16 => 401,
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_comes_from_the_rest_style_path() {
        let ok = |p: &str| model_of("u", p);
        assert_eq!(ok("/v2/models/m"), Ok(("m".into(), String::new())));
        assert_eq!(ok("/v2/models/m/infer"), Ok(("m".into(), String::new())));
        assert_eq!(
            ok("/v2/models/m/versions/3/infer"),
            Ok(("m".into(), "3".into()))
        );
        assert_eq!(ok("/v2/models/m/versions/3"), Ok(("m".into(), "3".into())));
        for bad in ["/", "", "/v2/models/", "/predict", "/v2/models/m/ready"] {
            assert!(
                matches!(ok(bad), Err(GrpcRequestError::NoModel(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_json_request_becomes_raw_tensors_in_a_grpc_frame() {
        let json = br#"{"id": "r1", "parameters": {"binary_data_output": true},
            "inputs": [
              {"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [[0.5, 1], [2, -3]]},
              {"name": "b", "shape": [1, 3], "datatype": "INT64", "data": [9007199254740993, -1, 0]},
              {"name": "c", "shape": [2], "datatype": "BOOL", "data": [true, 0]}],
            "outputs": [{"name": "sum"}]}"#;
        let body = framed(json, "multi-io", "2").unwrap();
        assert_eq!(body[0], 0, "uncompressed");
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        assert_eq!(len, body.len() - 5);
        let m = ModelInferRequest::decode(&body[5..]).unwrap();
        assert_eq!(
            (
                m.model_name.as_str(),
                m.model_version.as_str(),
                m.id.as_str()
            ),
            ("multi-io", "2", "r1")
        );
        assert_eq!(m.inputs.len(), 3);
        assert_eq!(m.inputs[1].shape, [1, 3]);
        let f: Vec<f32> = m.raw_input_contents[0]
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(f, [0.5, 1.0, 2.0, -3.0]);
        let i: Vec<i64> = m.raw_input_contents[1]
            .chunks(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(i, [9_007_199_254_740_993, -1, 0], "int64 stays exact");
        assert_eq!(m.raw_input_contents[2], [1, 0]);
        assert_eq!(m.outputs[0].name, "sum");
        assert_eq!(
            m.parameters["binary_data_output"].parameter_choice,
            Some(ParameterChoice::BoolParam(true))
        );
    }

    #[test]
    fn bad_request_files_are_named_precisely() {
        let err = |j: &str| request(j.as_bytes(), "m", "").unwrap_err().to_string();
        assert!(err("[1, 2]").contains("no \"inputs\" array"));
        assert!(err("{").contains("not a KServe v2 JSON"));
        let e =
            err(r#"{"inputs": [{"name": "a", "shape": [3], "datatype": "FP32", "data": [1, 2]}]}"#);
        assert!(
            e.contains("input \"a\": shape [3] needs 3 elements but \"data\" has 2"),
            "{e}"
        );
        let e =
            err(r#"{"inputs": [{"name": "a", "shape": [1], "datatype": "UINT8", "data": [256]}]}"#);
        let e2 = err(
            r#"{"inputs": [{"name": "a", "shape": [-1, -1], "datatype": "FP32", "data": [1]}]}"#,
        );
        assert!(e2.contains("non-negative integers"), "{e2}");
        let e2 = err(
            r#"{"inputs": [{"name": "a", "shape": [4294967296, 4294967296], "datatype": "FP32", "data": [1]}]}"#,
        );
        assert!(e2.contains("more elements than can be counted"), "{e2}");
        assert!(
            e.contains("element 0 (256) is not a valid UINT8 value"),
            "{e}"
        );
        let e =
            err(r#"{"inputs": [{"name": "a", "shape": [1], "datatype": "BYTES", "data": ["x"]}]}"#);
        assert!(e.contains("\"BYTES\" is not supported by --grpc"), "{e}");
        let e = err(
            r#"{"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": 4}}]}"#,
        );
        assert!(e.contains("binary_data_size is REST only"), "{e}");
    }

    #[test]
    fn grpc_codes_count_as_the_http_status_of_the_same_meaning() {
        for (code, http) in [
            (0, 200),
            (3, 400),
            (4, 504),
            (5, 404),
            (8, 429),
            (13, 500),
            (14, 503),
            (12, 501),
            (99, 500),
        ] {
            assert_eq!(http_status_of(code), http, "code {code}");
        }
    }
}
