//! The Prometheus HTTP API's answers (`/api/v1/query`, `/api/v1/query_range`), as every
//! server that speaks it writes them (Prometheus, Thanos, Mimir, VictoriaMetrics): a
//! `status`, and either `data` (a vector or a matrix of series) or `errorType` and `error`.
use std::collections::BTreeMap;

use serde::Deserialize;

/// One series of an instant vector: its labels and its value (at the query's time).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// One series of a range query: its labels and its points (unix seconds, value).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(f64, f64)>,
}

/// Why an answer holds no series.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// The server refused the query: its `errorType` and `error` (a PromQL syntax error is
    /// `bad_data`).
    #[error("the query was refused ({kind}): {message}")]
    Refused { kind: String, message: String },
    #[error("the answer is not the Prometheus API's JSON: {0}")]
    NotJson(String),
    #[error("expected a {expected} result, got a {got}")]
    WrongType { expected: &'static str, got: String },
    #[error("a value that is not a number: {0:?}")]
    BadValue(String),
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct RawSample {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

#[derive(Deserialize)]
struct RawSeries {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

fn data(body: &str, expected: &'static str) -> Result<serde_json::Value, AnswerError> {
    let env: Envelope =
        serde_json::from_str(body).map_err(|e| AnswerError::NotJson(short(body, &e)))?;
    if env.status != "success" {
        return Err(AnswerError::Refused {
            kind: env.error_type.unwrap_or_else(|| "error".into()),
            message: env.error.unwrap_or_default(),
        });
    }
    let d = env
        .data
        .ok_or_else(|| AnswerError::NotJson("no data in a successful answer".into()))?;
    if d.result_type != expected {
        return Err(AnswerError::WrongType {
            expected,
            got: d.result_type,
        });
    }
    Ok(d.result)
}

fn short(body: &str, e: &serde_json::Error) -> String {
    let head: String = body.chars().take(80).collect();
    format!("{e} (it starts: {head:?})")
}

/// Prometheus writes values as strings: `"1.5"`, `"NaN"`, `"+Inf"`.
fn number(v: &str) -> Result<f64, AnswerError> {
    match v {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => v.parse().map_err(|_| AnswerError::BadValue(v.to_string())),
    }
}

/// An instant query's vector.
pub fn vector(body: &str) -> Result<Vec<Sample>, AnswerError> {
    let raw: Vec<RawSample> = serde_json::from_value(data(body, "vector")?)
        .map_err(|e| AnswerError::NotJson(e.to_string()))?;
    raw.into_iter()
        .map(|r| {
            Ok(Sample {
                labels: r.metric,
                value: number(&r.value.1)?,
            })
        })
        .collect()
}

/// A range query's matrix.
pub fn matrix(body: &str) -> Result<Vec<Series>, AnswerError> {
    let raw: Vec<RawSeries> = serde_json::from_value(data(body, "matrix")?)
        .map_err(|e| AnswerError::NotJson(e.to_string()))?;
    raw.into_iter()
        .map(|r| {
            let points = r
                .values
                .iter()
                .map(|(t, v)| Ok((*t, number(v)?)))
                .collect::<Result<Vec<_>, AnswerError>>()?;
            Ok(Series {
                labels: r.metric,
                points,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_matrices_and_refusals() {
        let v = vector(
            r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"pod":"web-1","le":"+Inf"},"value":[1764561600.5,"12"]},
            {"metric":{"pod":"web-2","le":"0.1"},"value":[1764561600.5,"NaN"]}]}}"#,
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].labels["le"], "+Inf");
        assert_eq!(v[0].value, 12.0);
        assert!(v[1].value.is_nan());

        let m = matrix(
            r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"pod":"web-1"},"values":[[1764561600,"1"],[1764561605,"+Inf"]]}]}}"#,
        )
        .unwrap();
        assert_eq!(
            m[0].points,
            [(1764561600.0, 1.0), (1764561605.0, f64::INFINITY)]
        );

        assert_eq!(
            vector(r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#),
            Err(AnswerError::Refused {
                kind: "bad_data".into(),
                message: "parse error at char 5".into()
            })
        );
        assert!(matches!(
            vector(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#),
            Err(AnswerError::WrongType {
                expected: "vector",
                ..
            })
        ));
        assert!(matches!(
            vector("<html>login</html>"),
            Err(AnswerError::NotJson(m)) if m.contains("<html>login")
        ));
        assert!(matches!(
            vector(r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}"#),
            Err(AnswerError::BadValue(v)) if v == "x"
        ));
    }
}
