use super::*;

#[test]
fn linear_top_is_round_and_above_the_data() {
    assert_eq!(nice_max(0.0), 1.0);
    assert_eq!(nice_max(9.6), 10.0);
    assert_eq!(nice_max(9.9), 15.0);
    assert_eq!(nice_max(3.1), 4.0);
    assert_eq!(nice_max(240.0), 250.0);
    let a = Axis::fit(Scale::Linear, [1.2, 3.1, f64::NAN], 1.0);
    assert_eq!(a.bounds, [0.0, 4.0]);
    assert_eq!(a.labels, ["0", "2", "4"]);
    assert_eq!(a.plot(9.0), 4.0, "clamped to the top");
}

#[test]
fn labels() {
    assert_eq!(fmt(2.5), "2.50");
    assert_eq!(fmt(150.0), "150");
    assert_eq!(fmt(12.5), "12.5");
    assert_eq!(fmt(0.1), "0.10");
    assert_eq!(fmt(0.01), "0.01");
    assert_eq!(fmt(0.001), "0.001");
}

#[test]
fn integer_axes_never_label_half_a_replica() {
    for (top, max) in [
        (0.0, 2.0),
        (1.0, 2.0),
        (3.0, 4.0),
        (4.0, 6.0),
        (5.0, 6.0),
        (7.0, 8.0),
        (9.0, 10.0),
        (100.0, 150.0),
    ] {
        let a = Axis::fit(Scale::Integer, [top], 1.0);
        assert_eq!(a.bounds, [0.0, max], "top {top}");
        for l in &a.labels {
            assert!(
                l.parse::<i64>().is_ok(),
                "top {top}: label {l:?} is not a whole number"
            );
        }
        assert!(a.bounds[1] > top, "top {top}: the line is under the border");
    }
}

#[test]
fn log_axes_span_the_decades_of_the_data() {
    // the README's case: revisions at 2 ms and 2.4 ms, one spike to 100 ms
    let a = Axis::fit(Scale::Log, [2.0, 2.4, 100.0], 1.0);
    assert_eq!(a.bounds, [0.0, 3.0]);
    assert_eq!(a.labels, ["1", "10", "100", "1000"]);
    // 0.4 ms apart at 2 ms is 8 % of the chart's height on 3 decades (it was 0.4 % on a
    // linear axis up to 100)
    let gap = (a.plot(2.4) - a.plot(2.0)) / (a.bounds[1] - a.bounds[0]);
    assert!(gap > 0.02, "{gap}");
    // just under a power of ten: no extra decade for it
    assert_eq!(Axis::fit(Scale::Log, [0.5, 9.9], 1.0).bounds, [-1.0, 1.0]);
    assert_eq!(Axis::fit(Scale::Log, [0.1, 10.5], 1.0).bounds, [-1.0, 2.0]);
    // sub-millisecond data
    let a = Axis::fit(Scale::Log, [0.03, 0.2], 0.0);
    assert_eq!(a.bounds, [-2.0, 0.0]);
    assert_eq!(a.labels, ["0.01", "0.10", "1"]);
}

#[test]
fn log_axes_are_bounded_and_take_any_value() {
    // a 1 µs outlier does not squash the chart: at most five decades
    let a = Axis::fit(Scale::Log, [0.000_001, 250.0], 1.0);
    assert_eq!(a.bounds, [-2.0, 3.0]);
    assert_eq!(a.plot(0.000_001), -2.0);
    // zero, negative and no data at all
    assert_eq!(a.plot(0.0), -2.0);
    assert_eq!(a.plot(-5.0), -2.0);
    // no data: one decade above the minimum top
    let empty = Axis::fit(Scale::Log, [], 1.0);
    assert_eq!(empty.bounds, [0.0, 1.0]);
    assert_eq!(empty.labels, ["1", "10"]);
    assert_eq!(
        Axis::fit(Scale::Log, [f64::NAN, f64::INFINITY], 1.0).bounds,
        [0.0, 1.0]
    );
}
