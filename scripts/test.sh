#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run it.
# This is the README's test command, and .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

# The lock (constraints.txt, made by scripts/lock.sh) fixes every version. The distribution was first
# called "colorize", the name of another project on PyPI: an install under that name shadows this one.
python3 - <<'PY'
import importlib.metadata as md, subprocess, sys
try:
    summary = md.metadata("colorize")["Summary"] or ""
except md.PackageNotFoundError:
    sys.exit(0)
if not summary.startswith("Bring black-and-white"):
    sys.exit(f"another project named 'colorize' is installed ({summary!r}): pip uninstall colorize (README.md, 'The name')")
subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", "colorize"], check=True)
PY
python3 -m pip install -q -c constraints.txt -e ".[all]" build

# The web page is tested in a real browser: Debian's Chromium (no 'playwright install' downloads).
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: /usr/bin/chromium is missing; browser tests will be skipped" >&2
  fi
fi

export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False COLORIZE_OFFLINE=1
# lint and types first (configured in pyproject.toml): fast, and they fail with the file and line
python3 -m ruff check src/colorize
python3 -m mypy
exec python3 -m pytest -q "$@"
