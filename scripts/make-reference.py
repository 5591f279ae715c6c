#!/usr/bin/env python3
"""Compute the serving tests' reference outputs with onnxruntime, once, into
serving/tests/data/reference.json (committed). Rerun only when a model or a case changes:

    scripts/python-env && ~/.cache/tractor/venv/bin/python scripts/make-reference.py

Inputs are not stored: they are made by formulas the Rust tests repeat exactly:
- "det": element i (row-major) = float32((i * 7919 % 1000) / 1000 - 0.5)
- "magika": magika v3 features of a fixture file (first 1024 bytes of the first 4096 after
  stripping leading whitespace, padded with 256 at the end; last 1024 of the last 4096 after
  stripping trailing whitespace, padded at the start)
"""
import json
import os

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models")
DATA = os.path.join(ROOT, "serving", "tests", "data")
WS = b" \t\n\r\x0b\x0c"


def det(shape):
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.int64)
    return ((i * 7919 % 1000) / 1000.0 - 0.5).astype(np.float32).reshape(shape)


def magika_features(content: bytes, beg=1024, end=1024, block=4096, pad=256):
    b = content[:block].lstrip(WS)[:beg]
    e = content[-block:].rstrip(WS)
    e = e[-end:] if len(e) > end else e
    return list(b) + [pad] * (beg - len(b)) + [pad] * (end - len(e)) + list(e)


def run(path, feeds):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    s = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return s.run(None, feeds), [o.name for o in s.get_outputs()]


def main():
    cases = []
    specs = [
        ("assets/models/demo-classifier-v1.onnx", os.path.join(ROOT, "assets/models/demo-classifier-v1.onnx"), None, "features", [3, 64]),
        ("assets/models/demo-classifier-v2.onnx", os.path.join(ROOT, "assets/models/demo-classifier-v2.onnx"), None, "features", [3, 64]),
        ("shared:squeezenet-light.onnx", os.path.join(SHARED, "squeezenet-light.onnx"), "N,3,224,224", "data_0", [1, 3, 224, 224]),
        ("serving/tests/data/deep-conv.onnx", os.path.join(ROOT, "serving/tests/data/deep-conv.onnx"), None, "x", [2, 256, 7, 7]),
        ("serving/tests/data/shallow-conv.onnx", os.path.join(ROOT, "serving/tests/data/shallow-conv.onnx"), None, "x", [2, 3, 33, 47]),
        ("shared:ppocr-mobile-v2-cls.onnx", os.path.join(SHARED, "ppocr-mobile-v2-cls.onnx"), "N,3,48,192", "x", [2, 3, 48, 192]),
    ]
    for name, path, override, inp, shape in specs:
        outs, names = run(path, {inp: det(shape)})
        cases.append({
            "model": name, "input_shape": override,
            "input": {"name": inp, "shape": shape, "datatype": "FP32", "gen": "det"},
            "output": {"name": names[0], "shape": list(outs[0].shape), "data": [float(x) for x in outs[0].ravel()]},
        })
    cfg = json.load(open(os.path.join(SHARED, "magika-standard-v3_3.config.json")))
    labels = cfg["target_labels_space"]
    magika = os.path.join(SHARED, "magika-standard-v3_3.onnx")
    files = sorted(f for f in os.listdir(os.path.join(DATA, "magika")))
    feats = [magika_features(open(os.path.join(DATA, "magika", f), "rb").read()) for f in files]
    outs, names = run(magika, {"bytes": np.array(feats, dtype=np.int32)})
    probs = outs[0]
    magika_cases = []
    for f, p in zip(files, probs):
        magika_cases.append({"file": f"magika/{f}", "label": labels[int(np.argmax(p))], "score": float(np.max(p)),
                             "output": [float(x) for x in p]})
        print(f"magika {f}: {labels[int(np.argmax(p))]} ({float(np.max(p)):.3f})")
    doc = {
        "produced_by": f"scripts/make-reference.py with onnxruntime {ort.__version__} (CPU, 1 thread)",
        "tolerance": {"abs": 1e-4, "rel": 1e-3, "rule": "|tract - ort| <= abs + rel * |ort| for every element"},
        "cases": cases,
        "magika": {"output": names[0], "labels": labels, "files": magika_cases},
    }
    with open(os.path.join(DATA, "reference.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
    print("wrote serving/tests/data/reference.json")


if __name__ == "__main__":
    main()
