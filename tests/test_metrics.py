"""Metric correctness: scikit-image as the oracle, hand-made cases for the AuC curves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from colorize import metrics as M
from colorize.bins import ColorPrior, ab_bin_centers, hard_encode

skimage = pytest.importorskip("skimage")
from skimage.color import deltaE_ciede2000, rgb2lab  # noqa: E402
from skimage.metrics import peak_signal_noise_ratio, structural_similarity  # noqa: E402


def _smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A colourful, smooth image with some noise (float64 in [0, 1])."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    phase = rng.uniform(0, 2 * np.pi, 3)
    img = np.stack([0.5 + 0.4 * np.sin(6 * x + 3 * y + p) for p in phase], axis=-1)
    return np.clip(img + 0.05 * rng.standard_normal(img.shape), 0, 1)


# ---------------------------------------------------------------- PSNR / SSIM


def test_psnr_matches_skimage_and_caps_identical():
    a = _smooth_image(20, 24, 1)
    b = _smooth_image(20, 24, 2)
    assert M.psnr(a, b) == pytest.approx(peak_signal_noise_ratio(b, a, data_range=1), abs=1e-9)
    assert M.psnr(a, a) == M.PSNR_MAX
    assert M.psnr(a, a + 1e-9) == M.PSNR_MAX


@pytest.mark.parametrize("shape", [(40, 37), (64, 64), (11, 15)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ssim_matches_skimage(shape, dtype):
    truth = _smooth_image(*shape, seed=3).astype(dtype)
    rng = np.random.default_rng(4)
    pred = np.clip(truth + 0.1 * rng.standard_normal(truth.shape), 0, 1).astype(dtype)
    expected = structural_similarity(
        pred.astype(np.float64), truth.astype(np.float64), channel_axis=-1, data_range=1,
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    )
    assert M.ssim(pred, truth) == pytest.approx(expected, abs=1e-3)
    assert M.ssim(pred, truth) == pytest.approx(expected, abs=1e-6)  # float64 all the way
    assert M.ssim(truth, truth) == pytest.approx(1.0)


def test_ssim_tiny_image_does_not_crash():
    a = _smooth_image(5, 7)
    assert M.ssim(a, a) == pytest.approx(1.0)
    assert M.ssim(a, 1 - a) < 1.0


# ---------------------------------------------------------------- CIEDE2000

# Sharma, Wu & Dalal (2005), Table 1: (L1, a1, b1, L2, a2, b2, dE00).
SHARMA = [
    (50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425),
    (50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615),
    (50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412),
    (50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, -1.1848, -84.8006, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, -0.9009, -85.5211, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669),
    (50.0000, -1.0000, 2.0000, 50.0000, 0.0000, 0.0000, 2.3669),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0010, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0012, 7.2195),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0010, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461),
    (50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065),
    (50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492),
    (50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000, 22.8977),
    (50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030),
    (50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000, 19.4535),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.2972, 0.0000, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 1.8634, 0.5757, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.2592, 0.3350, 1.0000),
    (60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
    (63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630),
    (61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731),
    (35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645),
    (22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373),
    (36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146),
    (90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441),
    (90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381),
    (6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377),
    (2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082),
]


def test_ciede2000_sharma_table():
    data = np.array(SHARMA)
    lab1, lab2, expected = data[:, :3], data[:, 3:6], data[:, 6]
    np.testing.assert_allclose(M.ciede2000(lab1, lab2), expected, atol=1e-4)
    np.testing.assert_allclose(M.ciede2000(lab2, lab1), expected, atol=1e-4)  # symmetric
    np.testing.assert_allclose(M.ciede2000(lab1, lab2), deltaE_ciede2000(lab1, lab2), atol=1e-9)


def test_ciede2000_matches_skimage_on_images():
    a = rgb2lab(_smooth_image(30, 20, 5))
    b = rgb2lab(_smooth_image(30, 20, 6))
    out = M.ciede2000(a, b)
    assert out.shape == (30, 20)
    np.testing.assert_allclose(out, deltaE_ciede2000(a, b), atol=1e-4)
    assert np.all(M.ciede2000(a, a) == 0)


_L = st.floats(0, 100, allow_nan=False)
_AB = st.one_of(st.floats(-128, 128, allow_nan=False), st.sampled_from([0.0, -0.0, 1e-4, -2.49, 2.49]))
_LAB = st.tuples(_L, _AB, _AB)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_LAB, _LAB), min_size=1, max_size=8))
@pytest.mark.slow
def test_ciede2000_property_matches_skimage(pairs):
    lab1 = np.array([p[0] for p in pairs], dtype=np.float64)
    lab2 = np.array([p[1] for p in pairs], dtype=np.float64)
    np.testing.assert_allclose(M.ciede2000(lab1, lab2), deltaE_ciede2000(lab1, lab2), atol=1e-4)
    assert np.all(M.ciede2000(lab1, lab2) >= 0)


# ---------------------------------------------------------------- Lab, gray, colourfulness


def test_rgb_to_lab_np_matches_skimage():
    rgb = _smooth_image(16, 16, 7)
    np.testing.assert_allclose(M.rgb_to_lab_np(rgb), rgb2lab(rgb), atol=2e-3)


def test_luma_gray_is_bt601():
    rgb = _smooth_image(8, 8, 8)
    gray = M.luma_gray(rgb)
    assert gray.dtype == np.float32 and gray.shape == rgb.shape
    expected = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    for c in range(3):
        np.testing.assert_allclose(gray[..., c], expected, atol=1e-6)


def test_colorfulness_gray_is_zero_and_grows_with_saturation():
    rgb = _smooth_image(32, 32, 9)
    gray = M.luma_gray(rgb).astype(np.float64)
    assert M.colorfulness(gray) == pytest.approx(0.0, abs=1e-9)
    assert M.colorfulness(np.zeros((4, 4, 3))) == 0.0
    values = [M.colorfulness(gray + s * (rgb - gray)) for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert all(b > a for a, b in zip(values, values[1:]))
    # the formula, spelled out
    x = rgb * 255
    rg, yb = x[..., 0] - x[..., 1], 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    expected = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    assert M.colorfulness(rgb) == pytest.approx(expected)


# ---------------------------------------------------------------- AuC curves


def _lab(ab: np.ndarray, L: float = 50.0) -> np.ndarray:
    ab = np.asarray(ab, dtype=np.float64).reshape(1, -1, 2)
    return np.concatenate([np.full(ab.shape[:-1] + (1,), L), ab], axis=-1)


def test_auc_perfect_prediction_is_100():
    lab = rgb2lab(_smooth_image(16, 16, 10))
    curve = M.ab_error_curve(lab, lab)
    assert curve.shape == (151,) and np.all(curve == 1.0)
    assert M.auc(curve) == 100.0
    h = M.ErrorHistogram.from_lab(lab, lab)
    assert h.auc() == 100.0 and h.auc_rebalanced() == 100.0


def test_auc_gray_prediction_hand_case():
    # 3 gray pixels (error 0) and 1 pixel with ab (30, 40): error 50 for a gray prediction.
    true = _lab([(0, 0), (0, 0), (0, 0), (30, 40)])
    pred = _lab([(0, 0)] * 4)
    curve = M.ab_error_curve(pred, true)
    expected = np.where(np.arange(151) >= 50, 1.0, 0.75)
    np.testing.assert_allclose(curve, expected)
    assert M.auc(curve) == pytest.approx(100 * (50 * 0.75 + 101 * 1.0) / 151)
    # rebalanced: two bins, each counts half
    rebal = M.ab_error_curve(pred, true, pixel_weights=M.rebalanced_pixel_weights(true))
    np.testing.assert_allclose(rebal, np.where(np.arange(151) >= 50, 1.0, 0.5))
    h = M.ErrorHistogram.from_lab(pred, true)
    np.testing.assert_allclose(h.curve(), curve)
    np.testing.assert_allclose(h.rebalanced_curve(), rebal)
    assert M.auc(M.ab_error_curve(pred, true, thresholds=[0, 49.5, 50])) == pytest.approx(100 * 2.5 / 3)


def test_score_image_gray_baseline_known_error():
    # 12 gray pixels and 4 pixels of one colour; the gray baseline's ab error on the colour pixels
    # is |ab(colour) - ab(luma gray)|, computed here with skimage.
    colour = np.array([0.8, 0.3, 0.2])
    truth = np.full((4, 4, 3), 0.4)
    truth[0] = colour
    gray = M.luma_gray(truth)
    lab_c = rgb2lab(colour[None, None])[0, 0]
    lab_g = rgb2lab(gray[0, 0].astype(np.float64)[None, None])[0, 0]
    e = float(np.hypot(*(lab_c[1:] - lab_g[1:])))
    assert abs(e - round(e)) > 0.05  # not on a threshold
    t = np.arange(151)
    plain = np.where(t >= e, 1.0, 0.75)
    rebal = np.where(t >= e, 1.0, 0.5)
    s = M.score_image(gray, truth)
    assert s.auc == pytest.approx(100 * plain.mean())
    assert s.auc_rebalanced == pytest.approx(100 * rebal.mean())
    assert s.colorfulness_pred == pytest.approx(0.0, abs=1e-6)
    assert s.colorfulness_true > 0
    assert s.delta_colorfulness == pytest.approx(-s.colorfulness_true, abs=1e-6)
    assert s.psnr == pytest.approx(M.psnr(gray, truth))
    de = deltaE_ciede2000(rgb2lab(gray.astype(np.float64)), rgb2lab(truth))
    assert s.ciede2000 == pytest.approx(de.mean(), abs=1e-3)


def _three_bins() -> np.ndarray:
    centers = ab_bin_centers().numpy().astype(np.float64)
    picks = [tuple(c) for c in centers if tuple(c) in {(0.0, 0.0), (40.0, 20.0), (-20.0, 60.0)}]
    assert len(picks) == 3
    return np.array(picks)


def test_rebalanced_curve_is_mean_of_per_bin_curves():
    c0, c1, c2 = _three_bins()
    # bin c0: 90 pixels, error 0; bin c1: 9 pixels, errors 5 (x4) and 20 (x5); bin c2: 1 pixel, error 100.
    true_ab = [c0] * 90 + [c1] * 9 + [c2]
    errors = [0] * 90 + [5] * 4 + [20] * 5 + [100]
    pred_ab = [tuple(ab + np.array([e, 0.0])) for ab, e in zip(true_ab, errors)]
    true, pred = _lab(true_ab), _lab(pred_ab)
    t = np.arange(151)
    per_bin = np.stack([
        np.ones(151),
        (4 * (t >= 5) + 5 * (t >= 20)) / 9,
        (t >= 100).astype(float),
    ])
    expected_rebal = per_bin.mean(axis=0)
    expected_plain = (90 + 4 * (t >= 5) + 5 * (t >= 20) + (t >= 100)) / 100

    np.testing.assert_allclose(M.ab_error_curve(pred, true), expected_plain)
    w = M.rebalanced_pixel_weights(true)
    assert w.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(M.ab_error_curve(pred, true, pixel_weights=w), expected_rebal)
    h = M.ErrorHistogram.from_lab(pred, true)
    assert len(h.bins) == 3 and h.num_pixels == 100
    np.testing.assert_allclose(np.sort(h.per_bin_curves(), axis=0), np.sort(per_bin, axis=0))
    np.testing.assert_allclose(h.rebalanced_curve(), expected_rebal)
    np.testing.assert_allclose(h.curve(), expected_plain)

    # Dataset level: split the pixels over two "images"; the histograms add up, bins merge.
    h1 = M.ErrorHistogram.from_lab(pred[:, :95], true[:, :95])
    h2 = M.ErrorHistogram.from_lab(pred[:, 95:], true[:, 95:])
    total = sum([h1, h2])
    np.testing.assert_allclose(total.rebalanced_curve(), expected_rebal)
    np.testing.assert_allclose(total.curve(), expected_plain)
    # ... which is not the mean of the per-image rebalanced curves
    assert not np.allclose((h1.rebalanced_curve() + h2.rebalanced_curve()) / 2, expected_rebal)


def test_rebalanced_with_prior():
    c0, c1, _ = _three_bins()
    true = _lab([c0] * 3 + [c1])
    pred = _lab([c0] * 3 + [c0])
    err = float(np.hypot(*(c1 - c0)))
    h = M.ErrorHistogram.from_lab(pred, true)
    # A uniform prior weighs every pixel the same: the plain curve.
    uniform = ColorPrior.uniform()
    np.testing.assert_allclose(h.rebalanced_curve(uniform), h.curve())
    # A prior 3x more likely on c0 than c1 balances the two bins: the bin-mean curve.
    centers = ab_bin_centers().numpy()
    p = np.full(len(centers), 1e-3)
    p[np.flatnonzero((centers == c0).all(1))] = 0.3
    p[np.flatnonzero((centers == c1).all(1))] = 0.1
    prior = ColorPrior(torch.tensor(p))
    np.testing.assert_allclose(h.rebalanced_curve(prior), h.rebalanced_curve(), atol=1e-12)
    w = M.rebalanced_pixel_weights(true, prior)
    np.testing.assert_allclose(M.ab_error_curve(pred, true, pixel_weights=w), h.rebalanced_curve(prior), atol=1e-12)
    assert h.rebalanced_curve()[int(np.floor(err))] == 0.5


def test_ab_bins_agree_with_hard_encode():
    rng = np.random.default_rng(11)
    ab = M.rgb_to_lab_np(rng.random((1, 2000, 3)))[..., 1:]
    extra = np.array([[[150.0, -150.0], [-128.0, 127.0], [0.0, 0.0], [93.0, -61.0]]])
    ab = np.concatenate([ab, extra], axis=1)
    centers = ab_bin_centers()
    expected = hard_encode(torch.from_numpy(ab.astype(np.float32)).permute(2, 0, 1)[None], centers)[0].numpy()
    got = M.ab_bins(ab)
    same = got == expected
    # ties (equidistant centres) may be broken differently; anything else must match
    c = centers.numpy().astype(np.float64)
    d_got = np.hypot(*(ab - c[got]).transpose(2, 0, 1))
    d_exp = np.hypot(*(ab - c[expected]).transpose(2, 0, 1))
    assert np.all(same | np.isclose(d_got, d_exp, atol=1e-3))
    assert same.mean() > 0.99


def test_histogram_addition_and_empty():
    rng = np.random.default_rng(12)
    true = M.rgb_to_lab_np(rng.random((6, 6, 3)))
    pred = M.rgb_to_lab_np(rng.random((6, 6, 3)))
    whole = M.ErrorHistogram.from_lab(pred, true)
    parts = M.ErrorHistogram.empty() + M.ErrorHistogram.from_lab(pred[:2], true[:2]) + M.ErrorHistogram.from_lab(pred[2:], true[2:])
    np.testing.assert_array_equal(parts.bins, whole.bins)
    np.testing.assert_array_equal(parts.counts, whole.counts)
    assert np.isnan(M.ErrorHistogram.empty().auc())
    np.testing.assert_allclose(whole.curve(), M.ab_error_curve(pred, true))


def test_score_image_perfect_and_shapes():
    x = _smooth_image(24, 20, 13).astype(np.float32)
    s = M.score_image(x, x)
    assert (s.psnr, s.ssim, s.ciede2000, s.auc, s.auc_rebalanced) == (100.0, 1.0, 0.0, 100.0, 100.0)
    assert s.colorfulness_pred == s.colorfulness_true
    assert set(s.as_dict()) >= {"psnr", "ssim", "ciede2000", "auc", "auc_rebalanced", "delta_colorfulness"}
    prepared = M.prepare_truth(x)
    assert M.score_image(x, prepared).as_dict() == s.as_dict()
    with pytest.raises(ValueError):
        M.score_image(x[:10], x)


# --------------------------------------------------------------------------- blotchiness (issue 14)


def _wall(h: int = 192, w: int = 256) -> np.ndarray:
    """Lab truth: a flat bluish-gray wall (left) and a flat ochre wall (right), one sharp edge."""
    lab = np.zeros((h, w, 3))
    lab[..., 0] = 60
    lab[:, : w // 2, 1:] = (-3, -8)
    lab[:, w // 2 :, 1:] = (8, 30)
    return lab


def _patched(lab: np.ndarray, seed: int = 0, n: int = 25) -> np.ndarray:
    """The same walls broken into discs of random colours: what a blotchy model does."""
    rng = np.random.default_rng(seed)
    out = lab.copy()
    h, w = lab.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(n):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(h // 12, h // 5)
        out[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r, 1:] = rng.uniform(-40, 40, 2)
    return out


def test_blotchiness_anchors_and_ordering() -> None:
    from colorize.metrics import blotchiness

    truth = _wall()
    gray = truth * [1, 0, 0]
    tinted = truth.copy()
    tinted[..., 1] += 15  # wrong but uniform colour: not a blotch
    noisy = truth.copy()
    noisy[..., 1:] += np.random.default_rng(1).normal(0, 8, truth[..., 1:].shape)  # pixel noise: not a blotch
    score = {name: blotchiness(p, truth)[0] for name, p in
             [("truth", truth), ("gray", gray), ("tinted", tinted), ("noisy", noisy), ("blotchy", _patched(truth))]}
    assert score["gray"] == 0.0 and abs(score["tinted"] - score["truth"]) < 1e-6  # a uniform shift adds nothing
    assert score["truth"] < 0.5  # the edge between the two walls is not flat, so it does not count
    assert score["noisy"] < 2.0
    assert score["blotchy"] > 8.0
    assert blotchiness(_patched(truth, n=8), truth)[0] < score["blotchy"]  # fewer patches, lower score


def test_blotchiness_is_size_independent_and_needs_flat_truth() -> None:
    from colorize.metrics import blotchiness

    truth, pred = _wall(), _patched(_wall())
    small = blotchiness(pred, truth)[0]
    big = blotchiness(np.repeat(np.repeat(pred, 3, 0), 3, 1), np.repeat(np.repeat(truth, 3, 0), 3, 1))[0]
    assert abs(big - small) < 0.2 * small
    busy = np.zeros((96, 96, 3))
    busy[..., 0] = 50
    busy[..., 1:] = np.random.default_rng(2).uniform(-60, 60, (96, 96, 2))  # no flat colour anywhere
    value, flat = blotchiness(busy, busy)
    assert np.isnan(value) and flat == 0.0


def test_score_image_reports_blotchiness() -> None:
    from colorize.metrics import score_image

    h, w = 96, 128
    truth = np.full((h, w, 3), (0.55, 0.5, 0.45), np.float32)
    blotchy = truth.copy()
    for i in range(0, h, 16):  # 16 px patches of two colours
        for j in range(0, w, 16):
            blotchy[i:i + 16, j:j + 16] = (0.8, 0.4, 0.3) if (i + j) // 16 % 2 else (0.3, 0.5, 0.8)
    assert score_image(truth, truth).blotchiness < 0.1
    assert score_image(blotchy, truth).blotchiness > 5
    assert "blotchiness" in score_image(blotchy, truth).as_dict()
