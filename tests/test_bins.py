"""ab bins, soft encoding, annealed mean and the colour prior."""

from __future__ import annotations

import pytest
import torch

from colorize import color
from colorize.bins import ColorPrior, ab_bin_centers, annealed_mean, hard_encode, rebalance_weights, soft_encode


def test_bins_cover_exactly_the_srgb_gamut_cells():
    centers = ab_bin_centers()
    assert centers.shape[1] == 2 and 200 < centers.shape[0] < 320
    assert torch.all(centers % 10 == 0)
    # Every sRGB colour falls in a bin cell.
    rgb = torch.rand(3, 64, 64)
    ab = color.rgb_to_lab(rgb)[1:].reshape(2, -1).T
    d = torch.cdist(ab, centers).min(1).values
    assert d.max() <= 5 * 2**0.5 + 1e-4


@pytest.mark.slow
def test_soft_encoding_uses_five_nearest_bins_with_gaussian_weights():
    centers = ab_bin_centers()
    ab = torch.tensor([3.0, -4.0]).view(1, 2, 1, 1)
    q = soft_encode(ab, centers)[0, :, 0, 0]
    assert torch.isclose(q.sum(), torch.tensor(1.0))
    assert int((q > 0).sum()) == 5
    d2 = ((centers - ab.view(1, 2)) ** 2).sum(1)
    nearest = d2.argsort()[:5]
    expected = torch.exp(-d2[nearest] / (2 * 25))
    torch.testing.assert_close(q[nearest], expected / expected.sum())
    assert int(hard_encode(ab, centers)) == int(nearest[0])


def test_annealed_mean_interpolates_between_mean_and_mode():
    centers = torch.tensor([[0.0, 0.0], [50.0, 0.0]])
    logits = torch.log(torch.tensor([0.6, 0.4])).view(1, 2, 1, 1)
    mean = annealed_mean(logits, centers, temperature=1.0)[0, 0, 0, 0]
    vivid = annealed_mean(logits, centers, temperature=0.1)[0, 0, 0, 0]
    assert torch.isclose(mean, torch.tensor(20.0), atol=1e-4)
    assert vivid < 1.0  # close to the mode (bin 0)


def test_rebalance_weights_favour_rare_colours_and_have_unit_expectation():
    p = torch.tensor([0.90, 0.09, 0.01])
    w = rebalance_weights(p, lam=0.5)
    assert w[2] > w[1] > w[0]
    assert torch.isclose((p * w).sum(), torch.tensor(1.0), atol=1e-5)
    # lambda = 1 is uniform weighting; lambda = 0 is full inverse-prior weighting.
    torch.testing.assert_close(rebalance_weights(p, lam=1.0), torch.ones(3))
    w0 = rebalance_weights(p, lam=0.0)
    torch.testing.assert_close(w0 / w0[0], p[0] / p, rtol=1e-4, atol=0)


def test_prior_from_counts_is_smoothed_and_normalised():
    centers = ab_bin_centers()
    counts = torch.zeros(len(centers))
    gray = int(hard_encode(torch.zeros(1, 2, 1, 1), centers))
    counts[gray] = 100
    prior = ColorPrior.from_counts(counts)
    assert torch.isclose(prior.probabilities.sum(), torch.tensor(1.0))
    assert int(prior.probabilities.argmax()) == gray
    assert (prior.probabilities > 0).sum() > 1  # sigma-5 smoothing spreads mass to neighbours
