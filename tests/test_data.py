"""Training data: listing, sources, corrupt files, the resumable balanced sampler."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorize.data import ColorPhotoDataset, ResumableSampler, scan_sources, source_weights


def make_photo_folder(root: Path, per_source: dict[str, int], size=(48, 40), corrupt: int = 0) -> Path:
    rng = np.random.default_rng(0)
    for source, n in per_source.items():
        d = root / source
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            base = rng.integers(0, 255, 3)
            img = np.clip(base + rng.normal(0, 30, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(d / f"{i:03d}.png")
    for i in range(corrupt):
        (root / next(iter(per_source)) / f"broken{i}.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    return root


def test_scan_sources_folders_and_manifest(tmp_path):
    root = make_photo_folder(tmp_path / "data", {"a": 3, "b": 2})
    ex = scan_sources([root])
    assert sorted({e.source for e in ex}) == ["a", "b"] and len(ex) == 5
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,source,colorfulness\ndata/a/000.png,x,12.5\ndata/b/001.png,y,3\n")
    ex2 = scan_sources([manifest])
    assert [e.source for e in ex2] == ["x", "y"] and ex2[0].colorfulness == 12.5
    assert Path(ex2[0].path).is_file()
    with pytest.raises(FileNotFoundError):
        scan_sources([tmp_path / "nope"])


def test_dataset_crops_and_skips_corrupt_images(tmp_path, caplog):
    root = make_photo_folder(tmp_path, {"a": 2}, corrupt=1)
    ex = scan_sources([root])
    ds = ColorPhotoDataset(ex, crop=32)
    broken = next(i for i, e in enumerate(ex) if "broken" in e.path)
    out = ds[(broken, 7)]
    assert out.shape == (3, 32, 32) and out.dtype.is_floating_point is False
    assert broken in ds.bad and "skipping unreadable training image" in caplog.text
    # the same (index, seed) gives the same crop: augmentation does not depend on the worker
    assert (ds[(0, 3)] == ds[(0, 3)]).all()


def test_source_balancing():
    from colorize.data import Example

    ex = [Example(f"a{i}", "big") for i in range(90)] + [Example(f"b{i}", "small") for i in range(10)]
    w_equal = source_weights(ex, 0.0)
    assert np.isclose(w_equal[:90].sum(), 0.5)
    w_sqrt = source_weights(ex, 0.5)
    assert np.isclose(w_sqrt[:90].sum(), 3 / 4)  # sqrt(90) : sqrt(10) = 3 : 1
    assert np.isclose(source_weights(ex, 1.0)[:90].sum(), 0.9)


def test_sampler_is_deterministic_resumable_and_splits_ranks():
    w = np.full(10, 0.1)
    full = list(itertools.islice(iter(ResumableSampler(w, seed=3)), 25))
    resumed = list(itertools.islice(iter(ResumableSampler(w, seed=3, position=13)), 12))
    assert full[13:] == resumed
    r0 = list(itertools.islice(iter(ResumableSampler(w, seed=3, rank=0, world=2)), 6))
    r1 = list(itertools.islice(iter(ResumableSampler(w, seed=3, rank=1, world=2)), 6))
    assert r0 == full[0:12:2] and r1 == full[1:12:2]
