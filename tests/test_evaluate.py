"""evaluate_folder on tiny generated folders: oracle, gray, groups, skips, JSON and reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorize import evaluate as E
from colorize.metrics import PSNR_MAX, luma_gray

SIZE = 32


def _make_image(seed: int) -> np.ndarray:
    """A colourful 32x32 uint8 image."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    phase = rng.uniform(0, 2 * np.pi, 3)
    freq = rng.uniform(2, 8, 2)
    img = np.stack([0.5 + 0.45 * np.sin(freq[0] * x + freq[1] * y + p) for p in phase], axis=-1)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def _save(path: Path, arr: np.ndarray) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return arr[..., :3].astype(np.float32) / 255.0


def _oracle(truths: list[np.ndarray]):
    """A 'colorizer' that returns the true image whose gray is closest to its input."""
    grays = [luma_gray(t) for t in truths]

    def fn(gray: np.ndarray) -> np.ndarray:
        assert gray.dtype == np.float32 and gray.shape == (SIZE, SIZE, 3)
        assert np.array_equal(gray[..., 0], gray[..., 2])
        i = int(np.argmin([np.abs(g - gray).max() if g.shape == gray.shape else np.inf for g in grays]))
        return truths[i].copy()

    return fn


@pytest.fixture
def flat_folder(tmp_path: Path):
    folder = tmp_path / "flat"
    truths = [_save(folder / f"img{i}.png", _make_image(i)) for i in range(3)]
    rgba = np.dstack([_make_image(3), np.full((SIZE, SIZE), 128, np.uint8)])  # alpha is ignored
    truths.append(_save(folder / "with_alpha.png", rgba))
    (folder / "notes.txt").write_text("not an image")
    return folder, truths


@pytest.fixture
def grouped_folder(tmp_path: Path):
    folder = tmp_path / "eval_dev"
    truths = [_save(folder / "setA" / f"a{i}.png", _make_image(10 + i)) for i in range(2)]
    truths += [_save(folder / "setB" / "nested" / f"b{i}.png", _make_image(20 + i)) for i in range(2)]
    (folder / "setB" / "broken.png").write_bytes(b"this is not a png")
    gray = np.repeat(_make_image(30)[..., :1], 3, axis=-1)
    _save(folder / "setA" / "zz_gray.png", gray)
    return folder, truths


def test_oracle_scores_perfectly_and_gray_is_the_baseline(flat_folder):
    folder, truths = flat_folder
    result = E.evaluate_folder(folder, {"oracle": _oracle(truths), "same_gray": lambda g: g}, progress=False)
    assert result.methods == ["gray", "oracle", "same_gray"]
    assert list(result.groups) == ["all"]
    assert result.warnings == []
    oracle = result.summary("oracle")
    assert oracle.images == 4 and result.overall.images == 4
    assert oracle.psnr == PSNR_MAX
    assert oracle.auc == 100.0 and oracle.auc_rebalanced == 100.0
    assert oracle.ssim == pytest.approx(1.0)
    assert oracle.ciede2000 == pytest.approx(0.0, abs=1e-4)
    assert oracle.delta_cf == pytest.approx(0.0, abs=1e-6)

    gray, same = result.summary("gray"), result.summary("same_gray")
    for key in ("psnr", "ssim", "ciede2000", "cf_pred", "cf_true", "delta_cf", "abs_delta_cf", "auc", "auc_rebalanced"):
        assert getattr(same, key) == getattr(gray, key), key
    assert same.curve == gray.curve
    assert gray.cf_pred == pytest.approx(0.0, abs=1e-3)
    assert gray.delta_cf == pytest.approx(-gray.cf_true, abs=1e-3)
    assert gray.abs_delta_cf == pytest.approx(gray.cf_true, abs=1e-3)
    assert gray.psnr < oracle.psnr and gray.auc < 100 and gray.auc_rebalanced < 100
    assert oracle.seconds_per_image >= 0

    rows = [r for r in result.rows if r["method"] == "oracle"]
    assert len(rows) == 4 and {r["path"] for r in rows} >= {"img0.png", "with_alpha.png"}
    assert all(r["width"] == SIZE and r["height"] == SIZE for r in rows)


def test_groups_skips_and_limits(grouped_folder):
    folder, truths = grouped_folder
    result = E.evaluate_folder(folder, _oracle(truths), name="oracle", progress=False)
    assert list(result.groups) == ["setA", "setB", "all"]
    assert [result.groups[g].images for g in result.groups] == [2, 2, 4]
    assert len(result.warnings) == 2
    assert any("broken.png" in w for w in result.warnings)
    assert any("zz_gray.png" in w for w in result.warnings)
    for g in result.groups.values():
        assert g.methods["oracle"].auc == 100.0
    # equal-size images: the overall plain curve is the mean of the two groups' curves
    a, b, allc = (np.array(result.groups[g].methods["gray"].curve) for g in ("setA", "setB", "all"))
    np.testing.assert_allclose(allc, (a + b) / 2, atol=1e-5)

    limited = E.evaluate_folder(folder, None, max_images=1, progress=False)
    assert limited.methods == ["gray"]
    assert [limited.groups[g].images for g in limited.groups] == [1, 1, 2]

    flat = E.evaluate_folder(folder / "setB", None, recursive=False, progress=False)
    assert list(flat.groups) == ["(root)", "nested", "all"]
    assert [flat.groups[g].images for g in flat.groups] == [0, 2, 2]


def test_failing_or_bad_colorizers_skip_the_image(flat_folder):
    folder, truths = flat_folder
    calls = {"n": 0}

    def flaky(gray):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("boom")
        return gray

    result = E.evaluate_folder(folder, {"flaky": flaky, "wrong": lambda g: g[:10]}, progress=False)
    assert result.overall.images == 0
    assert len(result.warnings) == 4 and all("failed" in w for w in result.warnings)
    assert np.isnan(result.summary("gray").psnr)
    json.loads(result.to_json())  # NaN-free JSON even when empty

    ok = E.evaluate_folder(folder, {"flaky": flaky}, progress=True)
    assert ok.overall.images == 4 and ok.warnings == []
    with pytest.raises(ValueError):
        E.evaluate_folder(folder, {"gray": lambda g: g}, progress=False)


@pytest.mark.slow
def test_json_table_and_reports(grouped_folder, tmp_path):
    folder, truths = grouped_folder
    result = E.evaluate_folder(folder, {"oracle": _oracle(truths)}, progress=False, thumbnails=2)
    data = json.loads(result.to_json(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text()) == data
    assert set(data["groups"]) == {"setA", "setB", "all"}
    assert data["groups"]["all"]["methods"]["oracle"]["auc"] == 100.0
    assert len(data["groups"]["all"]["methods"]["gray"]["curve_rebalanced"]) == 151
    assert len(data["rows"]) == 8 and len(data["warnings"]) == 2

    from rich.console import Console

    table = E.render_table(result)
    headers = [c.header for c in table.columns]
    assert headers[:2] == ["Set", "Method"]
    assert {"Images", "PSNR", "SSIM", "ΔE00", "CF pred", "CF true", "ΔCF", "AuC", "AuC rebal."} <= set(headers)
    assert table.row_count == 6
    assert E.render_table(result, group="all").row_count == 2
    console = Console(record=True, width=200)
    console.print(table)
    assert "oracle" in console.export_text()

    for name in ("report.md", "report.html"):
        written = E.write_report(result, tmp_path / "out" / name, max_images=3)
        report = written["report"]
        text = report.read_text()
        assert report.exists() and written["plot"].exists() and written["samples"].exists()
        assert written["plot"].name in text and written["samples"].name in text
        assert "AuC rebal." in text and "broken.png" in text
        assert written["plot"].read_bytes()[:4] == b"\x89PNG"
        with Image.open(written["samples"]) as sheet:
            assert sheet.format == "JPEG"
            # 3 columns (gray | oracle | truth) of <= 160 px, 3 rows of 32 px thumbnails
            assert sheet.width <= 3 * 164 + 4 and sheet.height < 18 + 3 * 40
    assert (tmp_path / "out" / "report_auc.png").exists()
    with pytest.raises(ValueError):
        E.write_report(result, tmp_path / "report.txt")


@pytest.mark.slow
def test_decoding_ablation_script(flat_folder, tmp_path: Path):
    """scripts/decoding_ablation.py: its plain-decode row equals `colorize evaluate`, and undoing the
    class rebalancing (prior 1) gives less colourful output than the plain decode."""
    import subprocess
    import sys

    folder, _ = flat_folder
    repo = Path(__file__).resolve().parents[1]
    out = tmp_path / "ablation.json"
    run = subprocess.run([sys.executable, str(repo / "scripts" / "decoding_ablation.py"), str(folder),
                          "--temperatures", "0.55", "--temperature", "0.55", "--json", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("| T ")]
    assert len(rows) == 9
    methods = json.loads(out.read_text())["groups"]["all"]["methods"]
    ref = tmp_path / "ref.json"
    subprocess.run([sys.executable, "-m", "colorize", "evaluate", str(folder), "-m", "default",
                    "--temperature", "0.55", "--consensus", "0", "--json", str(ref), "-q"], check=True, capture_output=True, timeout=300)
    plain = json.loads(ref.read_text())["groups"]["all"]["methods"]["default"]
    assert methods["T 0.55"]["psnr"] == pytest.approx(plain["psnr"], abs=0.02)
    assert methods["T 0.55"]["auc_rebalanced"] == pytest.approx(plain["auc_rebalanced"], abs=0.05)
    assert methods["T 0.55, prior 1"]["cf_pred"] < methods["T 0.55"]["cf_pred"]
