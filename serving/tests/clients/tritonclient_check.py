#!/usr/bin/env python3
"""A standard Open Inference Protocol client (NVIDIA's tritonclient[http]), unchanged, against a
running tractor-serve. Run by serving/tests/standard_client.rs:

    python tritonclient_check.py BASE_HOST:PORT MODEL_NAME

Checks liveness, readiness, metadata, JSON inference, binary inference both ways, requested
outputs, and that a bad request raises the client's own exception with the server's message.
Exits non-zero on the first mismatch.
"""
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def main(url: str, model: str) -> int:
    c = httpclient.InferenceServerClient(url=url)
    assert c.is_server_live(), "not live"
    assert c.is_server_ready(), "not ready"
    assert c.is_model_ready(model), "model not ready"
    meta = c.get_server_metadata()
    assert "binary_tensor_data" in meta["extensions"], meta
    m = c.get_model_metadata(model)
    assert [i["name"] for i in m["inputs"]] == ["a", "b"], m
    assert [o["name"] for o in m["outputs"]] == ["sum", "doubled"], m

    a = np.arange(12, dtype=np.float32).reshape(3, 4) / 4
    b = np.arange(12, dtype=np.int64).reshape(3, 4) - 5
    for binary in (False, True):
        ia = httpclient.InferInput("a", list(a.shape), "FP32")
        ib = httpclient.InferInput("b", list(b.shape), "INT64")
        ia.set_data_from_numpy(a, binary_data=binary)
        ib.set_data_from_numpy(b, binary_data=binary)
        outs = [httpclient.InferRequestedOutput("sum", binary_data=binary),
                httpclient.InferRequestedOutput("doubled", binary_data=not binary)]
        r = c.infer(model, [ia, ib], outputs=outs, request_id=f"req-{binary}")
        got_sum, got_doubled = r.as_numpy("sum"), r.as_numpy("doubled")
        assert got_sum.dtype == np.float32 and got_sum.shape == (3, 4), got_sum
        assert np.array_equal(got_sum, a + b.astype(np.float32)), got_sum
        assert got_doubled.dtype == np.int64 and np.array_equal(got_doubled, 2 * b), got_doubled
        assert r.get_response()["id"] == f"req-{binary}"
        print(f"infer binary_inputs={binary}: ok")

    # Only one output requested.
    ia = httpclient.InferInput("a", [1, 4], "FP32")
    ia.set_data_from_numpy(np.ones((1, 4), np.float32))
    ib = httpclient.InferInput("b", [1, 4], "INT64")
    ib.set_data_from_numpy(np.ones((1, 4), np.int64))
    r = c.infer(model, [ia, ib], outputs=[httpclient.InferRequestedOutput("doubled")])
    assert r.as_numpy("sum") is None and r.as_numpy("doubled").tolist() == [[2, 2, 2, 2]]
    print("requested outputs: ok")

    # A wrong datatype: the client raises with the server's message.
    bad = httpclient.InferInput("a", [1, 4], "FP64")
    bad.set_data_from_numpy(np.ones((1, 4), np.float64))
    try:
        c.infer(model, [bad, ib])
        raise AssertionError("a wrong datatype was accepted")
    except InferenceServerException as e:
        assert "FP64 does not match the model's FP32" in str(e), str(e)
    try:
        c.get_model_metadata("no-such-model")
        raise AssertionError("unknown model accepted")
    except InferenceServerException as e:
        assert "unknown model" in str(e), str(e)
    print("errors: ok")
    print("tritonclient conformance: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
