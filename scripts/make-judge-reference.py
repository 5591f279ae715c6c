#!/usr/bin/env python3
"""Reference values for the canary judgement's statistics (crates/metrics), computed once with
scipy into crates/metrics/src/judge_reference.json (committed). Rerun only when a case changes:

    scripts/python-env && ~/.cache/tractor/venv/bin/python scripts/make-judge-reference.py

Mann-Whitney cases are histograms: per revision, how many observations fell in each bucket
(`counts[i]` in (le[i-1], le[i]], the last one in (le[-1], +Inf)). Each case is expanded into
explicit samples, every observation of a bucket at one value inside it (the bucket's midpoint,
or twice the highest bound for +Inf), so the observations of a bucket are exact ties, and
`scipy.stats.mannwhitneyu(canary, stable, method='asymptotic', use_continuity=True)` is run
with alternative='greater' (the canary slower) and 'two-sided'. The common-language effect size
P(canary > stable) + P(tie)/2 is counted pair by pair from the samples, independently of U.

Two-proportion cases: the pooled z test of "the canary's error rate is higher", with
scipy.stats.norm for the tail. Counts are stored as given; the Rust tests recompute from them.
"""
import json
import os

import numpy as np
import scipy
from scipy import stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "metrics", "src", "judge_reference.json")

# tractor-serve-like latency buckets (seconds); +Inf is implicit after the last
LE = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]
FEW = [0.01, 0.1]

MWU_CASES = [
    # (name, le, canary counts, stable counts): one count per bucket, +Inf's last
    ("identical", LE, [5, 40, 120, 300, 280, 150, 60, 30, 10, 4, 1], [5, 40, 120, 300, 280, 150, 60, 30, 10, 4, 1]),
    ("canary clearly slower", LE, [0, 2, 10, 40, 120, 300, 280, 150, 60, 30, 8], [5, 40, 120, 300, 280, 150, 60, 30, 10, 4, 1]),
    ("slight shift", LE, [5, 38, 115, 296, 282, 154, 63, 32, 10, 4, 1], [5, 40, 120, 300, 280, 150, 60, 30, 10, 4, 1]),
    ("canary faster", LE, [10, 60, 150, 320, 250, 120, 40, 20, 6, 2, 0], [5, 40, 120, 300, 280, 150, 60, 30, 10, 4, 1]),
    ("heavy ties, three buckets", FEW, [700, 280, 20], [760, 230, 10]),
    ("heavy ties, two buckets used", FEW, [0, 990, 10], [0, 996, 4]),
    ("unequal n", LE, [0, 1, 3, 9, 12, 6, 3, 2, 1, 0, 0], [10, 80, 240, 600, 560, 300, 120, 60, 20, 8, 2]),
    ("tiny n", LE, [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0], [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]),
    ("one each, apart", FEW, [0, 0, 1], [1, 0, 0]),
    ("large n", LE, [500, 4000, 12000, 30000, 28000, 15000, 6000, 3000, 1000, 400, 100],
     [520, 4100, 12300, 30400, 27500, 14700, 5900, 2900, 980, 390, 90]),
    # every observation in one bucket: no variance; scipy answers p = 1 (the Rust side types it)
    ("all tied", LE, [0, 0, 0, 50, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 80, 0, 0, 0, 0, 0, 0, 0]),
]

PROP_CASES = [
    # (name, canary errors, canary requests, stable errors, stable requests)
    ("equal rates", 10, 1000, 40, 4000),
    ("canary worse", 30, 1000, 40, 4000),
    ("canary slightly worse", 14, 1000, 40, 4000),
    ("canary better", 2, 1000, 40, 4000),
    ("errors only on the canary", 5, 1000, 0, 4000),
    ("errors only on the stable", 0, 1000, 8, 4000),
    ("tiny n", 1, 3, 0, 5),
    ("large n", 1200, 100000, 1000, 100000),
]

NORM_SF_Z = [-40.0, -8.0, -3.0, -1.0, -0.1, 0.0, 1e-9, 0.3, 1.0, 1.6448536269514722, 2.5, 5.0, 10.0, 20.0, 37.5]


def sample(le, counts):
    """Each observation of bucket i at one value inside it: exact ties within a bucket."""
    edges = [0.0] + list(le)
    values = [(edges[i] + edges[i + 1]) / 2 for i in range(len(le))] + [2 * le[-1]]
    assert len(values) == len(counts)
    return np.repeat(np.array(values), np.array(counts))


def cles(x, y):
    """P(x > y) + P(x == y) / 2 over all pairs, counted directly."""
    ys = np.sort(y)
    below = np.searchsorted(ys, x, side="left")
    upto = np.searchsorted(ys, x, side="right")
    return float((below.sum() + 0.5 * (upto - below).sum()) / (len(x) * len(y)))


def mwu_case(name, le, canary, stable):
    x, y = sample(le, canary), sample(le, stable)
    g = stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic", use_continuity=True)
    t = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic", use_continuity=True)
    assert g.statistic == t.statistic
    return {
        "name": name, "le": le, "canary": canary, "stable": stable,
        "n_canary": int(len(x)), "n_stable": int(len(y)),
        "u": float(g.statistic), "p_greater": float(g.pvalue), "p_two_sided": float(t.pvalue),
        "effect": cles(x, y),
    }


def prop_case(name, e1, n1, e2, n2):
    p1, p2 = e1 / n1, e2 / n2
    pooled = (e1 + e2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (p1 - p2) / se
    return {
        "name": name, "canary_errors": e1, "canary_requests": n1,
        "stable_errors": e2, "stable_requests": n2,
        "z": float(z), "p_worse": float(stats.norm.sf(z)),
    }


def main():
    doc = {
        "produced_by": f"scripts/make-judge-reference.py with scipy {scipy.__version__}, numpy {np.__version__}",
        "tolerance": {"rel": 1e-9, "rule": "|rust - scipy| <= rel * |scipy| (abs 1e-300 for p-values that underflow)"},
        "mann_whitney": [mwu_case(*c) for c in MWU_CASES],
        "two_proportions": [prop_case(*c) for c in PROP_CASES],
        "norm_sf": [{"z": z, "sf": float(stats.norm.sf(z))} for z in NORM_SF_Z],
    }
    for c in doc["mann_whitney"]:
        print(f"mwu {c['name']}: U={c['u']} p>={c['p_greater']:.3e} p2={c['p_two_sided']:.3e} A={c['effect']:.4f}")
    for c in doc["two_proportions"]:
        print(f"prop {c['name']}: z={c['z']:.4f} p={c['p_worse']:.3e}")
    with open(OUT, "w") as fh:
        json.dump(doc, fh, indent=1, allow_nan=False)
        fh.write("\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
