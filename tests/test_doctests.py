"""The docstring examples of the core modules run and are right."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["colorize.color", "colorize.quantization", "colorize.filters", "colorize.losses", "colorize.render",
           "colorize.options", "colorize.models.registry", "colorize.metrics"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
