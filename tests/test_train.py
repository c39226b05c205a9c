"""``colorize train`` end to end on tiny generated data: outputs, resume after a kill, DDP, GAN phase."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.test_data import make_photo_folder

TINY = ["--model", "compact-small", "--crop", "32", "--batch-size", "4", "--workers", "0", "--warmup-steps", "2", "-q"]


def run_cli(*args: str, env_extra: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "colorize", *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return make_photo_folder(tmp_path_factory.mktemp("photos"), {"beach": 6, "forest": 4}, size=(40, 36), corrupt=1)


@pytest.mark.slow
def test_train_writes_everything_and_skips_corrupt_images(photos, tmp_path):
    out = tmp_path / "run"
    r = run_cli("train", str(photos), "--out", str(out), "--steps", "6", "--checkpoint-every", "3", "--preview-every", "3", *TINY)
    assert r.returncode == 0, r.stderr
    assert "skipping 1 unreadable training image of 11" in r.stderr and "broken0.jpg" in r.stderr
    for name in ("checkpoint.pt", "log.csv", "loss.png", "model.json", "model.safetensors", "preview_step0000003.png", "preview_step0000006.png"):
        assert (out / name).is_file(), name
    info = json.loads((out / "model.json").read_text())
    prov = info["provenance"]
    assert prov["trained"] and prov["complete"] and prov["steps"] == 6 and prov["images_seen"] == 24
    assert prov["data_sources"] == {"beach": 6, "forest": 4} and prov["wall_time_s"] > 0  # the unreadable file is left out
    assert len(info["prior"]) > 200
    from colorize.pipeline import Colorizer

    c = Colorizer.from_pretrained(out / "model.json")
    assert c(torch.rand(40, 56).numpy()).shape == (40, 56, 3)
    # a second run into the same folder is refused rather than clobbering it
    again = run_cli("train", str(photos), "--out", str(out), *TINY)
    assert again.returncode == 1 and "--resume" in again.stderr


@pytest.mark.slow
def test_resume_after_kill_matches_an_uninterrupted_run(photos, tmp_path):
    common = ["--steps", "60", "--checkpoint-every", "5", "--preview-every", "0", "--seed", "1", *TINY]
    ref = run_cli("train", str(photos), "--out", str(tmp_path / "ref"), *common)
    assert ref.returncode == 0, ref.stderr

    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "colorize", "train", str(photos), "--out", str(out), *common],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = torch.load(out / "checkpoint.pt", weights_only=True)["step"]
    assert 0 < step < 60 and not (out / "model.json").exists()

    resumed = run_cli("train", "--resume", "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr
    a, b = load_file(tmp_path / "ref" / "model.safetensors"), load_file(out / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    rows = (out / "log.csv").read_text().splitlines()
    assert rows[-1].startswith("60,240,")


@pytest.mark.slow
def test_export_a_paused_run(photos, tmp_path):
    out = tmp_path / "paused"
    r = run_cli("train", str(photos), "--out", str(out), "--steps", "10", "--stop-at", "4", "--preview-every", "0", *TINY)
    assert r.returncode == 0, r.stderr
    assert not (out / "model.json").exists()
    e = run_cli("train", "--out", str(out), "--export")
    assert e.returncode == 0, e.stderr
    info = json.loads((out / "model_step4.json").read_text())
    assert info["provenance"]["steps"] == 4 and info["provenance"]["complete"] is False


@pytest.mark.slow
def test_fine_tune_from_a_trained_model_keeps_its_lineage(photos, tmp_path):
    base = tmp_path / "base"
    r = run_cli("train", str(photos), "--out", str(base), "--steps", "3", "--preview-every", "0", *TINY)
    assert r.returncode == 0, r.stderr
    base_json = json.loads((base / "model.json").read_text())
    base_json["inference"] = {"temperature": 0.3, "consensus_radius": 4}  # decode settings chosen for the base
    (base / "model.json").write_text(json.dumps(base_json))
    tune = tmp_path / "tune"
    # lr 0: the trainable weights must come out exactly as loaded (BN running statistics still move)
    r = run_cli("train", str(photos), "--out", str(tune), "--init-weights", str(base / "model.json"), "--steps", "2",
                "--lr", "0", "--preview-every", "0", *TINY[2:])
    assert r.returncode == 0, r.stderr
    a, b = load_file(base / "model.safetensors"), load_file(tune / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        if "running_" not in k and "num_batches" not in k:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    base_info, info = json.loads((base / "model.json").read_text()), json.loads((tune / "model.json").read_text())
    assert info["arch"] == "compact-small" and info["prior"] == base_info["prior"]
    prov = info["provenance"]
    assert prov["init_weights"]["source"] == str(base / "model.json") and prov["init_weights"]["images_seen"] == 12
    assert prov["images_seen"] == 8 and prov["images_seen_total"] == 20
    assert info["inference"] == {"temperature": 0.3, "consensus_radius": 4}  # the fine-tune decodes as its base did
    # architecture options cannot be mixed with a model to fine-tune, and a missing model is a one-line error
    bad = run_cli("train", str(photos), "--out", str(tmp_path / "x"), "--init-weights", str(base / "model.json"), "--hints", *TINY[2:])
    assert bad.returncode == 2 and "--init-weights" in bad.stderr
    missing = run_cli("train", str(photos), "--out", str(tmp_path / "y"), "--init-weights", str(tmp_path / "nope.json"), *TINY[2:])
    assert missing.returncode == 2 and "nope.json" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.slow
def test_adversarial_phase_and_regression_losses(photos, tmp_path):
    out = tmp_path / "gan"
    r = run_cli("train", str(photos), "--out", str(out), "--steps", "3", "--gan-steps", "3", "--head", "regression",
                "--space", "yuv", "--optimizer", "sgd", "--preview-every", "0", *TINY[:-1], "--checkpoint-every", "100")
    assert r.returncode == 0, r.stderr
    last = (out / "log.csv").read_text().splitlines()[-1].split(",")
    assert last[0] == "6" and last[-1] != "" and last[-2] != ""  # generator and critic losses logged
    assert json.loads((out / "model.json").read_text())["provenance"]["gan_steps"] == 3


@pytest.mark.slow
def test_torchrun_two_processes_keep_identical_weights(photos, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29531", "-m", "colorize",
           "train", str(photos), "--out", str(out), "--steps", "4", "--checkpoint-every", "2", "--preview-every", "0", *TINY]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = json.loads((out / "ranks.json").read_text())
    assert ranks["world"] == 2 and ranks["identical"] and len(set(ranks["sha256"])) == 1
    prov = json.loads((out / "model.json").read_text())["provenance"]
    assert prov["images_seen"] == 4 * 4 * 2 and prov["device"] == "cpu x2"
