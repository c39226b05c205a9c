"""Function-preserving widening: the wider model computes exactly what the trained one did."""

from __future__ import annotations

import pytest
import torch

from colorize.models import create_model
from colorize.models.widen import widen_into, widen_state_dict


def _trained_like(model: torch.nn.Module) -> torch.nn.Module:
    """Give BatchNorm non-trivial statistics, as training would (random init has mean 0, var 1)."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


@pytest.mark.parametrize("hints", [False, True])
def test_widened_compact_model_gives_the_same_output(hints: bool) -> None:
    torch.manual_seed(0)
    small = _trained_like(create_model("compact", widths=(16, 32, 48, 64), blocks=(0, 1, 1, 1), hints=hints)).eval()
    wide = widen_into(small, create_model("compact", widths=(16, 48, 96, 128), blocks=(0, 1, 1, 1), hints=hints)).eval()
    x = torch.rand(2, small.in_channels, 64, 48)
    with torch.no_grad():
        assert torch.allclose(small(x), wide(x), atol=1e-5, rtol=1e-4)
    assert sum(p.numel() for p in wide.parameters()) > 2 * sum(p.numel() for p in small.parameters())


def test_widened_model_learns_in_its_new_channels() -> None:
    """The zero blocks are not stuck: one optimiser step makes the old outputs read new channels."""
    torch.manual_seed(0)
    small = create_model("compact", widths=(16, 32, 48, 64), blocks=(0, 1, 1, 1))
    wide = widen_into(small, create_model("compact", widths=(16, 32, 48, 96), blocks=(0, 1, 1, 1))).train()
    opt = torch.optim.SGD(wide.parameters(), lr=0.1)
    wide(torch.rand(2, 1, 64, 64)).logsumexp(1).mean().backward()
    opt.step()
    w = wide.context.mlp[2].weight  # old rows x new columns started at 0
    assert w[:64, 64:].abs().sum() > 0


def test_widening_refuses_a_different_structure() -> None:
    small = create_model("compact", widths=(16, 32, 48, 64), blocks=(0, 1, 1, 1))
    deeper = create_model("compact", widths=(16, 32, 48, 64), blocks=(0, 1, 1, 2))
    with pytest.raises(ValueError, match="structure"):
        widen_state_dict(small.state_dict(), deeper.state_dict())
    narrower = create_model("compact", widths=(16, 32, 48, 32), blocks=(0, 1, 1, 1))
    with pytest.raises(ValueError, match="cannot widen"):
        widen_state_dict(small.state_dict(), narrower.state_dict())
