"""Print the 'all' rows of one or more ``colorize evaluate --json`` files as a Markdown table.

    python scripts/eval_table.py runs/eval.json [more.json ...]
"""

from __future__ import annotations

import json
import sys

COLUMNS = [("psnr", "PSNR", 2), ("ssim", "SSIM", 3), ("ciede2000", "ΔE00", 2), ("cf_pred", "CF pred", 1),
           ("cf_true", "CF true", 1), ("delta_cf", "ΔCF", 1), ("auc", "AuC", 2), ("auc_rebalanced", "AuC rebal.", 2)]


def main() -> None:
    print("| method | images | " + " | ".join(c[1] for c in COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    seen = set()
    for path in sys.argv[1:]:
        result = json.load(open(path))
        for method, s in result["groups"]["all"]["methods"].items():
            if method in seen:
                continue
            seen.add(method)
            cells = [f"{s[k]:.{d}f}" if isinstance(s.get(k), (int, float)) else "" for k, _, d in COLUMNS]
            print(f"| {method} | {s['images']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
