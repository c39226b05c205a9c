"""``colorize models``: the registered architectures and the bundled weights."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from .common import add_no_color, apply_no_color


def run_models(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="colorize models", description="List model architectures and bundled weights. "
                                "On a terminal as tables; piped, the same tables as plain text at full width.")
    p.add_argument("--json", action="store_true", help="print the listing as JSON on stdout")
    add_no_color(p)
    args = p.parse_args(argv)
    apply_no_color(args)
    from ..models.files import list_pretrained as bundled_models

    bundled = bundled_models()
    try:  # the architectures are torch modules: listed when the torch extra is installed
        from ..models import list_models, model_config

        archs = [{"name": e.name, "description": e.description, "space": model_config(e.name).space, "head": model_config(e.name).head}
                 for e in list_models()]
    except ImportError:
        archs = []
    if args.json:
        print(json.dumps({"bundled": bundled, "architectures": archs}, indent=2, default=str))
        return 0
    from rich.table import Table

    from ..progress import console

    t = Table(title="Bundled weights (colorize -m NAME)")
    for col in ("name", "arch", "space/head", "params", "trained", "images seen", "wall time", "provenance"):
        t.add_column(col)
    for b in bundled:
        prov = b.get("provenance", {})
        t.add_row(b["name"], b["arch"], f"{b['space']}/{b['head']}", f"{b.get('parameters', 0) / 1e6:.1f}M",
                  "yes" if prov.get("trained") else "NO (random)",
                  f"{prov.get('images_seen_total', prov.get('images_seen', 0)):,}",  # fine-tunes: the whole lineage
                  f"{prov.get('wall_time_total_s', prov.get('wall_time_s', 0)) / 3600:.1f} h", prov.get("licence", prov.get("note", "")))
    if not bundled:
        t.add_row("(none)", "", "", "", "", "", "", "")
    a = Table(title="Architectures (colorize train --model NAME)")
    for col in ("name", "space", "head", "description"):
        a.add_column(col)
    for e in archs:
        a.add_row(e["name"], e["space"], e["head"], e["description"])
    if not archs:
        a.add_row("(needs PyTorch)", "", "", "pip install 'colorize\\[torch]' to list and train architectures")
    c = console()
    c.print(t)
    c.print(a)
    return 0
