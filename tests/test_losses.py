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
from colorize.color import AB_MAX
from colorize.bins import NearestBinTable, ab_bin_centers, rebalance_weights, soft_encode


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


# ----------------------------------------------------------------------------- the sparse exact loss


def reference_distribution_loss(centers, weights, logits, target, k=5, sigma=5.0):
    """The dense formula RebalancedDistributionLoss used before the sparse rewrite, verbatim."""
    ab = target.float() * AB_MAX
    if ab.shape[-2:] != logits.shape[-2:]:
        ab = F.adaptive_avg_pool2d(ab, logits.shape[-2:])
    q = soft_encode(ab, centers, k, sigma)
    logp = F.log_softmax(logits.float(), dim=1)
    ce = -(q * logp).sum(1)  # (N, h, w)
    w = weights[q.argmax(1)]
    return (w * ce).sum() / w.numel()


def test_nearest_bin_table_is_exact_top_k():
    centers = ab_bin_centers()
    table = NearestBinTable(centers, k=5)
    assert table.candidates < 20  # the point of the table: a dozen distances instead of 262
    gen = torch.Generator().manual_seed(3)
    # in-gamut, out-of-gamut and off-table points (the last fall back to all bins)
    ab = torch.cat([(torch.rand(20000, 2, generator=gen) * 2 - 1) * 115, (torch.rand(500, 2, generator=gen) * 2 - 1) * 300])
    d2, idx = table(ab)
    full = ((ab[:, None, :] - centers[None]) ** 2).sum(-1)
    ref_d2, ref_idx = full.topk(5, dim=1, largest=False)
    torch.testing.assert_close(d2, ref_d2, rtol=1e-5, atol=1e-3)
    assert (d2[:, 1:] >= d2[:, :-1]).all()  # nearest first
    assert torch.equal(idx.sort(1).values, ref_idx.sort(1).values)


@pytest.mark.parametrize("layout", ["fp32", "fp32 channels_last", "bf16 channels_last", "bf16"])
def test_distribution_loss_matches_dense_reference_in_value_and_gradient(layout):
    torch.manual_seed(0)
    centers = ab_bin_centers()
    weights = rebalance_weights(torch.rand(len(centers)) + 0.01, 0.5)
    base = torch.randn(3, len(centers), 12, 12) * 3
    target = (torch.rand(3, 2, 48, 48) - 0.5) * 1.7  # normalised ab, up to +-94 Lab units, pooled 4x
    if "bf16" in layout:
        base = base.bfloat16()
    if "channels_last" in layout:
        base = base.contiguous(memory_format=torch.channels_last)
    new_in, ref_in = base.clone().requires_grad_(), base.clone().requires_grad_()
    new = RebalancedDistributionLoss(centers, weights)(new_in, target)
    ref = reference_distribution_loss(centers, weights, ref_in, target)
    torch.testing.assert_close(new, ref, rtol=1e-6, atol=1e-6)
    new.backward()
    ref.backward()
    assert new_in.grad.dtype == base.dtype and new_in.grad.shape == base.shape
    scale = float(ref_in.grad.float().abs().max())
    tol = 1e-2 if "bf16" in layout else 1e-5  # bf16 grads: one rounding of the same fp32 value
    torch.testing.assert_close(new_in.grad.float(), ref_in.grad.float(), rtol=tol, atol=tol * scale)


def test_distribution_loss_two_forwards_before_backward_keep_their_own_gradients():
    # The loss reuses one scratch buffer across calls; a second forward must not corrupt the first's backward.
    torch.manual_seed(1)
    centers = ab_bin_centers()
    loss = RebalancedDistributionLoss(centers, rebalance_weights(torch.rand(len(centers)) + 0.01))
    x1, x2 = torch.randn(2, len(centers), 8, 8, requires_grad=True), torch.randn(2, len(centers), 8, 8, requires_grad=True)
    t1, t2 = (torch.rand(2, 2, 8, 8) - 0.5), (torch.rand(2, 2, 8, 8) - 0.5)
    (loss(x1, t1) + 2 * loss(x2, t2)).backward()
    r1, r2 = x1.detach().clone().requires_grad_(), x2.detach().clone().requires_grad_()
    (reference_distribution_loss(centers, loss.weights, r1, t1) + 2 * reference_distribution_loss(centers, loss.weights, r2, t2)).backward()
    torch.testing.assert_close(x1.grad, r1.grad)
    torch.testing.assert_close(x2.grad, r2.grad)


def test_distribution_loss_handles_extreme_logits_and_gray_targets():
    centers = ab_bin_centers()
    logits = torch.zeros(1, len(centers), 4, 4)
    logits[:, 7] = 500.0  # would overflow a naive exp
    target = torch.zeros(1, 2, 4, 4)  # gray: the (0, 0) bin and its four equidistant neighbours
    new = RebalancedDistributionLoss(centers)(logits, target)
    ref = reference_distribution_loss(centers, torch.ones(len(centers)), logits, target)
    assert torch.isfinite(new)
    torch.testing.assert_close(new, ref)
