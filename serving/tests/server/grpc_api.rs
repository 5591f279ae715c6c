//! The Open Inference Protocol over gRPC on the real binary, with tonic's own client: every
//! method, typed and raw tensors both ways, requested outputs, the same errors as REST (code
//! by meaning, message word for word), the message size limit, the client's deadline,
//! grpc.health.v1, metrics by protocol, and the drain on SIGTERM.

use crate::common;

use std::time::Duration;

use common::Served;
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tractor_serve::grpc::pb::grpc_inference_service_client::GrpcInferenceServiceClient;
use tractor_serve::grpc::pb::infer_parameter::ParameterChoice;
use tractor_serve::grpc::pb::model_infer_request::{InferInputTensor, InferRequestedOutputTensor};
use tractor_serve::grpc::pb::*;

type Client = GrpcInferenceServiceClient<Channel>;

fn start(extra: &[&str]) -> Served {
    let model = common::data("multi-io.onnx");
    let port = common::free_port().to_string();
    let mut args = vec!["--model", model.to_str().unwrap(), "--grpc-port", &port];
    args.extend_from_slice(extra);
    let srv = Served::start(&args);
    assert!(srv.grpc.is_some(), "the ready line names no gRPC address");
    srv
}

async fn channel(srv: &Served) -> Channel {
    let url = srv.grpc.clone().unwrap();
    Channel::from_shared(url).unwrap().connect().await.unwrap()
}

fn typed(a: &[f32], b: &[i64], rows: i64) -> ModelInferRequest {
    ModelInferRequest {
        model_name: "multi-io".into(),
        id: "req-typed".into(),
        inputs: vec![
            InferInputTensor {
                name: "a".into(),
                datatype: "FP32".into(),
                shape: vec![rows, 4],
                contents: Some(InferTensorContents {
                    fp32_contents: a.to_vec(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            InferInputTensor {
                name: "b".into(),
                datatype: "INT64".into(),
                shape: vec![rows, 4],
                contents: Some(InferTensorContents {
                    int64_contents: b.to_vec(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

fn raw(a: &[f32], b: &[i64], rows: i64) -> ModelInferRequest {
    let mut r = typed(&[], &[], rows);
    for t in &mut r.inputs {
        t.contents = None;
    }
    r.id = "req-raw".into();
    r.raw_input_contents = vec![
        a.iter().flat_map(|v| v.to_le_bytes()).collect(),
        b.iter().flat_map(|v| v.to_le_bytes()).collect(),
    ];
    r
}

/// The REST error for the same mistake, to compare messages word for word.
async fn rest_error(srv: &Served, body: Value) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(srv.url("/v2/models/multi-io/infer"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    (status, v["error"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metadata_and_inference_typed_and_raw() {
    let srv = start(&[]);
    let mut c = Client::new(channel(&srv).await);
    assert!(
        c.server_live(ServerLiveRequest {})
            .await
            .unwrap()
            .into_inner()
            .live
    );
    assert!(
        c.server_ready(ServerReadyRequest {})
            .await
            .unwrap()
            .into_inner()
            .ready
    );
    let ready = c
        .model_ready(ModelReadyRequest {
            name: "multi-io".into(),
            version: "1".into(),
        })
        .await
        .unwrap();
    assert!(ready.into_inner().ready);
    let meta = c
        .server_metadata(ServerMetadataRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(meta.name, "tractor-serve");
    let m = c
        .model_metadata(ModelMetadataRequest {
            name: "multi-io".into(),
            version: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let names = |ts: &[model_metadata_response::TensorMetadata]| {
        ts.iter()
            .map(|t| format!("{} {} {:?}", t.name, t.datatype, t.shape))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&m.inputs), ["a FP32 [-1, 4]", "b INT64 [-1, 4]"]);
    assert_eq!(
        names(&m.outputs),
        ["sum FP32 [-1, 4]", "doubled INT64 [-1, 4]"]
    );
    assert_eq!(m.versions, ["1"]);

    let a: Vec<f32> = (0..12).map(|i| i as f32 / 4.0).collect();
    let mut b_big: Vec<i64> = (0..12).map(|i| i - 5).collect();
    b_big[11] = 9_007_199_254_740_993; // beyond f64's exact integers: must stay exact
    let want_sum: Vec<f32> = a.iter().zip(&b_big).map(|(x, y)| x + *y as f32).collect();
    let want_doubled: Vec<i64> = b_big.iter().map(|v| 2 * v).collect();

    // typed in, typed out
    let r = c
        .model_infer(typed(&a, &b_big, 3))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            r.model_name.as_str(),
            r.model_version.as_str(),
            r.id.as_str()
        ),
        ("multi-io", "1", "req-typed")
    );
    assert!(r.raw_output_contents.is_empty());
    assert_eq!(r.outputs.len(), 2);
    assert_eq!(
        (r.outputs[0].name.as_str(), r.outputs[0].datatype.as_str()),
        ("sum", "FP32")
    );
    assert_eq!(r.outputs[0].shape, [3, 4]);
    assert_eq!(
        r.outputs[0].contents.as_ref().unwrap().fp32_contents,
        want_sum
    );
    assert_eq!(
        r.outputs[1].contents.as_ref().unwrap().int64_contents,
        want_doubled
    );

    // raw in, raw out, and only the output asked for
    let mut req = raw(&a, &b_big, 3);
    req.outputs = vec![InferRequestedOutputTensor {
        name: "doubled".into(),
        ..Default::default()
    }];
    let r = c.model_infer(req).await.unwrap().into_inner();
    assert_eq!(r.id, "req-raw");
    assert_eq!(r.outputs.len(), 1);
    assert_eq!(r.outputs[0].name, "doubled");
    assert!(r.outputs[0].contents.is_none());
    let got: Vec<i64> = r.raw_output_contents[0]
        .chunks(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(got, want_doubled);

    // raw in, typed out when asked
    let mut req = raw(&a, &b_big, 3);
    req.parameters.insert(
        "binary_data_output".into(),
        InferParameter {
            parameter_choice: Some(ParameterChoice::BoolParam(false)),
        },
    );
    let r = c.model_infer(req).await.unwrap().into_inner();
    assert!(r.raw_output_contents.is_empty());
    assert_eq!(
        r.outputs[0].contents.as_ref().unwrap().fp32_contents,
        want_sum
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_match_rest_by_meaning_and_message() {
    let srv = start(&["--max-body-size", "4KiB"]);
    let mut c = Client::new(channel(&srv).await);
    let one = [1.0f32, 2.0, 3.0, 4.0];
    let ones = [1i64, 1, 1, 1];

    // a wrong datatype: InvalidArgument, REST's 400 message
    let mut req = typed(&one, &ones, 1);
    req.inputs[0].datatype = "FP64".into();
    req.inputs[0].contents = Some(InferTensorContents {
        fp64_contents: vec![1.0; 4],
        ..Default::default()
    });
    let e = c.model_infer(req).await.unwrap_err();
    let (status, msg) = rest_error(
        &srv,
        json!({"inputs": [
            {"name": "a", "shape": [1, 4], "datatype": "FP64", "data": [1, 1, 1, 1]},
            {"name": "b", "shape": [1, 4], "datatype": "INT64", "data": [1, 1, 1, 1]}]}),
    )
    .await;
    assert_eq!((e.code(), status), (Code::InvalidArgument, 400));
    assert_eq!(e.message(), msg);
    assert!(
        msg.contains("FP64 does not match the model's FP32"),
        "{msg}"
    );

    // an unknown model: NotFound, REST's 404 message
    let mut req = typed(&one, &ones, 1);
    req.model_name = "no-such-model".into();
    let e = c.model_infer(req).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert!(
        e.message().contains("unknown model \"no-such-model\""),
        "{}",
        e.message()
    );
    let e = c
        .model_ready(ModelReadyRequest {
            name: "multi-io".into(),
            version: "7".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("no version \"7\""), "{}", e.message());

    // too few elements, a missing input, data in the wrong field, data given twice
    let req = typed(&one[..3], &ones, 1);
    let e = c.model_infer(req).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message()
            .contains("needs 4 elements but fp32_contents has 3"),
        "{}",
        e.message()
    );
    let mut req = typed(&one, &ones, 1);
    req.inputs.pop();
    let e = c.model_infer(req).await.unwrap_err();
    assert_eq!(e.message(), "missing input \"b\"");
    let mut req = typed(&one, &ones, 1);
    req.inputs[1].contents = Some(InferTensorContents {
        int_contents: vec![1; 4],
        ..Default::default()
    });
    let e = c.model_infer(req).await.unwrap_err();
    assert!(
        e.message()
            .contains("INT64 takes its elements in int64_contents, not int_contents"),
        "{}",
        e.message()
    );
    let mut req = raw(&one, &ones, 1);
    req.inputs[0].contents = Some(InferTensorContents {
        fp32_contents: one.to_vec(),
        ..Default::default()
    });
    let e = c.model_infer(req).await.unwrap_err();
    assert!(
        e.message()
            .contains("both fp32_contents and an entry in raw_input_contents"),
        "{}",
        e.message()
    );
    let mut req = raw(&one, &ones, 1);
    req.raw_input_contents.pop();
    let e = c.model_infer(req).await.unwrap_err();
    assert!(
        e.message()
            .contains("raw_input_contents has 1 entries but the request declares 2 inputs"),
        "{}",
        e.message()
    );

    // over the message size limit (--max-body-size): ResourceExhausted, and serving goes on
    let rows = 200;
    let big = raw(&vec![0.5; rows * 4], &vec![1; rows * 4], rows as i64);
    let e = c.model_infer(big).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert_eq!(e.message(), "request body is over the 4096-byte limit");
    let ok = c
        .model_infer(typed(&one, &ones, 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        ok.outputs[1].contents.as_ref().unwrap().int64_contents,
        [2, 2, 2, 2]
    );

    // metrics by protocol: the calls above, by method and code
    let text = srv.metrics().await;
    for line in [
        "tractor_grpc_requests_total{method=\"ModelInfer\",code=\"InvalidArgument\"} 6",
        "tractor_grpc_requests_total{method=\"ModelInfer\",code=\"NotFound\"} 1",
        "tractor_grpc_requests_total{method=\"ModelInfer\",code=\"OK\"} 1",
        "tractor_grpc_requests_total{method=\"ModelInfer\",code=\"ResourceExhausted\"} 1",
        "tractor_grpc_requests_total{method=\"ModelReady\",code=\"NotFound\"} 1",
        "tractor_grpc_request_duration_seconds_count{method=\"ModelInfer\"} 9",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
}

/// One ModelInfer call over bare HTTP/2 with a `grpc-timeout` header: (grpc-status,
/// grpc-message) of the trailers-only answer. (tonic's channel would give up at the deadline
/// itself, so the server's own answer could not be told apart.)
async fn call_with_deadline(
    srv: &Served,
    req: &ModelInferRequest,
    timeout: &str,
) -> (String, String) {
    use http_body_util::{BodyExt, Full};
    use prost::Message;
    let addr = srv
        .grpc
        .as_ref()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let msg = req.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    body.extend_from_slice(&msg);
    let r = hyper::Request::post(format!(
        "http://{addr}/inference.GRPCInferenceService/ModelInfer"
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .header("grpc-timeout", timeout)
    .body(Full::new(bytes::Bytes::from(body)))
    .unwrap();
    let resp = send.send_request(r).await.unwrap();
    let head = resp.headers().clone();
    let done = resp.into_body().collect().await.unwrap();
    let all = done.trailers().cloned().unwrap_or_default();
    let get = |k: &str| {
        all.get(k)
            .or(head.get(k))
            .map(|v| percent_decoded(v.to_str().unwrap()))
            .unwrap_or_default()
    };
    (get("grpc-status"), get("grpc-message"))
}

/// grpc-message travels percent-encoded.
fn percent_decoded(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => {
                out.push(u8::from_str_radix(std::str::from_utf8(hex).unwrap(), 16).unwrap());
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_deadline_bounds_the_wait() {
    // a lone request waits up to 300 ms for a batch to fill: longer than the client allows
    let srv = start(&["--max-queue-delay", "300ms", "--max-batch-size", "8"]);
    let req = typed(&[1.0; 4], &[1; 4], 1);
    let t0 = std::time::Instant::now();
    let (status, message) = call_with_deadline(&srv, &req, "50m").await;
    assert_eq!(
        status,
        (Code::DeadlineExceeded as i32).to_string(),
        "{message}"
    );
    assert!(message.contains("no answer within the 50ms"), "{message}");
    assert!(
        t0.elapsed() < Duration::from_millis(280),
        "{:?}",
        t0.elapsed()
    );
    // a malformed deadline is ignored: the server's own timeout holds, and it is answered
    let (status, message) = call_with_deadline(&srv, &req, "soon").await;
    assert_eq!(status, "0", "{message}");
    let mut c = Client::new(channel(&srv).await);
    // without a deadline the same request is answered
    let ok = c.model_infer(typed(&[1.0; 4], &[1; 4], 1)).await;
    assert!(ok.is_ok(), "{ok:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_readiness_and_sigterm_drains_grpc_too() {
    let mut srv = start(&[
        "--drain-timeout",
        "30s",
        "--shutdown-delay",
        "1s",
        "--max-queue-delay",
        "600ms",
        "--max-batch-size",
        "8",
    ]);
    let ch = channel(&srv).await;
    let mut health = HealthClient::new(ch.clone());
    for service in ["", "inference.GRPCInferenceService"] {
        let s = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(s.status(), ServingStatus::Serving, "{service:?}");
    }
    // a client watching health (as Envoy or grpc-go's health checking do) sees NOT_SERVING,
    // and its stream ends when the server stops accepting: it must not hold the drain
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "inference.GRPCInferenceService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);
    let watched = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(Some(m)) = watch.message().await {
            seen.push(m.status());
        }
        seen
    });
    // a request in flight (waiting for its batch) when SIGTERM arrives still gets its answer
    let mut c = Client::new(ch.clone());
    let inflight = tokio::spawn(async move { c.model_infer(typed(&[1.0; 4], &[3; 4], 1)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    srv.sigterm();
    let mut c = Client::new(ch.clone());
    let mut seen_not_ready = false;
    for _ in 0..50 {
        if !c
            .server_ready(ServerReadyRequest {})
            .await
            .unwrap()
            .into_inner()
            .ready
        {
            seen_not_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen_not_ready, "ServerReady stayed true after SIGTERM");
    let s = health
        .check(HealthCheckRequest {
            service: "inference.GRPCInferenceService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.status(), ServingStatus::NotServing);
    let answer = inflight.await.unwrap().unwrap().into_inner();
    assert_eq!(
        answer.outputs[1].contents.as_ref().unwrap().int64_contents,
        [6; 4]
    );
    // well within the 30 s drain timeout: nothing held the drain open
    let status = srv.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    assert_eq!(watched.await.unwrap(), [ServingStatus::NotServing]);
}
