"""Every loss computes what it claims."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from colorize.losses import (
    BlurredChromaLoss,
    PatchDiscriminator,
    RebalancedDistributionLoss,
    gaussian_blur,
    gaussian_kernel1d,
    hinge_discriminator_loss,
    hinge_generator_loss,
    parse_loss_weights,
)
from colorize.quantization import ab_bin_centers, rebalance_weights, soft_encode


def test_gaussian_kernels_are_the_documented_ones():
    k3, k5 = gaussian_kernel1d(3), gaussian_kernel1d(5)
    assert torch.isclose(k3.sum(), torch.tensor(1.0)) and len(k5) == 5
    sigma3 = 0.3 * ((3 - 1) * 0.5 - 1) + 0.8
    torch.testing.assert_close(k3[0] / k3[1], torch.exp(torch.tensor(-1 / (2 * sigma3**2))))


def test_blur_loss_is_mean_of_plain_and_blurred_euclidean_distances():
    torch.manual_seed(0)
    pred, target = torch.rand(2, 2, 16, 16) * 2 - 1, torch.rand(2, 2, 16, 16) * 2 - 1

    def dist(a, b):
        return torch.sqrt(((a - b) ** 2).sum(1) + 1e-6).mean()

    manual = torch.stack([dist(pred, target)] + [dist(gaussian_blur(pred, k), gaussian_blur(target, k)) for k in (3, 5)]).mean()
    torch.testing.assert_close(BlurredChromaLoss()(pred, target), manual)


def test_blur_loss_forgives_small_shifts_more_than_plain_distance():
    target = torch.zeros(1, 2, 32, 32)
    target[..., 10:20, 10:20] = 0.8
    shifted = torch.roll(target, 1, dims=-1)
    plain = BlurredChromaLoss(kernel_sizes=(1,))(shifted, target)
    blurred = BlurredChromaLoss(kernel_sizes=(5,))(shifted, target)
    assert blurred < plain


def test_blur_of_constant_is_constant_and_low_res_pred_is_upsampled():
    x = torch.full((1, 2, 9, 9), 0.3)
    torch.testing.assert_close(gaussian_blur(x, 5), x)
    loss = BlurredChromaLoss()(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 16, 16))
    assert loss < 0.01


def test_distribution_loss_is_rebalanced_cross_entropy():
    centers = ab_bin_centers()
    prior = torch.rand(len(centers)) + 0.01
    weights = rebalance_weights(prior, 0.5)
    target = (torch.rand(1, 2, 4, 4) - 0.5) * 0.8  # normalised ab
    logits = torch.randn(1, len(centers), 4, 4)
    q = soft_encode(target * 110, centers)
    ce = -(q * F.log_softmax(logits, 1)).sum(1)
    expected = (weights[q.argmax(1)] * ce).mean()
    torch.testing.assert_close(RebalancedDistributionLoss(centers, weights)(logits, target), expected)
    # Without rebalancing it is the plain soft cross-entropy; a perfect prediction scores lower.
    plain = RebalancedDistributionLoss(centers)
    torch.testing.assert_close(plain(logits, target), ce.mean())
    assert plain(torch.log(q + 1e-9), target) < plain(logits, target)


def test_distribution_loss_downsamples_target_to_logit_resolution():
    centers = ab_bin_centers()
    loss = RebalancedDistributionLoss(centers)(torch.randn(1, len(centers), 4, 4), torch.zeros(1, 2, 16, 16))
    assert torch.isfinite(loss)


def test_gan_pieces():
    disc = PatchDiscriminator(width=16)
    scores = disc(torch.rand(2, 1, 64, 64), torch.rand(2, 2, 16, 16))  # chroma upsampled to luma size
    assert scores.shape[0] == 2 and scores.shape[1] == 1
    assert hinge_discriminator_loss(torch.full((4,), 2.0), torch.full((4,), -2.0)) == 0
    assert hinge_discriminator_loss(torch.zeros(4), torch.zeros(4)) == 2
    assert hinge_generator_loss(torch.full((4,), 3.0)) == -3
    # spectral norm keeps the largest singular value of each conv near 1
    disc.train()
    for _ in range(10):
        disc(torch.rand(1, 1, 32, 32), torch.rand(1, 2, 32, 32))
    w = disc.net[0].weight.reshape(16, -1)
    assert torch.linalg.matrix_norm(w, ord=2) < 1.2


def test_parse_loss_weights():
    assert parse_loss_weights("distribution=1,blur=0.5") == {"distribution": 1.0, "blur": 0.5}
    assert parse_loss_weights("blur") == {"blur": 1.0}
    with pytest.raises(ValueError, match="unknown loss"):
        parse_loss_weights("l2")
    with pytest.raises(ValueError, match="non-negative"):
        parse_loss_weights("blur=-1")
