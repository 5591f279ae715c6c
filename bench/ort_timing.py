"""onnxruntime's time per inference, the peer side of scripts/bench-engine and of
scripts/bench-serve's raw table.

    python bench/ort_timing.py MODEL THREADS SHAPE RUNS

SHAPE is comma-separated (1,3,224,224). The input is the deterministic formula tract's
raw_timing uses; int32 inputs get |x|*256 (magika's byte values). Prints the median in ms.
"""
import sys
import time

import numpy as np
import onnxruntime as ort

model, threads, shape, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
o = ort.SessionOptions()
o.intra_op_num_threads = threads
o.inter_op_num_threads = 1
o.log_severity_level = 3
s = ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])
i = s.get_inputs()[0]
shape = [int(d) for d in shape.split(",")]
k = np.arange(int(np.prod(shape)), dtype=np.int64)
x = ((k * 7919 % 1000) / 1000.0 - 0.5).astype(np.float32).reshape(shape)
if i.type == "tensor(int32)":
    x = (np.abs(x) * 256).astype(np.int32)
for _ in range(3):
    s.run(None, {i.name: x})
t = []
for _ in range(runs):
    a = time.perf_counter()
    s.run(None, {i.name: x})
    t.append((time.perf_counter() - a) * 1e3)
print(f"{sorted(t)[runs // 2]:.3f}")
