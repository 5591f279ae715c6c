use super::*;

fn input(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let xs: Vec<f32> = (0..n)
        .map(|k| ((k * 7919) % 1013) as f32 / 7.0 - 60.0)
        .collect();
    Tensor::from_shape(shape, &xs).unwrap()
}

/// Bit for bit: these are copies.
fn assert_same(got: &TValue, want: &TValue, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    let (g, w) = (
        got.try_as_plain_ram().unwrap(),
        want.try_as_plain_ram().unwrap(),
    );
    let (g, w) = (g.as_slice::<f32>().unwrap(), w.as_slice::<f32>().unwrap());
    let (g, w): (Vec<u32>, Vec<u32>) = (
        g.iter().map(|x| x.to_bits()).collect(),
        w.iter().map(|x| x.to_bits()).collect(),
    );
    assert_eq!(g, w, "{what}");
}

/// A shape, its margins per axis, the value in them.
type PadCase = (&'static [usize], &'static [(usize, usize)], f32);

#[test]
fn pads_are_the_same_as_tracts_for_every_margin_and_value() {
    let cases: &[PadCase] = &[
        // ResNet-50's: a 3×3 convolution's margins
        (&[1, 64, 56, 56], &[(0, 0), (0, 0), (1, 1), (1, 1)], 0.0),
        (&[128, 56, 56], &[(0, 0), (1, 1), (1, 1)], 0.0),
        // uneven, on every axis, another value
        (&[2, 4, 3], &[(1, 0), (0, 2), (3, 1)], -1.5),
        (&[7], &[(2, 3)], 4.0),
        (&[3, 5], &[(0, 0), (0, 0)], 1.0),
        // empty axes: all margin, or rows of nothing
        (&[2, 0, 3], &[(0, 0), (1, 1), (1, 0)], 2.0),
        (&[2, 3, 0], &[(0, 1), (0, 0), (0, 0)], 2.0),
    ];
    for &(shape, pads, value) in cases {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact(shape)).unwrap();
        let pad = Pad {
            pads: pads.to_vec(),
            mode: PadMode::Constant(Arc::new(tensor0(value))),
        };
        let y = model.wire_node("pad", pad, &[x]).unwrap();
        model.select_output_outlets(&y).unwrap();
        let x = input(shape);
        let want = crate::rewrite::run_on(model.clone(), &x);
        assert_eq!(row_copies(&mut model).unwrap(), 1, "{shape:?}");
        assert!(model.nodes().iter().any(|n| n.op_is::<PadRows>()));
        let got = crate::rewrite::run_on(model, &x);
        assert_same(&got[0], &want[0], &format!("pad {shape:?} by {pads:?}"));
    }
}

fn downsample(axis: usize, stride: isize, modulo: usize) -> Downsample {
    Downsample {
        axis,
        stride,
        modulo,
    }
}

#[test]
fn chained_downsamples_become_one_subsample_with_tracts_answer() {
    let cases: &[(&[usize], &[Downsample])] = &[
        // ResNet-50's strided 1×1 convolutions: H then W by 2
        (
            &[1, 256, 56, 56],
            &[downsample(2, 2, 0), downsample(3, 2, 0)],
        ),
        // odd sizes, other strides and offsets, the last axis kept whole
        (&[2, 5, 9, 7], &[downsample(3, 3, 1), downsample(1, 2, 1)]),
        (&[3, 10, 4], &[downsample(1, 4, 2)]),
        (&[11], &[downsample(0, 2, 1)]),
    ];
    for &(shape, chain) in cases {
        let mut model = TypedModel::default();
        let mut at = model.add_source("x", f32::fact(shape)).unwrap();
        for (k, d) in chain.iter().enumerate() {
            at = model.wire_node(format!("d{k}"), d.clone(), &[at]).unwrap()[0];
        }
        model.select_output_outlets(&[at]).unwrap();
        let x = input(shape);
        let want = crate::rewrite::run_on(model.clone(), &x);
        assert_eq!(row_copies(&mut model).unwrap(), chain.len(), "{shape:?}");
        let subs: Vec<&Subsample> = model
            .nodes()
            .iter()
            .filter_map(|n| n.op_as::<Subsample>())
            .collect();
        assert_eq!(subs.len(), 1, "{shape:?}: one copy");
        assert_eq!(subs[0].steps.len(), chain.len());
        let got = crate::rewrite::run_on(model, &x);
        assert_same(&got[0], &want[0], &format!("{chain:?} of {shape:?}"));
    }
}

#[test]
fn a_downsample_read_elsewhere_or_over_the_same_axis_is_not_merged() {
    let shape = [2, 6, 8];
    // the first is also a model output
    let mut model = TypedModel::default();
    let x = model.add_source("x", f32::fact(shape)).unwrap();
    let a = model.wire_node("a", downsample(1, 2, 0), &[x]).unwrap();
    let b = model.wire_node("b", downsample(2, 2, 1), &a).unwrap();
    model.select_output_outlets(&[a[0], b[0]]).unwrap();
    let input = input(&shape);
    let want = crate::rewrite::run_on(model.clone(), &input);
    assert_eq!(row_copies(&mut model).unwrap(), 2);
    let count = |m: &TypedModel| m.nodes().iter().filter(|n| n.op_is::<Subsample>()).count();
    assert_eq!(count(&model), 2);
    let got = crate::rewrite::run_on(model, &input);
    assert_same(&got[0], &want[0], "first");
    assert_same(&got[1], &want[1], "second");
    // twice over one axis: two copies
    let mut model = TypedModel::default();
    let x = model.add_source("x", f32::fact(shape)).unwrap();
    let a = model.wire_node("a", downsample(2, 2, 0), &[x]).unwrap();
    let b = model.wire_node("b", downsample(2, 2, 1), &a).unwrap();
    model.select_output_outlets(&b).unwrap();
    let want = crate::rewrite::run_on(model.clone(), &input);
    row_copies(&mut model).unwrap();
    assert_eq!(count(&model), 2);
    let got = crate::rewrite::run_on(model, &input);
    assert_same(&got[0], &want[0], "same axis");
}

#[test]
fn other_types_and_modes_are_left_to_tract() {
    let mut model = TypedModel::default();
    let x = model.add_source("x", i32::fact([2, 3])).unwrap();
    let p = Pad {
        pads: vec![(1, 1), (0, 0)],
        mode: PadMode::Constant(Arc::new(tensor0(0i32))),
    };
    let y = model.wire_node("pad", p, &[x]).unwrap();
    let z = model.wire_node("d", downsample(0, 2, 0), &y).unwrap();
    model.select_output_outlets(&z).unwrap();
    assert_eq!(row_copies(&mut model).unwrap(), 0);
    let mut model = TypedModel::default();
    let x = model.add_source("x", f32::fact([2, 3])).unwrap();
    let p = Pad {
        pads: vec![(1, 1), (0, 0)],
        mode: PadMode::Reflect,
    };
    let y = model.wire_node("pad", p, &[x]).unwrap();
    let z = model.wire_node("d", downsample(0, -1, 0), &y).unwrap();
    // an offset past the end (nothing left)
    let e = model.wire_node("e", downsample(1, 2, 3), &y).unwrap();
    model.select_output_outlets(&[z[0], e[0]]).unwrap();
    assert_eq!(row_copies(&mut model).unwrap(), 0);
}
