#!/usr/bin/env python3
"""Generate tractor's demo models and the serving tests' small models, reproducibly.

    python3 assets/models/generate.py            # writes assets/models/*.onnx and serving/tests/data/*.onnx
    python3 assets/models/generate.py --out DIR  # only the demo models, into DIR

Needs the `onnx` and `numpy` packages (scripts/python-env installs them). Weights come from a
fixed seed, so the same package versions give byte-identical files.

demo-classifier-v1.onnx / -v2.onnx
    input  `features`      FP32 [N, 64]
    output `probabilities` FP32 [N, 8]   (softmax over 8 classes)
    64 -> 256 (dense + relu), broadcast over 128 positions (plus a learned-looking position
    table), then a residual 256x256 block (matmul, tanh) applied `depth` times at every position,
    mean over positions, 256 -> 8, softmax. v1 applies the block 2 times (about 17 M MACs per
    example), v2 12 times (about 100 M): one shared weight matrix keeps the files small while v2
    is the "new model that is measurably slower" (about 0.1 ms vs 1 ms per example on one core)
    for rollout and rollback demos. v2 also perturbs the output layer, so its answers differ.

demo-classifier-v3.onnx
    the same graph with the block applied 60 times (about 500 M MACs, some 10 ms per
    example on one core): the clearly worse version a canary rolls back by itself (`tractor rollout
    canary ... --model v3`, and the demo).

serving/tests/data/multi-io.onnx
    inputs  `a` FP32 [N, 4], `b` INT64 [N, 4]
    outputs `sum` FP32 [N, 4] = a + float(b), `doubled` INT64 [N, 4] = 2 * b

serving/tests/data/symbolic-outputs.onnx
    input `images` FP32 [batch, 3, height, width], output `features` FP32 [batch, 22, H', W']
    (a stride-2 3x3 convolution and a relu), where the file declares the output and the
    intermediate value's shapes as expressions of the inputs' symbols, as YOLOv8-style exports do
    (`floor(height/2 - 1/2) + 1`): fixing the input with --input-shape must not clash with them.

serving/tests/data/deep-conv.onnx
    input `x` FP32 [N, 256, 7, 7], output `y` FP32 [N, 8, 7, 7]: a 3x3 convolution over 256
    channels (a matrix product 2,304 deep, as ResNet-50's later stages have) with a bias and a
    relu, then a 3x3 convolution over those 8 channels. tractor-serve's `split` rewrite takes
    the first one apart into slices of input channels; the reference test checks its answers
    against onnxruntime.

serving/tests/data/shallow-conv.onnx
    input `x` FP32 [N, 3, 33, 47], output `y` FP32 [N, 24, 16, 24]: a 3x3 stride-2 convolution
    over 3 channels (a matrix product 27 deep, as an image network's first layer) with uneven
    padding (1 before and 0 after the rows, 2 and 1 around the columns), a bias and a relu.
    tractor-serve's `shallow` rewrite computes it directly; the reference test checks its answers
    against onnxruntime (SqueezeNet's generated weights make its output uniform, so that model
    cannot).

serving/tests/data/no-shape.onnx
    input `x` FP32 with no shape at all, not even its rank (as some hand-written or converted
    graphs declare), output `y` = relu(x): loading it must fail with a message that names the
    input and the --input-shape flag, and load with `--input-shape x=N,4`.

serving/tests/data/bad-op.onnx
    a graph whose node `broken_node` uses an operator no runtime knows (`NoSuchOp`): loading it
    must fail with a message naming the file and that node.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPSET = [helper.make_opsetid("", 17)]
IR = 8  # what opset 17 needs; widely loadable (onnxruntime 1.31 reads up to IR 13)


def save(model, path):
    onnx.checker.check_model(model)
    model.producer_name = "tractor assets/models/generate.py"
    onnx.save(model, path)
    print(f"{os.path.relpath(path, ROOT)}: {os.path.getsize(path)} bytes")


def demo_classifier(version: int, depth: int, seed: int = 7, positions: int = 128):
    rng = np.random.default_rng(seed)
    w_in = (rng.standard_normal((64, 256)) / 8.0).astype(np.float32)
    b_in = np.zeros(256, np.float32)
    pos = (rng.standard_normal((1, positions, 256)) * 0.1).astype(np.float32)
    w_hid = (rng.standard_normal((256, 256)) / 16.0 / np.sqrt(depth)).astype(np.float32)
    b_hid = (rng.standard_normal(256) * 0.01).astype(np.float32)
    w_out = (rng.standard_normal((256, 8)) / 4.0).astype(np.float32)
    if version == 2:
        w_out = (w_out + rng.standard_normal((256, 8)).astype(np.float32) / 16.0).astype(np.float32)
    b_out = np.zeros(8, np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in
             [(w_in, "w_in"), (b_in, "b_in"), (pos, "positions"), (w_hid, "w_hid"), (b_hid, "b_hid"),
              (w_out, "w_out"), (b_out, "b_out"), (np.array([1], np.int64), "axis1")]]
    nodes = [helper.make_node("Gemm", ["features", "w_in", "b_in"], ["h0"], name="input_dense"),
             helper.make_node("Relu", ["h0"], ["a0"], name="input_relu"),
             helper.make_node("Unsqueeze", ["a0", "axis1"], ["a0u"], name="to_positions"),
             helper.make_node("Add", ["a0u", "positions"], ["p0"], name="add_positions")]
    prev = "p0"
    for i in range(depth):
        nodes += [
            helper.make_node("MatMul", [prev, "w_hid"], [f"m{i}"], name=f"block{i}_matmul"),
            helper.make_node("Add", [f"m{i}", "b_hid"], [f"g{i}"], name=f"block{i}_bias"),
            helper.make_node("Tanh", [f"g{i}"], [f"t{i}"], name=f"block{i}_tanh"),
            helper.make_node("Add", [prev, f"t{i}"], [f"r{i}"], name=f"block{i}_residual"),
        ]
        prev = f"r{i}"
    nodes += [helper.make_node("ReduceMean", [prev], ["pooled"], axes=[1], keepdims=0, name="pool"),
              helper.make_node("Gemm", ["pooled", "w_out", "b_out"], ["logits"], name="output_dense"),
              helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1, name="softmax")]
    graph = helper.make_graph(
        nodes, f"demo_classifier_v{version}",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 64])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 8])],
        inits)
    m = helper.make_model(graph, opset_imports=OPSET, ir_version=IR)
    m.model_version = version
    m.doc_string = f"tractor demo classifier v{version} ({depth} residual blocks over {positions} positions)"
    return m


def multi_io():
    nodes = [helper.make_node("Cast", ["b"], ["bf"], to=TensorProto.FLOAT, name="cast_b"),
             helper.make_node("Add", ["a", "bf"], ["sum"], name="add"),
             helper.make_node("Add", ["b", "b"], ["doubled"], name="double")]
    graph = helper.make_graph(
        nodes, "multi_io",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 4]),
         helper.make_tensor_value_info("b", TensorProto.INT64, ["N", 4])],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["N", 4]),
         helper.make_tensor_value_info("doubled", TensorProto.INT64, ["N", 4])])
    return helper.make_model(graph, opset_imports=OPSET, ir_version=IR)


def symbolic_outputs(seed: int = 11):
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array((rng.standard_normal((22, 3, 3, 3)) / 8.0).astype(np.float32), "w")
    b = numpy_helper.from_array((rng.standard_normal(22) * 0.1).astype(np.float32), "bias")
    out_dims = ["batch", 22, "floor(height/2 - 1/2) + 1", "floor(width/2 - 1/2) + 1"]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["images", "w", "bias"], ["conv"], name="conv",
                          strides=[2, 2], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
         helper.make_node("Relu", ["conv"], ["features"], name="relu")],
        "symbolic_outputs",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, out_dims)],
        initializer=[w, b],
        value_info=[helper.make_tensor_value_info("conv", TensorProto.FLOAT, out_dims)])
    return helper.make_model(graph, opset_imports=OPSET, ir_version=IR)


def deep_conv(seed: int = 13):
    rng = np.random.default_rng(seed)
    w1 = numpy_helper.from_array((rng.standard_normal((8, 256, 3, 3)) / 48.0).astype(np.float32), "w1")
    b1 = numpy_helper.from_array((rng.standard_normal(8) * 0.1).astype(np.float32), "b1")
    w2 = numpy_helper.from_array((rng.standard_normal((8, 8, 3, 3)) / 8.0).astype(np.float32), "w2")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w1", "b1"], ["deep"], name="deep",
                          pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
         helper.make_node("Relu", ["deep"], ["r"], name="relu"),
         helper.make_node("Conv", ["r", "w2"], ["y"], name="shallow",
                          pads=[1, 1, 1, 1], kernel_shape=[3, 3])],
        "deep_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 256, 7, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8, 7, 7])],
        initializer=[w1, b1, w2])
    return helper.make_model(graph, opset_imports=OPSET, ir_version=IR)


def shallow_conv(seed: int = 17):
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array((rng.standard_normal((24, 3, 3, 3)) / 5.0).astype(np.float32), "w")
    b = numpy_helper.from_array((rng.standard_normal(24) * 0.1).astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="first",
                          pads=[1, 2, 0, 1], kernel_shape=[3, 3], strides=[2, 2]),
         helper.make_node("Relu", ["c"], ["y"], name="relu")],
        "shallow_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 33, 47])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 24, 16, 24])],
        initializer=[w, b])
    return helper.make_model(graph, opset_imports=OPSET, ir_version=IR)


def no_shape():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "no_shape", [x], [y])
    return helper.make_model(graph, opset_imports=OPSET, ir_version=IR)


def bad_op():
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="fine_node"),
         helper.make_node("NoSuchOp", ["y"], ["z"], name="broken_node")],
        "bad_op",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4])])
    # Not checked: the checker rightly refuses an unknown operator.
    return helper.make_model(graph, opset_imports=OPSET, ir_version=IR)


def main():
    out = os.path.join(ROOT, "assets", "models")
    if "--out" in sys.argv:  # write the demo models elsewhere (CI compares them with the committed ones)
        out = sys.argv[sys.argv.index("--out") + 1]
        save(demo_classifier(1, depth=2), os.path.join(out, "demo-classifier-v1.onnx"))
        save(demo_classifier(2, depth=12), os.path.join(out, "demo-classifier-v2.onnx"))
        save(demo_classifier(3, depth=60), os.path.join(out, "demo-classifier-v3.onnx"))
        return 0
    save(demo_classifier(1, depth=2), os.path.join(out, "demo-classifier-v1.onnx"))
    save(demo_classifier(2, depth=12), os.path.join(out, "demo-classifier-v2.onnx"))
    save(demo_classifier(3, depth=60), os.path.join(out, "demo-classifier-v3.onnx"))
    data = os.path.join(ROOT, "serving", "tests", "data")
    os.makedirs(data, exist_ok=True)
    save(multi_io(), os.path.join(data, "multi-io.onnx"))
    save(symbolic_outputs(), os.path.join(data, "symbolic-outputs.onnx"))
    save(deep_conv(), os.path.join(data, "deep-conv.onnx"))
    save(shallow_conv(), os.path.join(data, "shallow-conv.onnx"))
    m = no_shape()  # not checked: the checker wants every graph input's shape field
    m.producer_name = "tractor assets/models/generate.py"
    onnx.save(m, os.path.join(data, "no-shape.onnx"))
    print("serving/tests/data/no-shape.onnx: written (no input shape, deliberately)")
    m = bad_op()
    m.producer_name = "tractor assets/models/generate.py"
    onnx.save(m, os.path.join(data, "bad-op.onnx"))
    print("serving/tests/data/bad-op.onnx: written (deliberately invalid)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
