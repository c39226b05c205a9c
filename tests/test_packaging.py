"""The package as released: its name and metadata, the lock, the C kernel's optional build (issue 15).

The fast tests read pyproject.toml, the lock and the core metadata setuptools generates (no build,
no compiler). The slow test builds the sdist and a wheel from it with ``python -m build``, checks
what they contain, installs the sdist with a C compiler that always fails (``CC=/bin/false``) and
runs scripts/wheel_smoke.py on that install: it must work, on the fallback code (no C), after one
warning line.
"""

from __future__ import annotations

import email.parser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
DIST = "colorize-bw"
LOCK = ROOT / "constraints.txt"
WARNING = "WARNING: colorize: the optional C kernel"
# the Python versions the suite is run on (CHANGELOG.md says why 3.12/3.13 are not declared yet)
TESTED_PYTHONS = {"3.11"}


def _lock_pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line.strip())
            assert m, f"constraints.txt: not a full pin: {line!r}"
            pins[canonicalize_name(m[1])] = m[2]
    return pins


def _requirements() -> list[Requirement]:
    reqs = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in PROJECT.get("optional-dependencies", {}).values():
        reqs += [Requirement(r) for r in extra]
    return reqs


def test_the_distribution_name_is_ours_and_the_self_referencing_extra_uses_it():
    # "colorize" on PyPI is a 2019 terminal-output colorizer: `pip install colorize[...]` installs it
    assert PROJECT["name"] == DIST
    for req in _requirements():
        assert canonicalize_name(req.name) != "colorize", f"{req} names the other project on PyPI"
    all_extra = [Requirement(r) for r in PROJECT["optional-dependencies"]["all"]]
    own = [r for r in all_extra if canonicalize_name(r.name) == DIST]
    assert own, "the 'all' extra does not reference this distribution"
    assert set(PROJECT["optional-dependencies"]) - {"all"} <= set().union(*(r.extras for r in own)), "'all' misses an extra"


def test_licence_metadata_is_the_spdx_form_and_matches_the_file():
    assert PROJECT["license"] == "MIT AND LicenseRef-colorize-weights" and PROJECT["license-files"] == ["LICENSE", "LICENSE-WEIGHTS"]
    assert "research and personal" in (ROOT / "LICENSE-WEIGHTS").read_text()  # what README's Licence section says
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the colorize contributors" in text
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")], "PEP 639: no licence classifier with an SPDX licence"
    # setuptools learnt the SPDX string and license-files in 77
    setuptools_req = next(Requirement(r) for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools"))
    assert not setuptools_req.specifier.contains("76.1.0") and setuptools_req.specifier.contains("77.0.3")


def test_declared_python_versions_are_the_tested_ones():
    declared = {c.rsplit(":: ", 1)[1] for c in PROJECT["classifiers"] if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    assert declared == TESTED_PYTHONS
    assert PROJECT["requires-python"] == ">=3.11"
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in TESTED_PYTHONS, "the suite runs on an undeclared Python: add its classifier (and to TESTED_PYTHONS)"


def test_project_urls_point_at_one_repository():
    urls = PROJECT["urls"]
    assert {"Homepage", "Documentation", "Issues", "Changelog"} <= set(urls)
    assert all(u.startswith(urls["Homepage"]) for u in urls.values()), urls


def test_version_is_the_same_in_pyproject_the_package_and_the_changelog():
    from colorize._version import __version__

    assert PROJECT["version"] == __version__
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    releases = re.findall(r"^## \[(\d[^\]]*)\]", changelog, flags=re.M)
    assert releases and releases[0] == __version__, releases


def test_the_lock_pins_every_dependency_of_every_extra():
    # fails when pyproject.toml gained or changed a dependency and scripts/lock.sh was not re-run
    pins = _lock_pins()
    for req in _requirements():
        name = canonicalize_name(req.name)
        if name == DIST:
            continue
        assert name in pins, f"{req.name} is not in constraints.txt: run bash scripts/lock.sh"
        assert req.specifier.contains(pins[name], prereleases=True), f"constraints.txt pins {name}=={pins[name]}, pyproject wants {req}"
    assert pins["torch"].endswith("+cpu"), "the lock pins torch's CPU build"
    assert "build" in pins, "tests/test_packaging.py builds with 'build'"


def test_readme_and_ci_install_with_the_lock():
    setup_commands = (ROOT / "README.md").read_text().split("## Use")[0]
    assert 'pip install -c constraints.txt -e ".[all]"' in setup_commands
    assert "bash scripts/test.sh" in setup_commands
    test_sh = (ROOT / "scripts" / "test.sh").read_text()
    assert re.search(r'pip install -q -c constraints\.txt -e "\.\[all\]"', test_sh)
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_core_metadata_has_the_name_licence_classifiers_and_urls(tmp_path):
    # the METADATA a wheel/sdist gets, as setuptools writes it (PEP 517 hook: no compile, no build)
    code = "import sys; from setuptools import build_meta as b; print(b.prepare_metadata_for_build_wheel(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    dist_info = tmp_path / done.stdout.strip().splitlines()[-1]
    meta = email.parser.Parser().parsestr((dist_info / "METADATA").read_text())
    assert meta["Name"] == DIST and meta["Version"] == PROJECT["version"]
    assert meta["License-Expression"] == PROJECT["license"] and meta.get_all("License-File") == ["LICENSE", "LICENSE-WEIGHTS"]
    assert (dist_info / "licenses" / "LICENSE").is_file()
    assert meta["Requires-Python"] == ">=3.11"
    assert set(meta.get_all("Classifier")) == set(PROJECT["classifiers"])
    assert len(meta.get_all("Project-URL")) == len(PROJECT["urls"])
    assert "colorize = colorize.cli:console" in (dist_info / "entry_points.txt").read_text()


def _build_ext(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """setup.py's build_ext on a copy of setup.py + the kernel's source, with ``env`` (e.g. a failing CC)."""
    (tmp_path / "src" / "colorize").mkdir(parents=True)
    shutil.copy(ROOT / "setup.py", tmp_path)
    shutil.copy(ROOT / "src" / "colorize" / "_kernels.c", tmp_path / "src" / "colorize")
    cmd = [sys.executable, "setup.py", "-q", "build_ext", "--build-lib", "lib", "--build-temp", "tmp"]
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLORIZE_REQUIRE_KERNEL": "", **env})


def test_a_failing_compiler_gives_one_warning_and_no_kernel(tmp_path):
    done = _build_ext(tmp_path, CC="/bin/false")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert out.count(WARNING) == 1, out
    assert "uses its fallback code instead" in out
    assert not list((tmp_path / "lib").rglob("_kernels*"))


def test_release_builds_refuse_to_fall_back(tmp_path):
    done = _build_ext(tmp_path, CC="/bin/false", COLORIZE_REQUIRE_KERNEL="1")
    assert done.returncode != 0
    assert WARNING not in done.stdout + done.stderr


@pytest.mark.slow  # an -O3 compile: 1-9 s here
@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler here")
def test_with_a_compiler_the_kernel_is_built(tmp_path):
    done = _build_ext(tmp_path, COLORIZE_REQUIRE_KERNEL="1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert WARNING not in done.stdout + done.stderr
    assert list((tmp_path / "lib" / "colorize").glob("_kernels*"))


@pytest.mark.slow
def test_sdist_and_wheel_build_and_the_sdist_installs_without_a_compiler(tmp_path):
    pytest.importorskip("build", reason="pip install build (scripts/test.sh installs it)")
    dist = tmp_path / "dist"
    # sdist, then a wheel built FROM the sdist (proves the sdist is complete); --no-isolation: the
    # installed setuptools (>=77, checked by build) instead of a download
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (sdist,) = dist.glob("colorize_bw-*.tar.gz")
    (wheel,) = dist.glob("colorize_bw-*.whl")

    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for need in ("LICENSE", "LICENSE-WEIGHTS", "CHANGELOG.md", "setup.py", "pyproject.toml", "constraints.txt", "src/colorize/_kernels.c",
                 "src/colorize/pretrained/default.json", "src/colorize/pretrained/default.safetensors",
                 "src/colorize/pretrained/default.onnx", "tests/conftest.py",
                 "scripts/wheel_smoke.py"):
        assert need in names, f"the sdist lacks {need}"
    assert not [n for n in names if re.search(r"\.(so|pyd|dylib)$", n)], "a compiled kernel leaked into the sdist"

    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        meta = email.parser.Parser().parsestr(whl.read(f"colorize_bw-{PROJECT['version']}.dist-info/METADATA").decode())
        graph_size = whl.getinfo("colorize/pretrained/default.onnx").file_size
    # one copy of the weights: the graph reads its parameters from default.safetensors (scripts/bundle_onnx.py)
    assert graph_size < 1_000_000, f"the bundled graph is {graph_size / 1e6:.1f} MB: it carries its own weights again"
    for need in ("colorize/pretrained/default.json", "colorize/pretrained/default.safetensors", "colorize/py.typed",
                 f"colorize_bw-{PROJECT['version']}.dist-info/licenses/LICENSE", f"colorize_bw-{PROJECT['version']}.dist-info/licenses/LICENSE-WEIGHTS"):
        assert need in names, f"the wheel lacks {need}"
    assert [n for n in names if re.fullmatch(r"colorize/_kernels\..*(so|pyd)", n)], "the wheel built here has no C kernel"
    assert meta["Name"] == DIST and meta["License-Expression"] == PROJECT["license"]

    # the sdist with a compiler that always fails: installs, says so once, and works on the fallback
    target = tmp_path / "site"
    env = {**os.environ, "CC": "/bin/false", "COLORIZE_REQUIRE_KERNEL": ""}
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-v", "--no-deps", "--no-build-isolation", "--no-cache-dir",
                           "--target", str(target), str(sdist)], capture_output=True, text=True, timeout=600, env=env)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert out.count(WARNING) == 1, out[-4000:]
    assert not list((target / "colorize").glob("_kernels*.so")), "the kernel was built after all"

    smoke_env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "wheel_smoke.py"), "--no-kernel"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, env=smoke_env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"colorize {PROJECT['version']} from {target / 'colorize'}" in done.stdout
    check = subprocess.run([sys.executable, "-c", "import colorize.kernels as k; print(k.__file__, k.fast_kernel_available())"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300, env=smoke_env)
    assert check.returncode == 0, check.stderr
    assert check.stdout.split() == [str(target / "colorize" / "kernels.py"), "False"]
