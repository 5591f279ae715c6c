//! The `inference.GRPCInferenceService` methods over the same state as the REST handlers:
//! the same readiness, model checks, queue, batching, time budget and metrics.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tonic::{Request, Response, Status};

use super::convert;
use super::pb::grpc_inference_service_server::GrpcInferenceService;
use super::pb::model_metadata_response::TensorMetadata;
use super::pb::*;
use super::status::{code_name, parse_timeout};
use crate::infer::{self, InFlight};
use crate::model::TensorSpec;
use crate::state::AppState;

pub struct Inference {
    pub state: AppState,
}

/// An empty version means "the one served", as in the protocol.
fn version(v: &str) -> Option<&str> {
    Some(v).filter(|v| !v.is_empty())
}

impl Inference {
    /// Run one method and count it in the gRPC metrics by its name and code.
    async fn counted<T>(
        &self,
        method: &'static str,
        body: impl Future<Output = Result<T, Status>>,
    ) -> Result<Response<T>, Status> {
        let start = Instant::now();
        let result = body.await;
        let code = match &result {
            Ok(_) => tonic::Code::Ok,
            Err(s) => s.code(),
        };
        self.state.inner.metrics.observe_grpc(
            method,
            code_name(code),
            start.elapsed().as_secs_f64(),
        );
        result.map(Response::new)
    }

    fn ready(&self) -> bool {
        self.state.inner.ready.load(Ordering::SeqCst)
    }

    fn model_metadata_now(&self) -> ModelMetadataResponse {
        let st = &self.state.inner;
        let t = |s: &TensorSpec| TensorMetadata {
            name: s.name.clone(),
            datatype: s.dtype.kserve_name().to_owned(),
            shape: s.kserve_shape(),
        };
        ModelMetadataResponse {
            name: st.name.clone(),
            versions: vec![st.version.clone()],
            platform: "onnx_tract".to_owned(),
            inputs: st.inputs.iter().map(t).collect(),
            outputs: st.outputs.iter().map(t).collect(),
        }
    }

    async fn infer(
        &self,
        budget: Duration,
        req: ModelInferRequest,
    ) -> Result<ModelInferResponse, Status> {
        let arrived = Instant::now();
        let st = &self.state.inner;
        let _guard = InFlight::new(&st.metrics);
        infer::check_model(st, &req.model_name, version(&req.model_version))?;
        let mut prepared = convert::prepare(req, &st.inputs, &st.outputs, st.batchable)?;
        let inputs = std::mem::take(&mut prepared.inputs);
        let outputs = infer::run_job(st, inputs, prepared.rows, arrived, budget).await?;
        Ok(convert::respond(
            &st.name,
            &st.version,
            &prepared,
            &st.outputs,
            outputs,
        )?)
    }
}

#[tonic::async_trait]
impl GrpcInferenceService for Inference {
    async fn server_live(
        &self,
        _: Request<ServerLiveRequest>,
    ) -> Result<Response<ServerLiveResponse>, Status> {
        self.counted("ServerLive", async {
            Ok(ServerLiveResponse { live: true })
        })
        .await
    }

    async fn server_ready(
        &self,
        _: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        let ready = self.ready();
        self.counted(
            "ServerReady",
            async move { Ok(ServerReadyResponse { ready }) },
        )
        .await
    }

    async fn model_ready(
        &self,
        req: Request<ModelReadyRequest>,
    ) -> Result<Response<ModelReadyResponse>, Status> {
        let r = req.into_inner();
        self.counted("ModelReady", async {
            infer::check_model(&self.state.inner, &r.name, version(&r.version))?;
            Ok(ModelReadyResponse {
                ready: self.ready(),
            })
        })
        .await
    }

    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        self.counted("ServerMetadata", async {
            Ok(ServerMetadataResponse {
                name: "tractor-serve".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                extensions: vec!["model_repository_health".to_owned()],
            })
        })
        .await
    }

    async fn model_metadata(
        &self,
        req: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        let r = req.into_inner();
        self.counted("ModelMetadata", async {
            infer::check_model(&self.state.inner, &r.name, version(&r.version))?;
            Ok(self.model_metadata_now())
        })
        .await
    }

    async fn model_infer(
        &self,
        req: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let ours = self.state.inner.request_timeout;
        // the client's deadline, when it set one, shortens ours
        let budget = req
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_timeout)
            .map_or(ours, |theirs| theirs.min(ours));
        let r = req.into_inner();
        self.counted("ModelInfer", self.infer(budget, r)).await
    }
}
