"""Training data: any colour photo is an example (the gray input is made from it on the fly).

* :func:`scan_sources` lists images from folders (each top-level sub-folder is a *source*) or a
  CSV/text manifest of paths.
* :class:`ColorPhotoDataset` decodes and augments one photo in a DataLoader worker and returns a
  uint8 crop; colour conversion happens batched on the training device (fast, fp32).
* :class:`ResumableSampler` yields a deterministic, infinite stream of (index, augmentation seed)
  with per-source balancing; its position is one integer, so ``--resume`` continues exactly where
  the killed run was, whatever the workers had prefetched, and DDP ranks take disjoint slices.
"""

from __future__ import annotations

import csv
import logging
import os
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFile
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from .errors import ColorizeError
from .io import is_image_path

log = logging.getLogger("colorize.data")

class TrainingDataError(ColorizeError, ValueError):
    """The training data cannot be used (nothing readable); one line naming the data."""


@dataclass(frozen=True)
class Example:
    path: str
    source: str
    colorfulness: float | None = None


def _colorfulness_u8(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk 2003 colourfulness on 0-255 values (cheap, for filtering)."""
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def _read_manifest(path: Path) -> list[Example]:
    """CSV with a ``file`` (or ``path``) column, optional ``source``/``colorfulness``; or one path per line.

    Relative paths are resolved against the manifest's folder.
    """
    base = path.parent
    text = path.read_text()
    first = text.splitlines()[0] if text else ""
    examples: list[Example] = []
    if path.suffix.lower() == ".csv" or "," in first:
        for row in csv.DictReader(text.splitlines()):
            file = row.get("file") or row.get("path")
            if not file:
                continue
            p = Path(file) if os.path.isabs(file) else base / file
            cf = row.get("colorfulness")
            examples.append(Example(str(p), row.get("source") or p.parent.name, float(cf) if cf else None))
    else:
        for line in text.splitlines():
            if line.strip() and not line.startswith("#"):
                p = Path(line.strip())
                p = p if p.is_absolute() else base / p
                examples.append(Example(str(p), p.parent.name))
    return examples


def scan_sources(inputs: Sequence[str | os.PathLike[str]]) -> list[Example]:
    """Images under each input folder (recursively) or listed in a manifest file, with their source.

    A folder's direct sub-folders are its sources (``train/imagenette/...`` -> ``imagenette``);
    images directly in the folder belong to a source named after the folder.
    """
    examples: list[Example] = []
    for item in inputs:
        p = Path(item)
        if p.is_file():
            examples += _read_manifest(p)
            continue
        if not p.is_dir():
            raise FileNotFoundError(f"{p}: no such folder or manifest")
        for root, dirs, files in os.walk(p):
            dirs.sort()
            rel = Path(root).relative_to(p)
            source = rel.parts[0] if rel.parts else p.name
            for f in sorted(files):
                if is_image_path(f):  # the one list of image extensions (colorize.io)
                    examples.append(Example(str(Path(root) / f), source))
    if not examples:
        raise ValueError(f"no training images found in {', '.join(map(str, inputs))}")
    return examples


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def drop_unreadable(examples: list[Example]) -> tuple[list[Example], list[tuple[str, str]]]:
    """Examples whose image header opens, and ``(path, reason)`` for the others.

    Only the header is read (no pixel decoding: ~0.1 ms a file), so a run over tens of thousands
    of photos starts at once; files that fail later, while decoding, are skipped by the dataset.
    """
    good: list[Example] = []
    bad: list[tuple[str, str]] = []
    for e in examples:
        try:
            with Image.open(e.path) as im:
                im.size  # noqa: B018  (the header is parsed by open)
            good.append(e)
        except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
            bad.append((e.path, _reason(exc)))
    return good, bad


def filter_colorful(examples: list[Example], min_colorfulness: float) -> list[Example]:
    """Drop near-grayscale photos where the manifest knows their colourfulness (others are checked
    per crop in the dataset)."""
    return [e for e in examples if e.colorfulness is None or e.colorfulness >= min_colorfulness]


class ColorPhotoDataset(Dataset):
    """Decode, randomly scale, crop and flip a colour photo; returns a (3, crop, crop) uint8 tensor.

    Indexing takes ``(index, seed)`` so augmentation is reproducible and independent of which worker
    runs it. A corrupt file is logged once and replaced by another photo, never a crash.
    """

    def __init__(
        self,
        examples: list[Example],
        crop: int = 128,
        scale_jitter: tuple[float, float] = (1.0, 1.3),
        flip: bool = True,
        min_colorfulness: float = 0.0,
    ) -> None:
        self.examples = examples
        self.crop = crop
        self.scale_jitter = scale_jitter
        self.flip = flip
        self.min_colorfulness = min_colorfulness
        self.bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.examples)

    def _load(self, i: int) -> Image.Image:
        path = self.examples[i].path
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        with Image.open(path) as im:
            im.draft("RGB", (self.crop, self.crop))  # JPEG: decode at a reduced size when possible
            return im.convert("RGB")

    def augment(self, im: Image.Image, rng: random.Random) -> np.ndarray:
        """Scale so the shorter side is ``crop * jitter``, take a random crop, maybe flip."""
        w, h = im.size
        scale = self.crop * rng.uniform(*self.scale_jitter) / min(w, h)
        nw, nh = max(self.crop, round(w * scale)), max(self.crop, round(h * scale))
        im = im.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=2.0)
        x, y = rng.randint(0, nw - self.crop), rng.randint(0, nh - self.crop)
        arr = np.asarray(im.crop((x, y, x + self.crop, y + self.crop)))
        if self.flip and rng.random() < 0.5:
            arr = arr[:, ::-1]
        return arr

    def __getitem__(self, item: tuple[int, int] | int) -> Tensor:
        index, seed = item if isinstance(item, tuple) else (item, item)
        rng = random.Random(seed)
        for attempt in range(20):
            try:
                arr = self.augment(self._load(index), rng)
                if self.min_colorfulness <= 0 or _colorfulness_u8(arr) >= self.min_colorfulness or attempt >= 10:
                    return torch.from_numpy(np.array(arr, copy=True)).permute(2, 0, 1)
            except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
                if index not in self.bad:
                    self.bad.add(index)
                    log.warning("skipping unreadable training image %s: %s", self.examples[index].path, _reason(exc))
            index = rng.randrange(len(self.examples))
        raise TrainingDataError(f"could not decode 20 training images in a row (e.g. {self.examples[index].path}); is the data folder corrupt?")



def source_weights(examples: list[Example], balance: float) -> np.ndarray:
    """Per-example sampling probabilities: a source of n images gets total weight ``n ** balance``.

    ``balance=1`` samples images uniformly (big sources dominate), ``0`` gives each source an equal
    share (tiny sources repeat a lot); ``0.5`` is the compromise used by default.
    """
    counts = Counter(e.source for e in examples)
    share = {s: n**balance for s, n in counts.items()}
    total = sum(share.values())
    p = np.array([share[e.source] / total / counts[e.source] for e in examples], dtype=np.float64)
    return p / p.sum()


class ResumableSampler(Sampler[tuple[int, int]]):
    """Infinite deterministic stream of ``(example index, augmentation seed)``.

    The stream is cut into "epochs" of ``len(examples)`` draws, each a weighted draw without
    replacement seeded by ``(seed, epoch)``. ``position`` counts draws already consumed by the whole
    job (all ranks); rank ``r`` of ``world`` takes positions ``r, r + world, ...``.
    """

    def __init__(self, weights: np.ndarray, seed: int = 0, position: int = 0, rank: int = 0, world: int = 1) -> None:
        self.weights = weights
        self.n = len(weights)
        self.seed = seed
        self.position = position
        self.rank, self.world = rank, world

    def _epoch_order(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch])
        # Weighted sampling with replacement: sources are balanced, an epoch is n draws.
        return rng.choice(self.n, size=self.n, replace=True, p=self.weights)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        pos = self.position + self.rank
        epoch, order = -1, np.empty(0, dtype=np.int64)
        while True:
            e, offset = divmod(pos, self.n)
            if e != epoch:
                epoch, order = e, self._epoch_order(e)
            yield int(order[offset]), int(self.seed * 1_000_003 + pos) % (2**63)
            pos += self.world

    def __len__(self) -> int:  # DataLoader asks; the stream is endless
        return 2**62


def collate_uint8(batch: list[Tensor]) -> Tensor:
    return torch.stack(batch)


def describe_sources(examples: list[Example]) -> dict[str, int]:
    return dict(sorted(Counter(e.source for e in examples).items(), key=lambda kv: -kv[1]))


def split_holdout(examples: list[Example], count: int, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """A fixed held-out sample for validation previews (and the rest for training)."""
    rng = random.Random(seed)
    idx = list(range(len(examples)))
    rng.shuffle(idx)
    keep = set(idx[: min(count, max(0, len(examples) - 1))])
    return [e for i, e in enumerate(examples) if i not in keep], [e for i, e in enumerate(examples) if i in keep]


__all__ = [
    "Example",
    "TrainingDataError",
    "drop_unreadable",
    "scan_sources",
    "filter_colorful",
    "ColorPhotoDataset",
    "ResumableSampler",
    "source_weights",
    "split_holdout",
    "describe_sources",
    "collate_uint8",
]
