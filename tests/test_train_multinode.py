"""``colorize train`` launched the multi-node way (issue 17; docs/scale.md "Training at scale").

``tests/test_train.py::test_torchrun_two_processes_keep_identical_weights`` covers DDP itself (the
single-node ``--nproc-per-node`` launch, identical weights on every rank). This test uses the form a
user types on each node of a cluster: c10d rendezvous at an endpoint, ``--nnodes``/``--node-rank``,
the data folder and the output folder on storage every rank sees, and checks with an audit hook in
every rank that only rank 0 writes anything into the output folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.conftest import free_port
from tests.test_data import make_photo_folder
from tests.test_train import TINY

# Run in every rank by torchrun: records every file the rank opens for writing, creates, renames or
# removes under the output folder (sys.addaudithook sees every such call, the library's and torch's).
AUDIT = textwrap.dedent('''
    import atexit, json, os, sys

    OUT = os.path.realpath(os.environ["AUDIT_OUT"])
    writes = []

    def under(p):
        try:
            return os.path.realpath(os.fsdecode(p)).startswith(OUT)
        except (TypeError, ValueError):
            return False

    def hook(event, args):
        if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)) and under(args[0]):
            mode, flags = args[1], args[2] if len(args) > 2 else 0
            if (mode and any(c in str(mode) for c in "wax+")) or (isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR)):
                writes.append(["open", os.fsdecode(args[0])])
        elif event in ("os.rename", "os.replace", "os.link", "os.remove", "os.mkdir") and args and under(args[0] if event != "os.link" else args[1]):
            writes.append([event, os.fsdecode(args[0])])

    @atexit.register
    def dump():
        with open(os.path.join(os.environ["AUDIT_LOG"], f"rank{os.environ['RANK']}.json"), "w") as f:
            json.dump({"rank": int(os.environ["RANK"]), "world": int(os.environ["WORLD_SIZE"]), "writes": writes}, f)

    sys.addaudithook(hook)
    from colorize.cli import main
    sys.exit(main(sys.argv[1:]))
''')


@pytest.mark.slow
def test_multinode_launch_form_writes_checkpoints_on_rank_0_only(tmp_path):
    shared = tmp_path / "shared"  # stands for the cluster's shared filesystem
    data = make_photo_folder(shared / "photos", {"beach": 4, "forest": 4}, size=(40, 36))
    out, audit = shared / "run", tmp_path / "audit"
    audit.mkdir()
    script = tmp_path / "audited_colorize.py"
    script.write_text(AUDIT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AUDIT_OUT": str(out), "AUDIT_LOG": str(audit),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--node-rank", "0", "--nproc-per-node", "2",
           "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}", "--rdzv-id", "colorize-test",
           str(script), "train", str(data), "--out", str(out), "--steps", "4", "--checkpoint-every", "2", "--preview-every", "2",
           *TINY]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]

    ranks = json.loads((out / "ranks.json").read_text())
    assert ranks["world"] == 2 and ranks["identical"]
    prov = json.loads((out / "model.json").read_text())["provenance"]
    assert prov["complete"] and prov["steps"] == 4 and prov["images_seen"] == 4 * 4 * 2 and prov["device"] == "cpu x2"
    for name in ("checkpoint.pt", "model.safetensors", "model.json", "log.csv", "preview_step0000002.png"):
        assert (out / name).is_file(), name
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temp file left behind

    logs = {json.loads(p.read_text())["rank"]: json.loads(p.read_text()) for p in audit.glob("rank*.json")}
    assert sorted(logs) == [0, 1] and {log["world"] for log in logs.values()} == {2}
    assert logs[1]["writes"] == [], logs[1]["writes"]  # rank 1 never writes into the shared output folder
    written = {Path(p).name for _, p in logs[0]["writes"]}
    assert any(n.startswith(".checkpoint") or n == "checkpoint.pt" for n in written), written  # the audit sees rank 0's writes
