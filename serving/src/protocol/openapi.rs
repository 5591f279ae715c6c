//! The OpenAPI 3 document served at `GET /openapi.json`.

use serde_json::{Value, json};

pub fn document() -> Value {
    let err = json!({ "description": "error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let tensor_in = json!({
        "type": "object", "required": ["name", "shape", "datatype"],
        "properties": {
            "name": { "type": "string" },
            "shape": { "type": "array", "items": { "type": "integer", "minimum": 1 } },
            "datatype": { "type": "string", "enum": ["BOOL","UINT8","UINT16","UINT32","UINT64","INT8","INT16","INT32","INT64","FP16","FP32","FP64"] },
            "parameters": { "type": "object", "properties": { "binary_data_size": { "type": "integer" } } },
            "data": { "description": "row-major elements, flat or nested; absent when binary_data_size is set" }
        }
    });
    let infer = json!({
        "summary": "Run inference (Open Inference Protocol v2). With the binary tensor data extension the body is the JSON header (its length in Inference-Header-Content-Length) followed by raw little-endian tensors.",
        "parameters": [{ "name": "Inference-Header-Content-Length", "in": "header", "required": false, "schema": { "type": "integer" } }],
        "requestBody": { "required": true, "content": {
            "application/json": { "schema": { "$ref": "#/components/schemas/InferenceRequest" } },
            "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
        "responses": {
            "200": { "description": "outputs", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/InferenceResponse" } } } },
            "400": err, "404": err, "413": err, "415": err, "503": err, "504": err
        }
    });
    let name =
        json!({ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } });
    let version = json!({ "name": "version", "in": "path", "required": true, "schema": { "type": "string" } });
    let ok =
        |d: &str| json!({ "200": { "description": d }, "503": { "description": "not ready" } });
    let model_ok = |d: &str| json!({ "200": { "description": d }, "503": { "description": "not ready" }, "404": err });
    json!({
        "openapi": "3.0.3",
        "info": { "title": "tractor-serve", "version": env!("CARGO_PKG_VERSION"),
                  "description": "ONNX inference over HTTP with tract: Open Inference Protocol (KServe v2) and a simple /predict." },
        "paths": {
            "/v2": { "get": { "summary": "Server metadata", "responses": { "200": { "description": "name, version, extensions" } } } },
            "/v2/health/live": { "get": { "summary": "Process is up", "responses": { "200": { "description": "live" } } } },
            "/v2/health/ready": { "get": { "summary": "Model warm and not draining", "responses": ok("ready") } },
            "/v2/models/{name}": { "get": { "summary": "Model metadata", "parameters": [name], "responses": { "200": { "description": "inputs and outputs" }, "404": err } } },
            "/v2/models/{name}/versions/{version}": { "get": { "summary": "Model metadata", "parameters": [name, version], "responses": { "200": { "description": "inputs and outputs" }, "404": err } } },
            "/v2/models/{name}/ready": { "get": { "summary": "Model readiness", "parameters": [name], "responses": model_ok("ready") } },
            "/v2/models/{name}/versions/{version}/ready": { "get": { "summary": "Model readiness", "parameters": [name, version], "responses": model_ok("ready") } },
            "/v2/models/{name}/infer": { "post": { "parameters": [name], "summary": infer["summary"], "requestBody": infer["requestBody"], "responses": infer["responses"] } },
            "/v2/models/{name}/versions/{version}/infer": { "post": { "parameters": [name, version], "summary": infer["summary"], "requestBody": infer["requestBody"], "responses": infer["responses"] } },
            "/predict": { "post": {
                "summary": "Single-input models: a nested JSON array in, {\"prediction\": nested array} out (first output)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "array", "items": {} } } } },
                "responses": { "200": { "description": "prediction", "content": { "application/json": { "schema": { "type": "object", "properties": { "prediction": { "type": "array", "items": {} } } } } } },
                               "400": err, "413": err, "415": err, "503": err, "504": err } } },
            "/healthz": { "get": { "summary": "Process is up", "responses": { "200": { "description": "live" } } } },
            "/readyz": { "get": { "summary": "Model warm and not draining", "responses": ok("ready") } },
            "/metrics": { "get": { "summary": "Prometheus metrics (text format 0.0.4)", "responses": { "200": { "description": "exposition text" } } } },
            "/openapi.json": { "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI 3" } } } }
        },
        "components": { "schemas": {
            "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } } },
            "InferenceRequest": { "type": "object", "required": ["inputs"], "properties": {
                "id": { "type": "string" },
                "parameters": { "type": "object", "properties": { "binary_data_output": { "type": "boolean" } } },
                "inputs": { "type": "array", "items": tensor_in },
                "outputs": { "type": "array", "items": { "type": "object", "required": ["name"], "properties": {
                    "name": { "type": "string" }, "parameters": { "type": "object", "properties": { "binary_data": { "type": "boolean" } } } } } } } },
            "InferenceResponse": { "type": "object", "properties": {
                "model_name": { "type": "string" }, "model_version": { "type": "string" }, "id": { "type": "string" },
                "outputs": { "type": "array", "items": { "type": "object" } } } }
        } }
    })
}
