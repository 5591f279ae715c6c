//! The OpenAPI 3.1 document served at `GET /openapi.json`, written for the served model: its
//! name and version are the only path values, and the request bodies name its inputs exactly
//! (see `schemas`). Every status a route can answer is listed, so a tester driven by this
//! document (schemathesis, in `serving/tests/server/openapi_conformance.rs`) finds none missing.

mod schemas;

use serde_json::{Map, Value, json};

pub use schemas::{Described, LISTED_ROWS};

fn error(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn body(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

fn responses(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(code, v)| ((*code).to_owned(), v.clone()))
            .collect::<Map<_, _>>(),
    )
}

/// The errors a request for a named model can meet before its body is read.
fn model_errors() -> [(&'static str, Value); 2] {
    [
        ("400", error("a path that is not valid UTF-8 once decoded")),
        ("404", error("no such model, or no such version of it")),
    ]
}

/// `route`'s answers plus the errors of every route that reads a body and runs the model.
fn with_run_errors(mut route: Vec<(&'static str, Value)>) -> Value {
    route.extend([
        ("413", error("the body is over --max-body-size")),
        ("500", error("the model failed on this input")),
        (
            "503",
            error("the queue is full or the server is draining (Retry-After)"),
        ),
        (
            "504",
            error("the answer took longer than --request-timeout"),
        ),
    ]);
    responses(&route)
}

fn infer_op(parameters: Value) -> Value {
    let ok = json!({
        "description": "the outputs; application/octet-stream when binary outputs were asked for (the JSON header first, its length in Inference-Header-Content-Length, then the raw tensors)",
        "headers": { "Inference-Header-Content-Length": { "required": false, "schema": { "type": "integer", "minimum": 0 } } },
        "content": {
            "application/json": { "schema": { "$ref": "#/components/schemas/InferenceResponse" } },
            "application/octet-stream": { "schema": { "type": "string", "contentMediaType": "application/octet-stream" } }
        }
    });
    json!({
        "summary": "Run inference (Open Inference Protocol v2)",
        "description": format!(
            "The JSON form is described here. With the binary tensor data extension the body is the JSON header (its length in the Inference-Header-Content-Length request header) followed by the raw little-endian tensors, each input giving its byte count as the binary_data_size parameter instead of data. A free batch dimension takes any size; the schema lists sizes 1 to {LISTED_ROWS} because it cannot tie the data's length to the shape."
        ),
        "parameters": parameters,
        "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/InferenceRequest" } } } },
        "responses": with_run_errors(vec![
            ("200", ok),
            ("400", error("the request does not fit the model, or the path is not valid UTF-8")),
            ("404", error("no such model, or no such version of it")),
            ("415", error("a content type other than application/json without the binary extension's header")),
        ]),
    })
}

fn readiness(m: Option<&Described>) -> Value {
    let state = json!({ "type": "object", "required": ["ready"], "properties": { "ready": { "type": "boolean" } } });
    let mut r = vec![
        ("200", body("ready", state.clone())),
        ("503", body("not ready: warming up or draining", state)),
    ];
    if m.is_some() {
        r.extend(model_errors());
    }
    responses(&r)
}

fn model_get(summary: &str, parameters: Value, ok: Value) -> Value {
    let mut r = vec![("200", ok)];
    r.extend(model_errors());
    json!({ "get": { "summary": summary, "parameters": parameters, "responses": responses(&r) } })
}

fn get(summary: &str, ok: Value) -> Value {
    json!({ "get": { "summary": summary, "responses": { "200": ok } } })
}

pub fn document(m: &Described) -> Value {
    let name = json!({ "name": "name", "in": "path", "required": true, "schema": { "type": "string", "enum": [m.name] } });
    let version = json!({ "name": "version", "in": "path", "required": true, "schema": { "type": "string", "enum": [m.version] } });
    let metadata = body(
        "inputs and outputs",
        json!({ "$ref": "#/components/schemas/ModelMetadata" }),
    );
    let live = body(
        "live",
        json!({ "type": "object", "required": ["live"], "properties": { "live": { "const": true } } }),
    );
    let ready = |summary: &str, m: Option<&Described>, parameters: Value| json!({ "get": { "summary": summary, "parameters": parameters, "responses": readiness(m) } });
    let mut paths = json!({
        "/v2": get("Server metadata", body("name, version, extensions", json!({
            "type": "object", "required": ["name", "version", "extensions"],
            "properties": { "name": { "type": "string" }, "version": { "type": "string" },
                            "extensions": { "type": "array", "items": { "type": "string" } } } }))),
        "/v2/health/live": get("Process is up", live.clone()),
        "/v2/health/ready": ready("Model warm and not draining", None, json!([])),
        "/v2/models/{name}": model_get("Model metadata", json!([name]), metadata.clone()),
        "/v2/models/{name}/versions/{version}": model_get("Model metadata", json!([name, version]), metadata),
        "/v2/models/{name}/ready": ready("Model readiness", Some(m), json!([name])),
        "/v2/models/{name}/versions/{version}/ready": ready("Model readiness", Some(m), json!([name, version])),
        "/v2/models/{name}/infer": { "post": infer_op(json!([name])) },
        "/v2/models/{name}/versions/{version}/infer": { "post": infer_op(json!([name, version])) },
        "/healthz": get("Process is up", live),
        "/readyz": ready("Model warm and not draining", None, json!([])),
        "/metrics": get("Prometheus metrics (text format 0.0.4)", json!({ "description": "exposition text", "content": { "text/plain": { "schema": { "type": "string" } } } })),
        "/openapi.json": get("This document", json!({ "description": "OpenAPI 3.1", "content": { "application/json": { "schema": { "type": "object" } } } }))
    });
    if let (Some(request), Value::Object(paths)) = (schemas::predict_request(m), &mut paths) {
        let prediction = json!({ "type": "object", "required": ["prediction"], "properties": { "prediction": { "description": "the first output nested as its shape (a bare number for a scalar)" } } });
        paths.insert("/predict".into(), json!({ "post": {
            "summary": "A nested JSON array in (this model's single input), {\"prediction\": nested array} out (its first output)",
            "requestBody": { "required": true, "content": { "application/json": { "schema": request } } },
            "responses": with_run_errors(vec![
                ("200", body("prediction", prediction)),
                ("400", error("the array does not fit the model's input")),
                ("415", error("a content type other than application/json")),
            ])
        } }));
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "tractor-serve", "version": env!("CARGO_PKG_VERSION"),
                  "description": format!("ONNX inference over HTTP with tract: Open Inference Protocol (KServe v2) and /predict (single-input models), serving model {:?} version {:?}.", m.name, m.version) },
        "paths": paths,
        "components": { "schemas": {
            "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } } },
            "InferenceRequest": schemas::infer_request(m),
            "InferenceResponse": schemas::infer_response(m),
            "ModelMetadata": schemas::model_metadata()
        } }
    })
}
