"""``colorize train`` hardening (issue 12): checkpoints are plain data and never run code, --out is
the run, bad checkpoints/data/options are one line, a full disk loses nothing, log.csv has each step
once after a resume, and the worker default suits small machines.

The runs are in-process (``colorize.cli.main``) on tiny generated photos, so each test takes seconds.
"""

from __future__ import annotations

import errno
import io
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
import torch

from colorize.cli import main
from tests.test_data import make_photo_folder

TINY = ["--model", "compact-small", "--crop", "32", "--batch-size", "4", "--workers", "0", "--warmup-steps", "2",
        "--preview-every", "0", "-q"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return make_photo_folder(tmp_path_factory.mktemp("photos"), {"beach": 4, "forest": 3}, size=(40, 36))


@pytest.fixture(scope="module")
def paused_run(photos, tmp_path_factory) -> Path:
    """A run paused at step 2 of 4 (a real checkpoint to copy, truncate and compare against)."""
    out = tmp_path_factory.mktemp("runs") / "paused"
    assert main(["train", str(photos), "--out", str(out), "--steps", "4", "--stop-at", "2", *TINY]) == 0
    return out


def one_line_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


class Evil:
    """A pickle that creates a file when unpickled (what a planted checkpoint.pt could do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_checkpoints_are_plain_data(paused_run):
    ckpt = torch.load(paused_run / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert ckpt["step"] == 2 and ckpt["format"] == 2 and isinstance(ckpt["train_config"], str)


@pytest.mark.parametrize("form", ["torch", "pickle"])
def test_a_planted_malicious_checkpoint_is_refused_and_never_runs(paused_run, tmp_path, capsys, form):
    run = tmp_path / "shared_run"
    shutil.copytree(paused_run, run)
    marker = tmp_path / "pwned"
    payload = {"model": Evil(marker), "step": 2}
    if form == "torch":
        torch.save(payload, run / "checkpoint.pt")
    else:
        (run / "checkpoint.pt").write_bytes(pickle.dumps(payload))
    capsys.readouterr()
    for argv in (["train", "--resume", "--out", str(run)], ["train", "--out", str(run), "--export"]):
        assert main(argv) == 2, argv
        line = one_line_error(capsys.readouterr().err)
        assert "checkpoint.pt" in line and "refused" in line
        assert not marker.exists()
    # the planted file really is dangerous: an unrestricted load would have run it
    torch.load(run / "checkpoint.pt", weights_only=False) if form == "torch" else pickle.loads((run / "checkpoint.pt").read_bytes())
    assert marker.exists()


def _corruptions(good: bytes) -> dict[str, bytes]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "not a checkpoint")
    lst = io.BytesIO()
    torch.save([1, 2, 3], lst)
    partial = io.BytesIO()
    torch.save({"step": 3, "model": {}}, partial)
    return {"empty": b"", "truncated": good[: len(good) // 2], "tail_cut": good[:-100], "random": os.urandom(4096),
            "other_zip": buf.getvalue(), "not_a_dict": lst.getvalue(), "missing_keys": partial.getvalue()}


@pytest.mark.parametrize("kind", ["empty", "truncated", "tail_cut", "random", "other_zip", "not_a_dict", "missing_keys"])
def test_corrupt_checkpoint_is_one_line_naming_the_file(paused_run, tmp_path, capsys, kind):
    run = tmp_path / "run"
    shutil.copytree(paused_run, run)
    (run / "checkpoint.pt").write_bytes(_corruptions((paused_run / "checkpoint.pt").read_bytes())[kind])
    capsys.readouterr()
    for argv in (["train", "--resume", "--out", str(run)], ["train", "--out", str(run), "--export"]):
        assert main(argv) == 2, (kind, argv)
        assert str(run / "checkpoint.pt") in one_line_error(capsys.readouterr().err)


@pytest.mark.slow
def test_resume_writes_only_into_the_given_out(photos, tmp_path, monkeypatch):
    """--out is the run: a copied run folder resumes into itself, from any working directory."""
    shutil.copytree(photos, tmp_path / "photos")
    monkeypatch.chdir(tmp_path)
    assert main(["train", "photos", "--out", "a", "--steps", "4", "--stop-at", "2", *TINY]) == 0  # relative paths
    original = (tmp_path / "a" / "checkpoint.pt").read_bytes()
    shutil.copytree(tmp_path / "a", tmp_path / "elsewhere" / "b1")
    shutil.copytree(tmp_path / "a", tmp_path / "elsewhere" / "b2")

    # same working directory: the stored out "a" exists and must not be written
    assert main(["train", "--resume", "--out", "elsewhere/b1"]) == 0
    # another working directory: the stored relative data and out paths do not exist there
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    assert main(["train", "--resume", "--out", str(tmp_path / "elsewhere" / "b2")]) == 0

    assert (tmp_path / "a" / "checkpoint.pt").read_bytes() == original and not (tmp_path / "a" / "model.json").exists()
    assert list(other.iterdir()) == []
    for b in ("b1", "b2"):
        ckpt = torch.load(tmp_path / "elsewhere" / b / "checkpoint.pt", weights_only=True)
        assert ckpt["step"] == 4 and (tmp_path / "elsewhere" / b / "model.json").is_file()


@pytest.mark.slow
def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(photos, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    real_save, calls = torch.save, []

    def full_disk_save(obj, f, *args, **kwargs):
        calls.append(f)
        if len(calls) == 1:
            return real_save(obj, f, *args, **kwargs)
        # part of the file is written, then the disk is full (f: the atomic writer's temp file object, or a path)
        if hasattr(f, "write"):
            f.write(b"PK\x03\x04" + b"\0" * 4096)
        else:
            with open(f, "wb") as fh:
                fh.write(b"PK\x03\x04" + b"\0" * 4096)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full_disk_save)
    capsys.readouterr()
    code = main(["train", str(photos), "--out", str(out), "--steps", "6", "--checkpoint-every", "2", *TINY])
    line = one_line_error(capsys.readouterr().err)
    assert code == 1 and len(calls) == 2
    assert "checkpoint.pt" in line and os.strerror(errno.ENOSPC) in line
    assert sorted(p.name for p in out.iterdir() if "tmp" in p.name) == []
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 2


def test_only_unreadable_training_images_is_one_line(tmp_path, capsys):
    broken = make_photo_folder(tmp_path / "broken", {"a": 1}, corrupt=3)
    (broken / "a" / "000.png").unlink()
    capsys.readouterr()
    assert main(["train", str(broken), "--out", str(tmp_path / "r1"), "--steps", "2", *TINY]) == 2
    assert "none of the 3 training images can be read" in one_line_error(capsys.readouterr().err)

    # headers that open but pixels that do not decode (truncated PNGs)
    good = make_photo_folder(tmp_path / "good", {"a": 3})
    cut = tmp_path / "cut" / "a"
    cut.mkdir(parents=True)
    for f in sorted((good / "a").iterdir()):
        (cut / f.name).write_bytes(f.read_bytes()[:80])
    assert main(["train", str(cut.parent), "--out", str(tmp_path / "r2"), "--steps", "2", *TINY]) == 2
    assert "could not decode" in one_line_error(capsys.readouterr().err)


@pytest.mark.slow
def test_a_few_corrupt_images_are_skipped_with_a_count(tmp_path, caplog):
    data = make_photo_folder(tmp_path / "data", {"a": 5}, corrupt=2)
    assert main(["train", str(data), "--out", str(tmp_path / "run"), "--steps", "2", *TINY]) == 0
    assert "skipping 2 unreadable training images of 7" in caplog.text


BAD_VALUES = [
    ["--steps", "0"], ["--steps", "-5"], ["--batch-size", "0"], ["--batch-size", "-3"], ["--lr", "nan"], ["--lr", "-1"],
    ["--lr", "inf"], ["--crop", "0"], ["--crop", "-8"], ["--workers", "-1"], ["--checkpoint-every", "0"],
    ["--stop-at", "0"], ["--gan-steps", "-1"], ["--balance", "nan"], ["--balance", "2"], ["--warmup-steps", "-1"],
    ["--min-colorfulness", "-1"], ["--seed", "-1"], ["--preview-every", "-1"], ["--rebalance-lambda", "1.5"],
    ["--rebalance-lambda", "nan"], ["--rebalance-lambda", "0"],
]


@pytest.mark.parametrize("bad", BAD_VALUES, ids=lambda b: " ".join(b))
def test_nonsensical_options_are_refused_before_any_work(photos, paused_run, tmp_path, capsys, bad):
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["train", str(photos), "--out", str(out), *TINY, *bad]) == 2
    assert bad[0] in one_line_error(capsys.readouterr().err)
    assert not out.exists()
    before = (paused_run / "checkpoint.pt").stat().st_mtime_ns
    assert main(["train", "--resume", "--out", str(paused_run), *bad]) == 2
    assert bad[0] in one_line_error(capsys.readouterr().err)
    assert (paused_run / "checkpoint.pt").stat().st_mtime_ns == before


@pytest.mark.slow
def test_log_has_each_step_once_after_a_resume(photos, tmp_path):
    out = tmp_path / "run"
    assert main(["train", str(photos), "--out", str(out), "--steps", "8", "--stop-at", "4", *TINY]) == 0
    at4 = (out / "checkpoint.pt").read_bytes()
    assert main(["train", "--resume", "--out", str(out)]) == 0
    # as after a kill: the log went on to step 8 but the last checkpoint is at step 4
    (out / "checkpoint.pt").write_bytes(at4)
    assert main(["train", "--resume", "--out", str(out)]) == 0
    steps = [line.split(",")[0] for line in (out / "log.csv").read_text().splitlines()[1:]]
    assert steps == ["4", "8"]


@pytest.mark.slow
def test_a_format_1_checkpoint_still_resumes(photos, paused_run, tmp_path):
    """Runs checkpointed before plain-data checkpoints (NumPy RNG arrays, config as a dict) resume."""
    import json
    import random

    import numpy as np

    run = tmp_path / "old"
    shutil.copytree(paused_run, run)
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    ckpt["rng"] = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    ckpt["train_config"] = json.loads(ckpt["train_config"])
    ckpt["train_config"]["workers"] = 0
    del ckpt["format"], ckpt["cwd"]
    torch.save(ckpt, run / "checkpoint.pt")
    assert main(["train", "--resume", "--out", str(run)]) == 0
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 4


def test_worker_default_suits_small_machines(monkeypatch):
    from colorize.train import TrainConfig, default_workers

    for cores, workers in ((1, 0), (2, 0), (4, 1), (8, 2), (16, 4), (64, 4)):
        monkeypatch.setattr(os, "cpu_count", lambda c=cores: c)
        assert default_workers() == workers, cores
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert default_workers(processes=4) == 0  # torchrun: the cores are shared by the ranks
    assert TrainConfig().resolved_workers() == 2 and TrainConfig(workers=3).resolved_workers() == 3


# --------------------------------------------------------------------------- EMA weights and bf16 choice


@pytest.mark.slow
def test_ema_weights_are_exported_checkpointed_and_resumed(tmp_path: Path) -> None:
    """--ema: the exported model is the moving average (not the last step), and resume restores it."""
    import torch

    from colorize.models.weights import load_model
    from colorize.train import TrainConfig, _ema_weights, load_checkpoint, train

    data = tmp_path / "photos"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(data / f"p{i}.png")
    common = dict(data=[str(data)], model="compact-small", steps=6, batch_size=4, crop=32, warmup_steps=1,
                  checkpoint_every=3, preview_every=0, prior_images=8, workers=0, ema_decay=0.5, half_weights=False)
    out = tmp_path / "run"
    train(TrainConfig(out=str(out), stop_at=3, **common), progress=False)
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["ema"] is not None and int(ckpt["ema"]["n_averaged"]) == 3
    json_path = train(TrainConfig(out=str(out), **common), resume=True, progress=False)
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert int(ckpt["ema"]["n_averaged"]) == 6  # the average went on from the checkpoint, not from scratch
    exported, info = load_model(json_path)
    ema = _ema_weights(ckpt["ema"])
    name = next(k for k, v in ckpt["model"].items() if v.dtype.is_floating_point and v.ndim == 4)
    assert torch.allclose(exported.state_dict()[name], ema[name])
    assert not torch.allclose(ema[name], ckpt["model"][name])  # the raw weights differ: EMA is what shipped
    assert info["provenance"]["weights"].startswith("exponential moving average")


def test_bf16_is_only_automatic_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Emulated bf16 is several times slower than fp32: 'auto' must follow the hardware probe."""
    import torch

    from colorize import runtime
    from colorize.train import bf16_wanted

    cpu = torch.device("cpu")
    monkeypatch.setattr(runtime, "cpu_has_fast_bf16", lambda: False)
    assert bf16_wanted(cpu, None) is False and bf16_wanted(cpu, True) is True
    monkeypatch.setattr(runtime, "cpu_has_fast_bf16", lambda: True)
    assert bf16_wanted(cpu, None) is True and bf16_wanted(cpu, False) is False
