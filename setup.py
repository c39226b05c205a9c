"""Builds the optional C kernel (src/colorize/_kernels.c); everything else is in pyproject.toml.

The kernel is plain C loaded with ctypes (no Python API). If it cannot be compiled the install
still succeeds and colorize uses the equivalent torch code (slower at full resolution).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "colorize._kernels",
            ["src/colorize/_kernels.c"],
            # no FP traps: lets gcc vectorise the branch-free per-pixel loop (4x faster)
            extra_compile_args=["-O3", "-fno-trapping-math", "-fno-math-errno"],
            optional=True,
        )
    ]
)
