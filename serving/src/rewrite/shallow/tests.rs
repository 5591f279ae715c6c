use super::*;
use tract_onnx::tract_core::ops::cnn::{PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

/// A test convolution: input shape, output channels, kernel, strides, dilations, padding,
/// and whether its bias is one scalar for every channel (as tract puts in for a missing one).
struct Case {
    input: Vec<usize>,
    cout: usize,
    kernel: [usize; 2],
    strides: [usize; 2],
    dilations: [usize; 2],
    padding: PaddingSpec,
    scalar_bias: bool,
}

fn case(input: &[usize], cout: usize, k: usize, s: usize, pad: usize) -> Case {
    Case {
        input: input.to_vec(),
        cout,
        kernel: [k, k],
        strides: [s, s],
        dilations: [1, 1],
        padding: PaddingSpec::Explicit(tvec![pad, pad], tvec![pad, pad]),
        scalar_bias: false,
    }
}

/// What reads the convolution in a test model.
#[derive(Clone, Copy, PartialEq)]
enum After {
    Nothing,
    Relu,
    /// A ReLU, and the convolution is a model output too.
    ReluAndOutput,
    /// max(conv, 0.5): not a ReLU.
    MaxHalf,
    /// max(conv, another input): not a ReLU.
    MaxInput,
}

/// Values with both signs, so a ReLU has work.
fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + seed) % 97) as f32 / 24.0 - 2.0)
        .collect()
}

fn wire_conv(m: &mut TypedModel, x: OutletId, c: &Case, group: usize) -> OutletId {
    let chw = c.input.len() == 3;
    let cin = c.input[c.input.len() - 3];
    let w: Vec<f32> = values(c.cout * cin / group * c.kernel[0] * c.kernel[1], 3);
    let w = Tensor::from_shape(&[c.cout, cin / group, c.kernel[0], c.kernel[1]], &w).unwrap();
    let w = m.add_const("w", w).unwrap();
    let b = if c.scalar_bias {
        tensor0(0.75f32)
    } else {
        tensor1(&values(c.cout, 5))
    };
    let b = m.add_const("b", b).unwrap();
    let spec = PoolSpec {
        data_format: if chw {
            DataFormat::CHW
        } else {
            DataFormat::NCHW
        },
        kernel_shape: tvec![c.kernel[0], c.kernel[1]],
        padding: c.padding.clone(),
        dilations: Some(c.dilations[..].into()),
        strides: Some(c.strides[..].into()),
        input_channels: cin,
        output_channels: c.cout,
    };
    let op = Conv {
        pool_spec: spec,
        kernel_fmt: KernelFormat::OIHW,
        group,
        q_params: None,
    };
    m.wire_node("conv", op, &[x, w, b]).unwrap()[0]
}

/// The case's convolution and what reads it; the model's outputs are what is read last.
fn model(c: &Case, after: After) -> TypedModel {
    let mut m = TypedModel::default();
    let x = m.add_source("x", f32::fact(&c.input)).unwrap();
    let y = wire_conv(&mut m, x, c, 1);
    let other = match after {
        After::Nothing => None,
        After::Relu | After::ReluAndOutput => Some(scalar(&mut m, 0.0, c.input.len())),
        After::MaxHalf => Some(scalar(&mut m, 0.5, c.input.len())),
        After::MaxInput => {
            let shape = m.outlet_fact(y).unwrap().shape.clone();
            Some(m.add_source("other", f32::fact(shape)).unwrap())
        }
    };
    let mut outs = vec![y];
    if let Some(other) = other {
        let r = m
            .wire_node("max", tract_onnx::tract_core::ops::math::max(), &[y, other])
            .unwrap()[0];
        outs = if after == After::ReluAndOutput {
            vec![y, r]
        } else {
            vec![r]
        };
    }
    m.select_output_outlets(&outs).unwrap();
    m
}

/// A constant of one value with `rank` unit axes, as ONNX's Relu becomes.
fn scalar(m: &mut TypedModel, v: f32, rank: usize) -> OutletId {
    let mut t = tensor0(v);
    for _ in 0..rank {
        t.insert_axis(0).unwrap();
    }
    m.add_const(format!("const{v}"), t).unwrap()
}

fn shallow_ops(m: &TypedModel) -> Vec<ShallowConv> {
    m.nodes()
        .iter()
        .filter_map(|n| n.op_as::<ShallowConv>().cloned())
        .collect()
}

fn cases() -> Vec<Case> {
    vec![
        // SqueezeNet's first layer on a small map.
        case(&[1, 3, 23, 23], 64, 3, 2, 0),
        // A batch of 2, output channels not a multiple of 8, 25 deep.
        case(&[2, 1, 9, 11], 10, 5, 1, 2),
        // 100 columns: whole tiles of every width, and a cut one.
        case(&[1, 3, 5, 100], 16, 3, 1, 1),
        // Channels first without a batch axis.
        case(&[3, 8, 30], 5, 3, 1, 1),
        // Padding wider than the kernel: edge windows see padding only.
        case(&[1, 2, 4, 5], 3, 2, 1, 3),
        // Strides, dilations and padding differing between axes.
        Case {
            input: vec![1, 2, 12, 40],
            cout: 9,
            kernel: [3, 2],
            strides: [2, 3],
            dilations: [2, 3],
            padding: PaddingSpec::Explicit(tvec![1, 0], tvec![0, 2]),
            scalar_bias: false,
        },
        // Padding computed by tract (SAME_UPPER at stride 2: more after than before), one
        // bias for all channels, rows shorter than any tile (2 and 5 columns).
        Case {
            padding: PaddingSpec::SameUpper,
            scalar_bias: true,
            ..case(&[2, 3, 10, 9], 7, 3, 2, 0)
        },
        Case {
            padding: PaddingSpec::SameUpper,
            scalar_bias: true,
            ..case(&[1, 2, 3, 4], 3, 3, 2, 0)
        },
    ]
}

#[test]
fn shallow_convolutions_answer_as_tracts_with_every_kernel_the_cpu_has() {
    for c in cases() {
        let what = format!("{:?} k{:?} s{:?}", c.input, c.kernel, c.strides);
        let m = model(&c, After::Nothing);
        let x = Tensor::from_shape(&c.input, &values(c.input.iter().product(), 11)).unwrap();
        let want = crate::rewrite::run_on(m.clone(), &x);
        let mut ours = m;
        assert_eq!(replace_all(&mut ours).unwrap(), 1, "{what}");
        let ops = shallow_ops(&ours);
        assert_eq!(ops.len(), 1, "{what}");
        assert!(!ops[0].relu, "{what}");
        let got = crate::rewrite::run_on(ours, &x);
        assert_eq!(got[0].shape(), want[0].shape(), "{what}");
        crate::rewrite::assert_close(&got[0], &want[0], &what);
        for k in Kernel::available() {
            let got = ops[0].compute(&x, k).unwrap().into_tvalue();
            crate::rewrite::assert_close(&got, &want[0], &format!("{what} {k:?}"));
        }
    }
}

#[test]
fn a_relu_that_alone_reads_the_convolution_is_applied_as_it_writes() {
    for c in cases() {
        let what = format!("{:?}", c.input);
        let m = model(&c, After::Relu);
        let x = Tensor::from_shape(&c.input, &values(c.input.iter().product(), 11)).unwrap();
        let want = crate::rewrite::run_on(m.clone(), &x);
        let mut ours = m;
        assert_eq!(replace_all(&mut ours).unwrap(), 1, "{what}");
        assert!(shallow_ops(&ours)[0].relu, "{what}");
        // The ReLU is gone with the convolution: one node besides the source.
        assert_eq!(ours.nodes().len(), 2, "{what}");
        let got = crate::rewrite::run_on(ours.clone(), &x);
        crate::rewrite::assert_close(&got[0], &want[0], &what);
        let view = got[0].try_as_plain_ram().unwrap();
        let vals = view.as_slice::<f32>().unwrap();
        assert!(vals.iter().all(|v| *v >= 0.0), "{what}");
        assert!(vals.contains(&0.0), "{what}: the ReLU had nothing to cut");
        for k in Kernel::available() {
            let got = shallow_ops(&ours)[0].compute(&x, k).unwrap().into_tvalue();
            crate::rewrite::assert_close(&got, &want[0], &format!("{what} {k:?}"));
        }
    }
}

#[test]
fn a_relu_is_not_folded_in_when_the_convolution_is_also_an_output() {
    let c = case(&[1, 3, 9, 9], 8, 3, 2, 1);
    let m = model(&c, After::ReluAndOutput);
    let x = Tensor::from_shape(&c.input, &values(c.input.iter().product(), 11)).unwrap();
    let want = crate::rewrite::run_on(m.clone(), &x);
    let mut ours = m;
    assert_eq!(replace_all(&mut ours).unwrap(), 1);
    assert!(!shallow_ops(&ours)[0].relu);
    let got = crate::rewrite::run_on(ours, &x);
    crate::rewrite::assert_close(&got[0], &want[0], "convolution");
    crate::rewrite::assert_close(&got[1], &want[1], "relu");
}

#[test]
fn a_max_that_is_not_a_relu_stays_after_the_convolution() {
    let c = case(&[1, 3, 9, 9], 8, 3, 2, 1);
    for after in [After::MaxHalf, After::MaxInput] {
        let m = model(&c, after);
        let x = Tensor::from_shape(&c.input, &values(c.input.iter().product(), 11)).unwrap();
        let mut inputs = tvec![x.clone().into_tvalue()];
        if after == After::MaxInput {
            let other = Tensor::from_shape(&[1, 8, 5, 5], &values(200, 1)).unwrap();
            inputs.push(other.into_tvalue());
        }
        let run = |m: TypedModel| m.into_runnable().unwrap().run(inputs.clone()).unwrap();
        let want = run(m.clone());
        let mut ours = m;
        assert_eq!(replace_all(&mut ours).unwrap(), 1);
        assert!(!shallow_ops(&ours)[0].relu);
        assert!(ours.nodes().iter().any(|n| n.name == "max"));
        crate::rewrite::assert_close(&run(ours)[0], &want[0], "max");
    }
}

#[test]
fn deep_grouped_and_channels_last_convolutions_are_left_to_tract() {
    // 65 deep (65 channels × 1×1; 8 × 3×3 = 72).
    for c in [
        case(&[1, 65, 4, 4], 4, 1, 1, 0),
        case(&[1, 8, 6, 6], 4, 3, 1, 1),
    ] {
        let mut m = model(&c, After::Nothing);
        assert_eq!(replace_all(&mut m).unwrap(), 0, "{:?}", c.input);
    }
    // Two groups.
    let c = case(&[1, 4, 6, 6], 4, 3, 1, 1);
    let mut m = TypedModel::default();
    let x = m.add_source("x", f32::fact(&c.input)).unwrap();
    let y = wire_conv(&mut m, x, &c, 2);
    m.select_output_outlets(&[y]).unwrap();
    assert_eq!(replace_all(&mut m).unwrap(), 0, "grouped");
    // Channels last.
    let mut m = TypedModel::default();
    let x = m.add_source("x", f32::fact([1, 6, 6, 3])).unwrap();
    let w = m
        .add_const("w", Tensor::zero::<f32>(&[4, 3, 3, 3]).unwrap())
        .unwrap();
    let b = m.add_const("b", tensor0(0f32)).unwrap();
    let op = Conv {
        pool_spec: PoolSpec {
            data_format: DataFormat::NHWC,
            kernel_shape: tvec![3, 3],
            padding: PaddingSpec::Valid,
            dilations: None,
            strides: None,
            input_channels: 3,
            output_channels: 4,
        },
        kernel_fmt: KernelFormat::OIHW,
        group: 1,
        q_params: None,
    };
    let y = m.wire_node("conv", op, &[x, w, b]).unwrap();
    m.select_output_outlets(&y).unwrap();
    assert_eq!(replace_all(&mut m).unwrap(), 0, "NHWC");
}

#[test]
fn an_input_of_another_shape_is_refused_with_what_was_expected() {
    let c = case(&[1, 3, 9, 9], 8, 3, 2, 1);
    let mut m = model(&c, After::Nothing);
    replace_all(&mut m).unwrap();
    let op = &shallow_ops(&m)[0];
    let err = op
        .compute(&Tensor::zero::<f32>(&[1, 3, 9, 8]).unwrap(), Kernel::Plain)
        .unwrap_err();
    assert!(err.to_string().contains("[1, 3, 9, 8]"), "{err}");
}
