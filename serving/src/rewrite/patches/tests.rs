use super::*;
use crate::model::lowering::Lowering;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + seed) % 97) as f32 / 24.0 - 2.0)
        .collect()
}

/// The packed layout written straight from its definition.
fn naive(xs: &[f32], len: usize, w: Window, r: usize, panel_len: usize) -> Vec<f32> {
    let outputs = w.outputs(len);
    let mut out = vec![f32::NAN; outputs.div_ceil(r) * panel_len];
    for x in 0..outputs {
        for ch in 0..w.channels {
            for j in 0..w.kernel {
                let at = x / r * panel_len + (ch * w.kernel + j) * r + x % r;
                out[at] = xs[(x * w.stride + j * w.dilation) * w.channels + ch];
            }
        }
    }
    out
}

#[test]
fn packs_every_record_of_every_panel_as_the_definition_says() {
    // (channels, kernel, stride, dilation, positions, panel width)
    let cases = [
        (256, 5, 1, 1, 512, 16),
        (3, 5, 1, 1, 40, 16),
        (4, 3, 2, 1, 37, 8),
        (5, 3, 1, 2, 29, 12),
        (2, 4, 3, 2, 50, 6),
        (7, 1, 1, 1, 9, 16),
        (6, 3, 1, 1, 3, 16),
    ];
    for (channels, kernel, stride, dilation, len, r) in cases {
        let w = Window {
            channels,
            kernel,
            stride,
            dilation,
        };
        let xs = values(len * channels, 1);
        let panel_len = (w.depth() + 1) * r;
        let want = naive(&xs, len, w, r, panel_len);
        let mut got = vec![f32::NAN; want.len()];
        pack(&xs, len, w, r, panel_len, &mut got);
        // every value written: what the definition leaves (NaN) is zero
        let want: Vec<f32> = want
            .iter()
            .map(|v| if v.is_nan() { 0.0 } else { *v })
            .collect();
        let same = got
            .iter()
            .zip(&want)
            .all(|(g, w)| g.to_bits() == w.to_bits());
        assert!(same, "{w:?} over {len} positions, panels of {r}");
    }
}

#[test]
fn a_window_counts_the_outputs_that_fit() {
    let w = |kernel, stride, dilation| Window {
        channels: 1,
        kernel,
        stride,
        dilation,
    };
    assert_eq!(w(5, 1, 1).outputs(512), 508);
    assert_eq!(w(3, 2, 1).outputs(37), 18);
    assert_eq!(w(3, 1, 2).outputs(29), 25);
    assert_eq!(w(5, 1, 1).outputs(4), 0);
    assert_eq!(w(5, 1, 1).outputs(5), 1);
}

/// A channels-last 1-D convolution: input shape (N, L, C) or (L, C).
struct Case {
    input: Vec<usize>,
    cout: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    pad: usize,
    group: usize,
}

fn case(input: &[usize], cout: usize, kernel: usize) -> Case {
    Case {
        input: input.to_vec(),
        cout,
        kernel,
        stride: 1,
        dilation: 1,
        pad: 0,
        group: 1,
    }
}

fn model(c: &Case) -> TypedModel {
    let mut m = TypedModel::default();
    let x = m.add_source("x", f32::fact(&c.input)).unwrap();
    let cin = c.input[c.input.len() - 1];
    let w = values(c.cout * cin / c.group * c.kernel, 3);
    let w = Tensor::from_shape(&[c.cout, cin / c.group, c.kernel], &w).unwrap();
    let w = m.add_const("w", w).unwrap();
    let b = m.add_const("b", tensor1(&values(c.cout, 5))).unwrap();
    let spec = PoolSpec {
        data_format: if c.input.len() == 3 {
            DataFormat::NHWC
        } else {
            DataFormat::HWC
        },
        kernel_shape: tvec![c.kernel],
        padding: PaddingSpec::Explicit(tvec![c.pad], tvec![c.pad]),
        dilations: Some(tvec![c.dilation]),
        strides: Some(tvec![c.stride]),
        input_channels: cin,
        output_channels: c.cout,
    };
    let op = Conv {
        pool_spec: spec,
        kernel_fmt: KernelFormat::OIHW,
        group: c.group,
        q_params: None,
    };
    let y = m.wire_node("conv", op, &[x, w, b]).unwrap();
    m.select_output_outlets(&y).unwrap();
    Lowering::Eager.optimize(m).unwrap()
}

fn im2cols(m: &TypedModel) -> usize {
    m.nodes().iter().filter(|n| n.op_is::<Im2Col>()).count()
}

/// The case's model with and without the rewrite: how many it replaced, and both answers.
fn both(c: &Case) -> (usize, TVec<TValue>, TVec<TValue>) {
    let plain = model(c);
    let mut rewritten = plain.clone();
    let n = packed_patches(&mut rewritten).unwrap();
    if n > 0 {
        assert_eq!(im2cols(&rewritten), 0, "an Im2col is left");
    }
    let input = Tensor::from_shape(&c.input, &values(c.input.iter().product(), 11)).unwrap();
    (
        n,
        super::super::run_on(plain, &input),
        super::super::run_on(rewritten, &input),
    )
}

fn same_bits(a: &TValue, b: &TValue) -> bool {
    let (a, b) = (a.try_as_plain_ram().unwrap(), b.try_as_plain_ram().unwrap());
    let (a, b) = (a.as_slice::<f32>().unwrap(), b.as_slice::<f32>().unwrap());
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn a_channels_last_convolution_gives_tracts_answers_bit_for_bit() {
    let strided = Case {
        stride: 2,
        ..case(&[1, 81, 64], 64, 5)
    };
    let dilated = Case {
        dilation: 2,
        ..case(&[1, 71, 64], 64, 3)
    };
    let cases = [
        case(&[1, 64, 32], 48, 5),
        case(&[3, 30, 8], 24, 5),
        case(&[60, 16], 40, 4),
        strided,
        dilated,
    ];
    for c in &cases {
        let plain = model(c);
        assert_eq!(im2cols(&plain), 1, "tract lowers {:?} by im2col", c.input);
        let (n, want, got) = both(c);
        assert_eq!(n, 1, "{:?}", c.input);
        assert!(same_bits(&got[0], &want[0]), "{:?}", c.input);
    }
}

#[test]
fn padded_or_grouped_convolutions_are_left_to_tract() {
    let padded = Case {
        pad: 2,
        ..case(&[1, 64, 32], 48, 5)
    };
    let grouped = Case {
        group: 2,
        ..case(&[1, 64, 64], 64, 5)
    };
    for c in [padded, grouped] {
        assert_eq!(im2cols(&model(&c)), 1, "tract lowers it by im2col");
        let (n, want, got) = both(&c);
        assert_eq!(n, 0);
        assert!(same_bits(&got[0], &want[0]));
    }
}
