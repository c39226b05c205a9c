"""FID and LPIPS: torchvision/pytorch-fid/lpips-compatible weights files, the maths, and the CLI.

No published weights are available here, so the tests write randomly initialised ones in the
published formats (same keys and shapes) and check loading, invariants and error messages.
"""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image
from torch import nn

from colorize import perceptual as P
from colorize.cli import main as cli_main
from colorize.models import WeightsError
from colorize.models.vgg import VGG16

SIZE = 32
LPIPS_CHANNELS = (64, 128, 256, 512, 512)


def _randomize(model: nn.Module, seed: int) -> nn.Module:
    """Variance-preserving random weights and non-trivial BatchNorm statistics, so features are not ~0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) * 0.4 + 0.8)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory) -> tuple[Path, P.InceptionV3FID]:
    """A pytorch-fid-format file (with fc and an aux-classifier key, which must be ignored)."""
    model = _randomize(P.InceptionV3FID(), seed=0)
    state = dict(model.state_dict())
    state["fc.weight"] = torch.zeros(1008, 2048)
    state["fc.bias"] = torch.zeros(1008)
    state["AuxLogits.conv0.conv.weight"] = torch.zeros(128, 768, 1, 1)
    path = tmp_path_factory.mktemp("fid") / P.FID_WEIGHTS_FILE
    torch.save(state, path)
    return path, model


@pytest.fixture(scope="module")
def lpips_files(tmp_path_factory) -> tuple[Path, Path]:
    """lpips' v0.1 vgg.pth layout (lin{i}.model.1.weight, non-negative) and a torchvision vgg16 file."""
    folder = tmp_path_factory.mktemp("lpips")
    g = torch.Generator().manual_seed(1)
    lin = {f"lin{i}.model.1.weight": torch.rand((1, c, 1, 1), generator=g) for i, c in enumerate(LPIPS_CHANNELS)}
    torch.save(lin, folder / "vgg.pth")
    vgg = dict(_randomize(VGG16(), seed=2).state_dict())
    vgg["classifier.6.bias"] = torch.zeros(1000)  # a published file has the classifier: ignored
    torch.save(vgg, folder / P.VGG16_WEIGHTS_FILE)
    return folder / "vgg.pth", folder / P.VGG16_WEIGHTS_FILE


def _images(n: int, seed: int) -> list[np.ndarray]:
    """Smooth colourful SIZE x SIZE float32 images in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    out = []
    for _ in range(n):
        phase, freq = rng.uniform(0, 2 * np.pi, 3), rng.uniform(2, 8, 2)
        out.append(np.stack([0.5 + 0.45 * np.sin(freq[0] * x + freq[1] * y + p) for p in phase], -1).astype(np.float32))
    return out


# --------------------------------------------------------------------------------------------
# Fréchet distance


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_doctests():
    result = doctest.testmod(P, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 5


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    for d in (1, 3, 16):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = _spd(rng, d), _spd(rng, d)
        covmean = scipy.linalg.sqrtm(s1 @ s2).real
        expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
        assert P.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-7, abs=1e-8)
    assert P.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError):
        P.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


@pytest.mark.parametrize("n1,n2,d", [(6, 9, 40), (50, 30, 5)])  # fewer images than dimensions, and more
def test_fid_from_features_equals_the_covariance_formula(n1, n2, d):
    rng = np.random.default_rng(n1)
    a, b = rng.normal(size=(n1, d)), rng.normal(loc=0.3, size=(n2, d)) * 1.5
    expected = P.frechet_distance(*P.feature_statistics(a), *P.feature_statistics(b))
    assert P.fid_from_features(a, b) == pytest.approx(expected, rel=1e-6)
    assert P.fid_from_features(a, a) == pytest.approx(0.0, abs=1e-8)
    assert np.isnan(P.fid_from_features(a[:1], b))


# --------------------------------------------------------------------------------------------
# Inception-v3 (FID)


def test_inception_state_dict_has_torchvision_names():
    sd = P.InceptionV3FID().state_dict()
    # torchvision's Inception3 without AuxLogits: 94 BasicConv2d (stem 5, Mixed_5b-d 3 x 7, Mixed_6a 4,
    # Mixed_6b-e 4 x 10, Mixed_7a 6, Mixed_7b-c 2 x 9), each conv.weight + 5 BatchNorm tensors,
    # plus fc.weight and fc.bias: 94 * 6 + 2 = 566 tensors in the published file.
    assert len(sd) == 94 * 6
    assert len(set(sd) | {"fc.weight", "fc.bias"}) == 566
    assert not any(k.startswith(("AuxLogits", "fc.")) for k in sd)
    shapes = {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
        "Conv2d_1a_3x3.bn.running_mean": (32,),
        "Conv2d_4a_3x3.bn.num_batches_tracked": (),
        "Mixed_5b.branch1x1.conv.weight": (64, 192, 1, 1),
        "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
        "Mixed_5d.branch5x5_2.conv.weight": (64, 48, 5, 5),
        "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
        "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
        "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
        "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
        "Mixed_7b.branch3x3_2b.conv.weight": (384, 384, 3, 1),
        "Mixed_7c.branch3x3dbl_3b.bn.bias": (384,),
        "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
    }
    for key, shape in shapes.items():
        assert tuple(sd[key].shape) == shape, key
    assert all(isinstance(m, nn.Conv2d) and m.bias is None for m in P.InceptionV3FID().modules() if isinstance(m, nn.Conv2d))
    assert sum(p.numel() for p in P.InceptionV3FID().parameters()) == 21_785_568  # torchvision's 27,161,264 - aux - fc


@pytest.mark.slow
def test_inception_weights_round_trip(inception_file):
    path, src = inception_file
    loaded = P.load_inception_fid(path)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    x = torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        a, b = src(x), loaded(x)
    assert a.shape == (2, 2048)
    assert torch.equal(a, b)
    assert float(a.std()) > 1e-3  # random weights still give informative features


@pytest.mark.slow
def test_fid_is_zero_for_the_same_set_and_positive_for_another(inception_file):
    metrics = P.PerceptualMetrics(fid_weights=inception_file[0])
    assert metrics.has_fid and not metrics.has_lpips
    truths = _images(3, seed=4)
    others = _images(3, seed=5)
    for t, o in zip(truths, others):
        assert metrics.add("set", {"same": t, "other": o, "gray": np.repeat(t.mean(-1, keepdims=True), 3, -1)}, t) == {}
    fid = metrics.fid()
    assert metrics.images() == 3 and metrics.fid("set") == fid
    assert fid["same"] == pytest.approx(0.0, abs=1e-6)
    assert fid["other"] > 1e-3 and fid["gray"] > 1e-3
    assert np.isnan(metrics.fid("no such group")["same"])


def test_inception_weights_errors_name_the_file(tmp_path):
    with pytest.raises(WeightsError, match="missing.pth: no such weights file"):
        P.load_inception_fid(tmp_path / "missing.pth")
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\x80\x02 definitely not a checkpoint")
    with pytest.raises(WeightsError, match="corrupt.pth: not a readable PyTorch weights file"):
        P.load_inception_fid(corrupt)
    other = tmp_path / "other.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(32, 3, 3, 3)}, other)
    with pytest.raises(WeightsError, match="other.pth: does not fit the FID Inception-v3") as info:
        P.load_inception_fid(other)
    assert "\n" not in str(info.value)
    imagenet = tmp_path / "inception_v3_google.pth"
    torch.save({"fc.weight": torch.zeros(1000, 2048)}, imagenet)
    with pytest.raises(WeightsError, match="inception_v3_google.pth: torchvision's ImageNet Inception-v3"):
        P.load_inception_fid(imagenet)


# --------------------------------------------------------------------------------------------
# LPIPS


@pytest.mark.slow
def test_lpips_is_a_distance_that_grows_with_distortion(lpips_files):
    model = P.load_lpips(*lpips_files)
    assert list(model.linear.state_dict()) == [f"lin{i}.model.1.weight" for i in range(5)]
    g = torch.Generator().manual_seed(6)
    x = torch.from_numpy(np.stack(_images(2, seed=7)).transpose(0, 3, 1, 2).copy())
    noise = torch.randn(x.shape, generator=g)
    slight, strong = (x + 0.03 * noise).clamp(0, 1), (x + 0.3 * noise).clamp(0, 1)
    with torch.inference_mode():
        same = model(x, x)
        d_slight, d_strong = model(x, slight), model(x, strong)
        backwards = model(strong, x)
    assert same.shape == (2,) and torch.all(same.abs() < 1e-7)
    torch.testing.assert_close(backwards, d_strong)
    assert torch.all(d_slight > 0) and torch.all(d_strong > d_slight)


def test_lpips_weights_errors_name_the_file(lpips_files, tmp_path):
    lin, vgg = lpips_files
    with pytest.raises(WeightsError, match=f"{P.VGG16_WEIGHTS_FILE}: does not fit LPIPS"):
        P.load_lpips(vgg, vgg)  # the two files swapped
    alex = tmp_path / "alex.pth"
    torch.save({f"lin{i}.model.1.weight": torch.zeros(1, c, 1, 1) for i, c in enumerate((64, 192, 384, 256, 256))}, alex)
    with pytest.raises(WeightsError, match="alex.pth: shape mismatch .* lin1.model.1.weight"):
        P.load_lpips(alex, vgg)
    with pytest.raises(WeightsError, match="vgg.pth: does not fit torchvision's vgg16"):
        P.load_lpips(lin, lin)
    with pytest.raises(WeightsError, match="nope.pth: no such weights file"):
        P.load_lpips(lin, tmp_path / "nope.pth")
    with pytest.raises(ValueError, match="lpips_vgg_weights"):
        P.PerceptualMetrics(lpips_weights=lin)


def test_perceptual_metrics_lpips_per_image(lpips_files):
    metrics = P.PerceptualMetrics(lpips_weights=lpips_files[0], lpips_vgg_weights=lpips_files[1])
    t, o = _images(2, seed=8)
    scores = metrics.add("g", {"same": t, "other": o}, t)
    assert scores["same"] == pytest.approx(0.0, abs=1e-7) and scores["other"] > 0
    assert metrics.fid() == {}


# --------------------------------------------------------------------------------------------
# colorize evaluate


@pytest.fixture
def truth_folder(tmp_path) -> Path:
    folder = tmp_path / "truth"
    folder.mkdir()
    for i, img in enumerate(_images(3, seed=9)):
        Image.fromarray((img * 255).round().astype(np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.mark.slow
def test_cli_evaluate_with_fid_and_lpips(truth_folder, tiny_model_path, inception_file, lpips_files, tmp_path, capsys):
    lin, vgg = lpips_files
    report = tmp_path / "report.md"
    code = cli_main(["evaluate", str(truth_folder), "-m", f"tiny={tiny_model_path}", "--json", "-q",
                     "--fid-weights", str(inception_file[0]), "--lpips-weights", str(lin), "--lpips-vgg-weights", str(vgg),
                     "--report", str(report)])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    methods = data["groups"]["all"]["methods"]
    for m in ("gray", "tiny"):
        assert isinstance(methods[m]["fid"], float) and methods[m]["fid"] > 0
        assert isinstance(methods[m]["lpips"], float) and methods[m]["lpips"] > 0
    assert len(data["rows"]) == 6 and all(isinstance(r["lpips"], float) for r in data["rows"])
    assert data["config"]["fid"]["images"] == 3 and data["config"]["lpips"]["version"] == "0.1"
    assert "FID on 3 images is strongly biased" in err
    text = report.read_text()
    assert "| LPIPS |" in text and "| FID |" in text and "strongly biased" in text


@pytest.mark.slow
def test_cli_evaluate_without_flags_or_with_bad_files(truth_folder, tiny_model_path, inception_file, lpips_files, tmp_path, capsys):
    base = ["evaluate", str(truth_folder), "-m", f"tiny={tiny_model_path}", "--json", "-q"]
    assert cli_main(base) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    for summary in data["groups"]["all"]["methods"].values():
        assert "fid" not in summary and "lpips" not in summary
    assert not any("lpips" in row for row in data["rows"]) and "biased" not in err
    assert set(data["config"]) == {"max_images", "recursive", "skip_gray", "prior", "gray_input", "auc_thresholds"}

    missing = tmp_path / "pt_inception-missing.pth"
    assert cli_main([*base, "--fid-weights", str(missing)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.strip() == f"colorize: error: {missing}: no such weights file"

    corrupt = tmp_path / "corrupt_vgg.pth"
    corrupt.write_bytes(b"garbage")
    assert cli_main([*base, "--lpips-weights", str(lpips_files[0]), "--lpips-vgg-weights", str(corrupt)]) == 1
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and str(corrupt) in err and "Traceback" not in err

    assert cli_main([*base, "--lpips-weights", str(lpips_files[0])]) == 2
    out, err = capsys.readouterr()
    assert "--lpips-vgg-weights" in err and err.count("\n") == 1
