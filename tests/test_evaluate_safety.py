"""Evaluation hardening (issue 12): outputs checked before the work, nothing scored is a failure,
out-of-range predictions are reported, bad values are one line with exit 2. Tiny images made here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorize import evaluate as E
from colorize.metrics import score_image

SIZE = 24


def _folder(tmp_path: Path, n: int = 2) -> Path:
    folder = tmp_path / "truth"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(folder / f"im{i}.png")
    return folder


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    from colorize import cli

    code = cli.main(["evaluate", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture()
def no_models(monkeypatch):
    """Fails the test if a model is loaded (the checks must come before any work)."""
    from colorize import pipeline

    def refuse(*a, **k):
        raise AssertionError("a model was loaded before the arguments were checked")

    monkeypatch.setattr(pipeline.Colorizer, "from_pretrained", classmethod(lambda cls, *a, **k: refuse()))


@pytest.mark.parametrize("argv, text", [
    (["--render-size", "0"], "--render-size"), (["--render-size", "-64"], "--render-size"),
    (["--render-size", "100000"], "--render-size"), (["--render-size", "64", "--render-size", "64"], "given twice"),
    (["--max-images", "-1"], "--max-images"), (["--max-images", "0"], "--max-images"),
    (["--temperature", "0"], "--temperature"), (["--temperature", "nan"], "--temperature"),
    (["--saturation", "-1"], "--saturation"), (["--saturation", "inf"], "--saturation"),
    (["--consensus", "16"], "--consensus-radius 16"),
    (["-m", "a=default", "-m", "a=other"], "both called 'a'"),
    (["-m", "x/model.json", "-m", "y/model.json"], "both called 'model'"),
    (["-m", "gray=default"], "gray baseline"),
    (["--report", "REPORT"], "must end in .md or .html"),
])
def test_bad_values_exit_2_before_any_work(argv, text, tmp_path, capsys, no_models):
    folder = _folder(tmp_path, 1)
    argv = [a.replace("REPORT", str(tmp_path / "r.txt")) for a in argv]
    code, out, err = _cli(capsys, str(folder), *argv, "-q")
    assert code == 2, err
    assert err.count("\n") == 1 and text in err and "Traceback" not in err
    assert not (tmp_path / "r.txt").exists()


def test_unwritable_report_or_json_is_refused_before_work(tmp_path, capsys, no_models):
    folder = _folder(tmp_path, 1)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    (tmp_path / "dir.md").mkdir()
    for argv in (["--report", str(blocker / "r.md")], ["--json", str(blocker / "r.json")], ["--report", str(tmp_path / "dir.md")]):
        code, _, err = _cli(capsys, str(folder), *argv, "-q")
        assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert E.check_report_path(tmp_path / "new" / "r.md") is None  # a folder still to be made is fine
    assert E.check_report_path(tmp_path / "r.txt").endswith("must end in .md or .html")


def test_nothing_scored_exits_non_zero(tmp_path, capsys, tiny_model_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "broken.png").write_bytes(b"not a png")
    report = tmp_path / "r.md"
    code, _, err = _cli(capsys, str(empty), "-m", tiny_model_path, "--report", str(report), "-q")
    assert code == 1 and "no image was scored (1 skipped)" in err and "Traceback" not in err
    assert not report.exists()
    code, out, err = _cli(capsys, str(empty), "-m", tiny_model_path, "--json", "-q")
    assert code == 1 and json.loads(out)["groups"]["all"]["images"] == 0  # JSON still valid


def test_cli_evaluates_and_writes_the_report(tmp_path, capsys, tiny_model_path):
    folder = _folder(tmp_path, 2)
    code, _, err = _cli(capsys, str(folder), "-m", f"tiny={tiny_model_path}", "--render-size", "32",
                        "--report", str(tmp_path / "out" / "r.md"), "-q")
    assert code == 0, err
    assert (tmp_path / "out" / "r.md").exists()


def test_out_of_range_predictions_are_reported_once_per_method(tmp_path):
    folder = _folder(tmp_path, 3)
    fns = {
        "scale255": lambda g: g * 255.0,  # a float output on the 0-255 scale
        "u8": lambda g: (g * 255).astype(np.uint8),  # integers: read as 0-255, noted
        "over": lambda g: g * 1.2,
        "fine": lambda g: g,
    }
    result = E.evaluate_folder(folder, fns, progress=False)
    assert result.overall.images == 3 and result.warnings == []
    by_method = {w.split(":")[0]: w for w in result.prediction_warnings}
    assert set(by_method) == {"scale255", "u8", "over"}
    assert "3 with values above 1" in by_method["scale255"] and "0-255" in by_method["scale255"]
    assert "3 integer outputs read as 0-255" in by_method["u8"]
    assert "3 with values above 1" in by_method["over"] and "look like 0-255" not in by_method["over"]
    # uint8 outputs are scored as the image they are, not as a white picture
    assert result.summary("u8").psnr == pytest.approx(result.summary("fine").psnr, abs=0.5)
    assert result.summary("scale255").psnr < result.summary("fine").psnr - 1  # clipped to white: the warning matters
    assert json.loads(result.to_json())["prediction_warnings"] == result.prediction_warnings
    text = E._markdown(result, ["Method"], [], {})
    assert "Out-of-range outputs" in text


def test_nan_predictions_are_refused(tmp_path):
    folder = _folder(tmp_path, 2)
    result = E.evaluate_folder(folder, {"nan": lambda g: np.full_like(g, np.nan)}, progress=False)
    assert result.overall.images == 0
    assert len(result.warnings) == 2 and all("NaN or infinite" in w for w in result.warnings)
    with pytest.raises(ValueError, match="max_images"):
        E.evaluate_folder(folder, None, max_images=-1, progress=False)


def test_score_image_refuses_nan():
    x = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32)
    bad = x.copy()
    bad[2, 3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        score_image(bad, x)
    with pytest.raises(ValueError, match="NaN"):
        score_image(x, bad)
