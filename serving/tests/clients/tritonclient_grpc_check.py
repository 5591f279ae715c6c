#!/usr/bin/env python3
"""NVIDIA's tritonclient[grpc], unchanged, against a running tractor-serve's gRPC port. Run by
serving/tests/server/standard_client.rs:

    python tritonclient_grpc_check.py HOST:GRPC_PORT MODEL_NAME

Checks liveness, readiness, metadata, inference (tritonclient sends raw_input_contents and
reads raw_output_contents), typed contents (a ModelInferRequest built with tritonclient's own
protobuf module and sent through its own stub: fp32_contents and int64_contents), requested
outputs, the request id, and that a bad request raises the client's own exception with the
server's code and message. Exits non-zero on the first mismatch.
"""
import sys

import numpy as np
import grpc
import tritonclient.grpc as grpcclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException


def main(url: str, model: str) -> int:
    c = grpcclient.InferenceServerClient(url=url)
    assert c.is_server_live(), "not live"
    assert c.is_server_ready(), "not ready"
    assert c.is_model_ready(model), "model not ready"
    assert c.is_model_ready(model, model_version="1"), "version 1 not ready"
    meta = c.get_server_metadata()
    assert meta.name == "tractor-serve", meta
    m = c.get_model_metadata(model)
    assert [i.name for i in m.inputs] == ["a", "b"], m
    assert [o.name for o in m.outputs] == ["sum", "doubled"], m
    assert list(m.inputs[0].shape) == [-1, 4] and m.inputs[1].datatype == "INT64", m
    mj = c.get_model_metadata(model, as_json=True)
    assert mj["platform"] == "onnx_tract", mj

    a = np.arange(12, dtype=np.float32).reshape(3, 4) / 4
    b = np.arange(12, dtype=np.int64).reshape(3, 4) - 5
    ia = grpcclient.InferInput("a", list(a.shape), "FP32")
    ib = grpcclient.InferInput("b", list(b.shape), "INT64")
    ia.set_data_from_numpy(a)
    ib.set_data_from_numpy(b)
    r = c.infer(model, [ia, ib], request_id="req-grpc")
    got_sum, got_doubled = r.as_numpy("sum"), r.as_numpy("doubled")
    assert got_sum.dtype == np.float32 and got_sum.shape == (3, 4), got_sum
    assert np.array_equal(got_sum, a + b.astype(np.float32)), got_sum
    assert got_doubled.dtype == np.int64 and np.array_equal(got_doubled, 2 * b), got_doubled
    assert r.get_response().id == "req-grpc"
    print("infer: ok")

    # Typed contents, through tritonclient's own protobuf module and stub.
    stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(url))
    req = service_pb2.ModelInferRequest(model_name=model, id="typed")
    ta = req.inputs.add(name="a", datatype="FP32", shape=[3, 4])
    ta.contents.fp32_contents.extend(a.flatten().tolist())
    tb = req.inputs.add(name="b", datatype="INT64", shape=[3, 4])
    tb.contents.int64_contents.extend(b.flatten().tolist())
    resp = stub.ModelInfer(req)
    assert resp.id == "typed" and [o.name for o in resp.outputs] == ["sum", "doubled"], resp
    assert [list(o.shape) for o in resp.outputs] == [[3, 4], [3, 4]], resp
    if resp.raw_output_contents:
        typed_sum = np.frombuffer(resp.raw_output_contents[0], dtype=np.float32)
        typed_doubled = np.frombuffer(resp.raw_output_contents[1], dtype=np.int64)
    else:
        typed_sum = np.array(resp.outputs[0].contents.fp32_contents, dtype=np.float32)
        typed_doubled = np.array(resp.outputs[1].contents.int64_contents, dtype=np.int64)
    assert np.array_equal(typed_sum.reshape(3, 4), a + b.astype(np.float32)), typed_sum
    assert np.array_equal(typed_doubled.reshape(3, 4), 2 * b), typed_doubled
    # Typed contents of the wrong kind for the datatype are refused by name.
    bad_req = service_pb2.ModelInferRequest(model_name=model)
    ba = bad_req.inputs.add(name="a", datatype="FP32", shape=[3, 4])
    ba.contents.int64_contents.extend([0] * 12)
    bb = bad_req.inputs.add(name="b", datatype="INT64", shape=[3, 4])
    bb.contents.int64_contents.extend([0] * 12)
    try:
        stub.ModelInfer(bad_req)
        raise AssertionError("int64_contents for an FP32 input were accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
        print(f"typed mismatch refused: {e.details()}")
    print("typed contents: ok")

    # Only one output requested.
    outs = [grpcclient.InferRequestedOutput("doubled")]
    r = c.infer(model, [ia, ib], outputs=outs)
    assert r.as_numpy("sum") is None and np.array_equal(r.as_numpy("doubled"), 2 * b)
    print("requested outputs: ok")

    # A wrong datatype: the client raises with the server's code and message.
    bad = grpcclient.InferInput("a", [3, 4], "FP64")
    bad.set_data_from_numpy(a.astype(np.float64))
    try:
        c.infer(model, [bad, ib])
        raise AssertionError("a wrong datatype was accepted")
    except InferenceServerException as e:
        assert "FP64 does not match the model's FP32" in e.message(), str(e)
        assert e.status() == "StatusCode.INVALID_ARGUMENT", e.status()
    try:
        c.get_model_metadata("no-such-model")
        raise AssertionError("unknown model accepted")
    except InferenceServerException as e:
        assert "unknown model" in e.message() and e.status() == "StatusCode.NOT_FOUND", str(e)
    print("errors: ok")
    print("tritonclient grpc conformance: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
