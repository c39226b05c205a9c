"""Builds the optional C kernel (src/colorize/_kernels.c); everything else is in pyproject.toml.

The kernel is plain C loaded with ctypes (no Python API). If it cannot be compiled (no compiler,
a failing one, an unsupported platform) the install still succeeds, prints ONE warning line, and
colorize uses the equivalent numpy code at run time (colorize.kernels falls back when the
library is absent; slower at full resolution, same results). ``pip install`` shows build output
only with ``-v``; ``colorize.kernels.fast_kernel_available()`` says at run time which path is in use.
Release wheels are built by cibuildwheel (pyproject.toml [tool.cibuildwheel]) with
COLORIZE_REQUIRE_KERNEL=1, which turns the fallback off: each of them contains the kernel.
"""

from __future__ import annotations

import os
import re
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

WARNING = ("WARNING: colorize: the optional C kernel (src/colorize/_kernels.c) was not built ({reason}); "
           "installing without it: colorize uses its fallback code instead (same results, slower at full resolution)")


def _reason(exc: BaseException) -> str:
    """A short reason: "'gcc' failed with exit status 1" rather than the whole command line."""
    text = " ".join(str(exc).split())
    failed = re.search(r"Command '\['([^']+)'.*returned non-zero exit status (\d+)", text)
    if failed:
        return f"'{failed[1]}' failed with exit status {failed[2]}"
    return text[:160] or type(exc).__name__


class OptionalBuildExt(build_ext):
    """build_ext that never fails the install: a missing or failing C compiler gives one warning line."""

    warned = False

    def _fallback(self, exc: BaseException) -> None:
        if os.environ.get("COLORIZE_REQUIRE_KERNEL") == "1":  # release wheels (cibuildwheel) must contain it
            raise exc
        if not OptionalBuildExt.warned:
            OptionalBuildExt.warned = True
            print(WARNING.format(reason=_reason(exc)), file=sys.stderr, flush=True)

    def run(self) -> None:
        # run() is where a missing compiler shows up on some platforms (e.g. no MSVC on Windows)
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure means "install without the kernel"
            self._fallback(exc)

    def build_extension(self, ext: Extension) -> None:
        if os.environ.get("COLORIZE_REQUIRE_KERNEL") == "1":
            ext.optional = False  # else setuptools itself would turn the failure into a warning
        if self.compiler.compiler_type == "msvc":
            # cl does not know the gcc/clang flags below; /std:c11 for the C99 `restrict` the kernel uses
            ext.extra_compile_args = ["/O2", "/std:c11"]
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001 - compile or link error, compiler not found
            self._fallback(exc)


setup(
    ext_modules=[
        Extension(
            "colorize._kernels",
            ["src/colorize/_kernels.c"],
            # no FP traps: lets gcc vectorise the branch-free per-pixel loop (4x faster)
            extra_compile_args=["-O3", "-fno-trapping-math", "-fno-math-errno"],
            # a ctypes library, not a Python module: export the C entry point (matters on Windows only,
            # where the linker would otherwise look for PyInit__kernels)
            export_symbols=["guided_join_u8"],
            optional=True,
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
