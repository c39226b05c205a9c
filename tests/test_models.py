"""Model registry, torchvision-compatible backbones, heads and the weights format."""

from __future__ import annotations

import json

import pytest
import torch

from colorize.models import WeightsError, create_model, list_models
from colorize.models.backbones import load_backbone_weights
from colorize.models.resnet import ResNet
from colorize.models.vgg import VGG16
from colorize.models.weights import load_model, save_model


def test_vgg16_state_dict_matches_torchvision_layout():
    keys = list(VGG16(with_classifier=True).state_dict())
    convs = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    expected = [f"features.{i}.{p}" for i in convs for p in ("weight", "bias")]
    expected += [f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")]
    assert keys == expected


@pytest.mark.parametrize("depth,count", [("resnet18", 122), ("resnet34", 218), ("resnet50", 320)])
def test_resnet_state_dict_matches_torchvision_layout(depth, count):
    sd = ResNet(depth, with_classifier=True).state_dict()
    assert len(sd) == count  # torchvision's resnet18/34/50 have 122/218/320 entries
    for key in ("conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
                "layer4.1.bn2.num_batches_tracked", "fc.weight"):
        assert key in sd
    if depth == "resnet50":
        assert sd["layer1.0.conv3.weight"].shape == (256, 64, 1, 1)
        assert sd["fc.weight"].shape == (1000, 2048)


@pytest.mark.slow
def test_backbone_weights_load_from_a_torchvision_style_file(tmp_path):
    src = VGG16(with_classifier=True)
    path = tmp_path / "vgg16-fake.pth"
    torch.save(src.state_dict(), path)  # a published file holds the classifier too
    model = create_model("residual-encoder", backbone_weights=str(path))
    torch.testing.assert_close(model.backbone.features[28].weight, src.features[28].weight)


def test_backbone_weights_errors_are_clear(tmp_path):
    with pytest.raises(WeightsError, match="no such weights file"):
        create_model("residual-encoder", backbone_weights=str(tmp_path / "missing.pth"))
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(WeightsError, match="not a readable PyTorch weights file"):
        create_model("hypercolumn", backbone_weights=str(bad))
    other = tmp_path / "resnet.pth"
    torch.save(ResNet("resnet18").state_dict(), other)
    with pytest.raises(WeightsError, match="does not fit vgg16"):
        load_backbone_weights(VGG16(), other, "vgg16")
    with pytest.raises(WeightsError, match="offline"):
        create_model("residual-encoder", backbone_weights="imagenet")  # tests run with HF_HUB_OFFLINE=1


@pytest.mark.parametrize("entry", list_models(), ids=lambda e: e.name)
@pytest.mark.slow
def test_every_registered_model_runs_and_decodes(entry):
    model = create_model(entry.name).eval()
    x = torch.rand(2, 1, 64, 48)
    out = model(x)
    chroma = model.predict_chroma(x)
    assert out.shape[0] == 2 and out.shape[-2:] == (64 // model.output_stride, 48 // model.output_stride)
    assert chroma.shape == (2, 2, *out.shape[-2:])
    assert chroma.abs().max() <= 1.0


def test_hypercolumn_uses_the_seed_layers():
    model = create_model("hypercolumn")
    assert model.norm.num_features == 64 + 128 + 256 + 512  # conv1_2, conv2_2, conv3_3, conv4_3
    assert model.hidden1[0].out_channels == 128 and model.hidden2[0].out_channels == 64
    assert create_model("residual-encoder-5").decoder.entry.in_channels == 512


def test_compact_model_is_small_and_takes_hints():
    model = create_model("compact")
    assert 2e6 < model.num_parameters() < 8e6
    hinted = create_model("compact", hints=True)
    assert hinted(torch.rand(1, 4, 32, 32)).shape[1] == model(torch.rand(1, 1, 32, 32)).shape[1]
    with pytest.raises(ValueError, match="input channel"):
        hinted(torch.rand(1, 1, 32, 32))


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown model"):
        create_model("nope")
    with pytest.raises(ValueError, match="has no option"):
        create_model("compact", depthh=3)
    with pytest.raises(ValueError, match="needs space='lab'"):
        create_model("compact", head="distribution", space="yuv")


def test_weights_round_trip_fp16(tmp_path):
    model = create_model("compact-small", head="regression", space="yuv").eval()
    st, js = save_model(model, tmp_path / "m", half=True, provenance={"trained": False, "note": "test"})
    loaded, info = load_model(js)
    assert info["arch"] == "compact-small" and info["space"] == "yuv" and info["dtype"] == "float16"
    x = torch.rand(1, 1, 32, 32)
    torch.testing.assert_close(loaded(x), model(x), atol=2e-3, rtol=0)
    assert st.stat().st_size < sum(p.numel() for p in model.parameters()) * 2 + 100_000


def test_corrupt_or_mismatched_weights_are_clear_errors(tmp_path):
    _, js = save_model(create_model("compact-small"), tmp_path / "m")
    st = js.with_suffix(".safetensors")
    st.write_bytes(st.read_bytes()[:1000])
    with pytest.raises(WeightsError, match="corrupt or unreadable"):
        load_model(js)
    _, js2 = save_model(create_model("compact-small"), tmp_path / "n")
    info = json.loads(js2.read_text())
    info["config"]["widths"] = [8, 16, 32, 64]
    js2.write_text(json.dumps(info))
    with pytest.raises(WeightsError, match="has shape|do not match"):
        load_model(js2)
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(WeightsError, match="not a valid model config"):
        load_model(tmp_path / "x.json")
    with pytest.raises(WeightsError, match="no such model config"):
        load_model(tmp_path / "missing.json")
