"""The peer for tractor-serve's benchmark: the seed pipeline's API (FastAPI + uvicorn), serving an
ONNX model with onnxruntime through the same `POST /predict` request.

    MODEL=path.onnx [INPUT_SHAPE=N,3,48,192] uvicorn bench.fastapi_onnxruntime:app --port 8001

It mirrors the pipeline's handler: a synchronous `def predict(data: list)` (with `Body()`, which
current FastAPI needs to take the list from the JSON body) (FastAPI runs it on
its thread pool), the nested list turned into an array of the model input's dtype, one session
run, `{"prediction": out.tolist()}`. onnxruntime uses its default threading, as a user would.
"""
import os

import numpy as np
import onnxruntime as ort
from fastapi import Body, FastAPI

MODEL = os.environ["MODEL"]
session = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
inp = session.get_inputs()[0]
DTYPES = {"tensor(float)": np.float32, "tensor(int32)": np.int32, "tensor(int64)": np.int64}
dtype = DTYPES[inp.type]

app = FastAPI()


@app.post("/predict")
def predict(data: list = Body()):  # the seed writes `data: list`; FastAPI 0.165 needs Body() to read it from the JSON body
    x = np.array(data, dtype=dtype)
    out = session.run(None, {inp.name: x})[0]
    return {"prediction": out.tolist()}


@app.get("/healthz")
def healthz():
    return {"ok": True}
