"""Colour hints (issue #6): parsing, rasterisation, learned hints, Levin propagation, the CLI.

Images are made here (64-128 px); models are the random-weight fixtures of conftest.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageColor

from colorize.cli import main
from colorize.color import rgb_to_yuv
from colorize.hints import (
    CSS_COLORS,
    HintError,
    HintPoint,
    Hints,
    hint_map,
    hint_reach,
    object_features,
    hint_uv,
    parse_color,
    parse_hint,
    propagate,
)
from colorize.models import create_model
from colorize.pipeline import Colorizer
from colorize.render import gray_of

# ----------------------------------------------------------------------------- helpers


def two_regions(h: int = 64, w: int = 96, left: float = 0.3, right: float = 0.8) -> np.ndarray:
    """Gray HxWx3 float image: two flat regions split by a strong vertical luminance edge at w/2."""
    y = np.full((h, w), left, np.float32)
    y[:, w // 2 :] = right
    return np.repeat(y[..., None], 3, axis=-1)


def luma_ok(out: np.ndarray, gray: np.ndarray) -> float:
    """Fraction of pixels whose BT.601 luma is within 1/255 of the input's."""
    return float((np.abs(gray_of(out) - gray) <= 1 / 255 + 1e-6).mean())


def uv_of(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_yuv(torch.from_numpy(np.ascontiguousarray(rgb, np.float32)).permute(2, 0, 1)).permute(1, 2, 0).numpy()[..., 1:]


@pytest.fixture(scope="module")
def hint_colorizer(tiny_hint_model_path):
    return Colorizer.from_pretrained(tiny_hint_model_path, device="cpu", render_size=128)


@pytest.fixture(scope="module")
def plain_colorizer(tiny_model_path):
    return Colorizer.from_pretrained(tiny_model_path, device="cpu", render_size=128)


# ----------------------------------------------------------------------------- colours and syntax


def test_css_table_is_complete_and_matches_pillow():
    assert len(CSS_COLORS) == 148
    assert set(CSS_COLORS) == set(ImageColor.colormap)
    for name in CSS_COLORS:
        assert parse_color(name) == ImageColor.getrgb(name), name


@pytest.mark.parametrize(
    "text, rgb",
    [("#b22222", (178, 34, 34)), ("#B22222", (178, 34, 34)), ("#f00", (255, 0, 0)), ("#0a0", (0, 170, 0)),
     ("SkyBlue", (135, 206, 235)), ("sky blue", (135, 206, 235)), ("rebeccapurple", (102, 51, 153)),
     ((255, 128, 0), (255, 128, 0)), ((1.0, 0.5, 0.0), (255, 128, 0))],
)
def test_parse_color(text, rgb):
    assert parse_color(text) == rgb


@pytest.mark.parametrize(
    "text, expect",
    [("skyblu", "skyblue"), ("redd", "red"), ("firebrik", "firebrick"), ("#12", "#rgb or #rrggbb"),
     ("#ggg", "#rgb or #rrggbb"), ("", "CSS name"), ("zzzzqq", "CSS colour name")],
)
def test_bad_colours_explain_and_suggest(text, expect):
    with pytest.raises(HintError) as info:
        parse_color(text)
    msg = str(info.value)
    assert expect in msg and "\n" not in msg


def test_parse_hint():
    assert parse_hint("120,80=#b22222") == HintPoint(120, 80, (178, 34, 34), None)
    assert parse_hint(" 3.5 , 4 , 6 = skyblue") == HintPoint(3.5, 4, (135, 206, 235), 6.0)


@pytest.mark.parametrize("text", ["120,80", "120=red", "1,2,3,4=red", "a,b=red", "1,2=", "=red", "1,2,-3=red", "nan,1=red"])
def test_malformed_hints(text):
    with pytest.raises(HintError, match="--hint"):
        parse_hint(text)


def test_unknown_colour_in_hint_names_the_hint_and_suggests():
    with pytest.raises(HintError, match=r"'5,5=grean'.*did you mean green"):
        parse_hint("5,5=grean")


def test_hints_from_tuples_strings_and_coerce():
    h = Hints.coerce([(10, 20, "red"), (1, 2, "#00f", 4), "3,4=lime"])
    assert [p.rgb for p in h.points] == [(255, 0, 0), (0, 0, 255), (0, 255, 0)]
    assert h.points[1].radius == 4 and len(h) == 3
    assert Hints.coerce("3,4=lime").points[0].x == 3
    with pytest.raises(HintError):
        Hints.coerce([(1, 2)])
    with pytest.raises(HintError, match="did you mean"):
        Hints.coerce([(1, 2, "bleu")])


def test_points_outside_the_image_are_refused():
    h = Hints.from_points([(128, 5, "red")])
    with pytest.raises(HintError, match=r"128,5 is outside the photo \(128x96"):
        h.check(128, 96)
    Hints.from_points([(127, 95, "red")]).check(128, 96)
    with pytest.raises(HintError):
        Hints.from_points([(-1, 5, "red")]).check(128, 96)


# ----------------------------------------------------------------------------- hints images and rasterisation


def _layer(h: int, w: int) -> np.ndarray:
    a = np.zeros((h, w, 4), np.uint8)
    a[10:20, 20:40] = (255, 0, 0, 255)
    a[50:52, 60:90] = (0, 0, 255, 255)
    return a


def test_hints_image_rasterises_where_drawn(tmp_path):
    path = tmp_path / "hints.png"
    Image.fromarray(_layer(96, 128)).save(path)
    h = Hints.from_image(path)
    assert h.dense_mask.sum() == 10 * 20 + 2 * 30
    rgb, mask = h.rasterize(96, 128, 48, 64)  # half size
    assert mask[5:10, 10:20].all() and mask[25, 30:45].all()
    assert mask.sum() <= 5 * 10 + 2 * 16
    assert np.allclose(rgb[7, 15], (1, 0, 0)) and np.allclose(rgb[25, 35], (0, 0, 1))


def test_bad_hints_images(tmp_path):
    Image.fromarray(_layer(50, 60)).save(tmp_path / "small.png")
    with pytest.raises(HintError, match=r"60x50 but the photo is 128x96"):
        Hints.from_image(tmp_path / "small.png").check(128, 96)
    Image.new("RGB", (128, 96), "red").save(tmp_path / "opaque.png")
    with pytest.raises(HintError, match="no transparency"):
        Hints.from_image(tmp_path / "opaque.png")
    Image.new("RGBA", (128, 96), (0, 0, 0, 0)).save(tmp_path / "empty.png")
    with pytest.raises(HintError, match="no opaque pixels"):
        Hints.from_image(tmp_path / "empty.png")
    with pytest.raises(HintError, match="no such file"):
        Hints.from_image(tmp_path / "missing.png")


def test_point_rasterises_at_its_place():
    # same size render: a 3x3 patch centred on the pixel; half size: around the scaled position
    rgb, mask = Hints.from_points([(40, 30, "red")]).rasterize(96, 128, 96, 128)
    ys, xs = np.nonzero(mask)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (29, 31, 39, 41)
    assert np.allclose(rgb[30, 40], (1, 0, 0))
    _, mask = Hints.from_points([(80, 60, "red")]).rasterize(96, 128, 48, 64)
    ys, xs = np.nonzero(mask)
    assert abs(ys.mean() - 29.75) <= 0.5 and abs(xs.mean() - 39.75) <= 0.5
    _, mask = Hints.from_points([(64, 48, "red", 10)]).rasterize(96, 128, 96, 128)  # explicit radius (disc)
    assert 300 < mask.sum() < 330


def test_hint_chroma_is_taken_at_the_photos_luminance():
    # a bright yellow hint on a dark pixel: same hue, chroma scaled into the gamut at that luma
    y = torch.full((1, 1, 4, 4), 0.1)
    rgb = np.zeros((4, 4, 3), np.float32)
    rgb[...] = (1, 1, 0)
    uv = hint_uv(y, rgb)[0, :, 0, 0].numpy()
    raw = uv_of(rgb)[0, 0]
    assert np.linalg.norm(uv) < np.linalg.norm(raw)
    cos = uv @ raw / np.linalg.norm(uv) / np.linalg.norm(raw)
    assert cos > 0.999


# ----------------------------------------------------------------------------- learned hints (Zhang et al. 2017)


def test_learned_hints_change_the_output_and_reach_the_model_at_the_right_place(hint_colorizer, colour_photo, monkeypatch):
    seen = {}
    original = hint_colorizer.predict_uv

    def spy(y_low, options, hint_map=None):
        seen["map"] = hint_map
        return original(y_low, options, hint_map)

    monkeypatch.setattr(hint_colorizer, "predict_uv", spy)
    img = colour_photo.astype(np.float32) / 255
    plain = hint_colorizer(img)
    hinted = hint_colorizer(img, hints=[(100, 20, "red")], hint_method="model")
    m = seen["map"]
    assert m.shape == (1, 3, 96, 128)  # render size 128: the photo's own size
    ys, xs = np.nonzero(np.asarray(m[0, 2]))  # the hint map is a numpy array (the image path is torch-free)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (19, 21, 99, 101)
    a, b = m[0, 0, 20, 100].item(), m[0, 1, 20, 100].item()
    assert a > 0.2 and a > abs(b)  # red: positive a*, in the model's units (a* / 110)
    assert np.abs(m[0, :, 50, 50]).sum() == 0
    # random weights: the hint's effect is small but real, and strongest around the hint
    diff = np.abs(hinted - plain).max(axis=-1)
    assert diff.max() > 1e-6
    assert diff[10:40, 85:120].mean() > 10 * diff[60:, :40].mean()


def test_hint_map_uses_the_models_normalised_chroma(hint_colorizer):
    y = torch.full((1, 1, 8, 8), 0.5)
    rgb = np.zeros((8, 8, 3), np.float32)
    rgb[...] = (0.2, 0.4, 0.9)
    mask = np.zeros((8, 8), bool)
    mask[2, 3] = True
    m = hint_map(hint_colorizer, y, rgb, mask)
    assert m[0, 2].sum() == 1 and m[0, :2, 0, 0].abs().sum() == 0  # a tensor y_low gives a tensor back
    assert m[0, 1, 2, 3] < -0.2  # blue: negative b*


def test_method_model_needs_a_hints_model(plain_colorizer, colour_photo):
    with pytest.raises(HintError, match="not trained with hints"):
        plain_colorizer(colour_photo, hints=[(5, 5, "red")], hint_method="model")
    with pytest.raises(HintError, match="unknown hint method"):
        plain_colorizer(colour_photo, hints=[(5, 5, "red")], hint_method="magic")


# ----------------------------------------------------------------------------- propagation (Levin et al. 2004)


def test_propagate_spreads_within_a_region_and_stops_at_an_edge():
    y = two_regions()[..., 0]
    target = np.zeros((64, 96, 2), np.float32)
    target[30, 10] = (0.3, -0.2)
    mask = np.zeros((64, 96), bool)
    mask[30, 10] = True
    x = propagate(y, target, mask)
    assert np.allclose(x[30, 10], (0.3, -0.2), atol=0.01)
    left = x[:, : 48 - 2]
    assert (left[..., 0] > 0.2).all() and (left[..., 1] < -0.13).all()  # the whole left region takes it
    assert np.abs(x[:, 48:]).max() < 0.01  # nothing crosses the edge


def test_propagate_with_many_hints_interpolates():
    y = np.linspace(0.2, 0.6, 80, dtype=np.float32)[None].repeat(40, 0)  # a smooth gradient
    target = np.zeros((40, 80, 1), np.float32)
    mask = np.zeros((40, 80), bool)
    target[20, 5], target[20, 75] = 0.2, 0.6
    mask[20, 5] = mask[20, 75] = True
    x = propagate(y, target, mask)[..., 0]
    assert 0.25 < x[20, 40] < 0.55 and x[20, 20] < x[20, 40] < x[20, 60]


def test_propagate_method_colours_near_the_hint_and_leaves_the_rest_automatic(plain_colorizer):
    # Before issue #16 this asserted the whole left region turned red and the right one stayed gray
    # (the global solve from gray); now a hint corrects the automatic result near it, within its region.
    img = two_regions()
    auto = uv_of(plain_colorizer(img))
    out = plain_colorizer(img, hints=[(12, 30, "red")], hint_method="propagate")
    uv = uv_of(out)
    red = uv_of(np.array([[[1, 0, 0]]], np.float32))[0, 0]
    at = uv[30, 12]
    assert at @ red / np.linalg.norm(at) / np.linalg.norm(red) > 0.95 and np.linalg.norm(at) > 0.05
    near = uv[24:37, 6:19]  # within 6 px: the hint's colour
    assert (near @ red / np.linalg.norm(red) > 0.6 * np.linalg.norm(at)).mean() > 0.95
    assert np.abs(uv[:, 52:] - auto[:, 52:]).max() < 0.02  # across the edge: the automatic result
    assert luma_ok(out, gray_of(img)) >= 0.99


def test_both_refines_the_prediction_towards_the_hint(plain_colorizer, colour_photo):
    auto = plain_colorizer.colorize_array(colour_photo)
    out = plain_colorizer.colorize_array(colour_photo, hints=[(40, 40, "blue")], hint_method="both")
    blue = uv_of(np.array([[[0, 0, 1]]], np.float32))[0, 0]
    d_auto = np.linalg.norm(uv_of(auto)[38:43, 38:43] - blue, axis=-1).mean()
    d_both = np.linalg.norm(uv_of(out)[38:43, 38:43] - blue, axis=-1).mean()
    assert d_both < d_auto
    assert np.abs(uv_of(out)[80:, 100:] - uv_of(auto)[80:, 100:]).max() < 0.02  # far away, behind edges: unchanged


@pytest.mark.parametrize("method", ["model", "propagate", "both"])
def test_luminance_is_preserved_with_hints(hint_colorizer, colour_photo, method):
    img = colour_photo.astype(np.float32) / 255
    out = hint_colorizer.colorize_array(img, hints=[(40, 40, "yellow"), (100, 80, "magenta"), (10, 10, "#0ff")], hint_method=method)
    assert out.shape == img.shape
    assert luma_ok(out, gray_of(img)) >= 0.99


def test_hints_image_through_the_api(plain_colorizer, colour_photo):
    layer = Image.fromarray(_layer(96, 128), "RGBA")
    out = plain_colorizer(Image.fromarray(colour_photo), hints=layer, hint_method="propagate")
    assert out.size == (128, 96)
    assert np.asarray(out)[15, 30, 0] > np.asarray(out)[15, 30, 2]  # the red stroke


# ----------------------------------------------------------------------------- hints act locally (issue #16)


def two_discs(h: int = 96, w: int = 128) -> np.ndarray:
    """Gray HxWx3: two separated discs of the same gray (0.3, radius 14) on a lighter background (0.75)."""
    yy, xx = np.mgrid[0:h, 0:w]
    y = np.full((h, w), 0.75, np.float32)
    for cy, cx in ((30, 28), (66, 100)):
        y[(yy - cy) ** 2 + (xx - cx) ** 2 < 14**2] = 0.3
    return np.repeat(y[..., None], 3, axis=-1)


def disc_mask(h: int, w: int, cy: int, cx: int, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r * r


@pytest.fixture(scope="module")
def default_colorizer():
    """The bundled model (onnxruntime, a hints model) at the photo's own size."""
    return Colorizer.from_pretrained("default", render_size=128)


def test_hint_reach_fills_its_region_fades_and_stops_at_an_edge():
    y = two_regions()[..., 0]
    mask = np.zeros(y.shape, bool)
    mask[29:32, 9:12] = True
    reach = hint_reach(y, mask)
    assert reach.shape == y.shape and reach.dtype == np.float32
    assert reach[mask].min() == 1.0 and reach[25:36, 5:16].min() > 0.8  # the hint's neighbourhood: full strength
    assert reach[30, 11] > reach[30, 25] > reach[30, 40] > reach[30, 47]  # fades with distance
    flat = hint_reach(np.full_like(y, 0.3), mask)
    assert flat[:, 48:].max() > 0.1  # without the edge the hint would still act there ...
    assert reach[:, 48:].max() < 0.01 * flat[:, 48:].max()  # ... a luma step of 0.5 stops it
    assert hint_reach(y, np.zeros(y.shape, bool)).max() == 0


def test_hint_reach_stops_where_the_model_sees_another_object_even_without_a_luma_edge():
    y = np.full((40, 80), 0.5, np.float32)  # flat gray: the luma alone cannot tell the halves apart
    mask = np.zeros(y.shape, bool)
    mask[20, 20] = True
    features = np.zeros((2, 40, 80), np.float32)
    features[0, :, 40:] = 0.6  # what the model sees changes at x = 40 (a Hellinger step of 0.6)
    plain = hint_reach(y, mask, length=30.0)
    bounded = hint_reach(y, mask, length=30.0, features=features, object_edge=100.0)
    assert np.allclose(bounded[:, :40], plain[:, :40])  # the hint's own object: unchanged
    assert plain[20, 45] > 0.4 and bounded[20, 45] < 1e-3  # across the boundary: stopped
    assert np.array_equal(hint_reach(y, mask, length=30.0, features=features, object_edge=0.0), plain)


def test_object_features_follow_the_models_distributions(default_colorizer):
    y_low = np.ascontiguousarray(np.tile(np.linspace(0.1, 0.9, 64, dtype=np.float32), (48, 1)))[None, None]
    f = object_features(default_colorizer, y_low, dims=4)
    assert f is not None and f.shape == (4, 48, 64) and np.isfinite(f).all()
    assert f.std(axis=(1, 2))[0] > 0  # a brightness ramp is not one thing to the model: the features vary
    assert f.std(axis=(1, 2))[0] >= f.std(axis=(1, 2))[-1]  # leading principal direction first


def test_object_features_are_none_without_bin_probabilities():
    regression = Colorizer(create_model("compact-small", head="regression"))
    assert object_features(regression, np.full((1, 1, 16, 16), 0.5, np.float32)) is None


@pytest.mark.parametrize("method", ["model", "propagate", "both"])
def test_hint_stays_in_its_disc_not_the_other_disc_of_the_same_gray(default_colorizer, method):
    img = two_discs()
    auto = uv_of(default_colorizer.colorize_array(img))
    out = default_colorizer.colorize_array(img, hints=[(28, 30, "crimson")], hint_method=method)
    uv = uv_of(out)
    crimson = uv_of(np.array([[ImageColor.getrgb("crimson")]], np.float32) / 255)[0, 0]
    unit = crimson / np.linalg.norm(crimson)
    first, second = disc_mask(96, 128, 30, 28, 11), disc_mask(96, 128, 66, 100, 14)
    moved = (uv - auto) @ unit
    if method != "model":  # propagation meets the hint's colour in its whole disc (the learned hints just push towards it)
        assert (uv[first] @ unit > 0.7 * np.linalg.norm(crimson)).mean() > 0.93
    assert np.median(moved[first]) > 0.02
    assert np.abs(uv[second] - auto[second]).max() < 0.005  # same gray, far away: the automatic result
    background = ~disc_mask(96, 128, 30, 28, 22)
    assert (np.abs(uv - auto).max(axis=-1)[background] < 0.01).mean() > 0.98  # across the disc's edge: unchanged
    assert luma_ok(out, gray_of(img)) >= 0.99


@pytest.mark.parametrize("method", ["model", "propagate", "both"])
def test_one_wrong_hint_leaves_most_of_the_photo_as_the_automatic_result(default_colorizer, colour_photo, method):
    from colorize.metrics import ciede2000, rgb_to_lab_np

    img = colour_photo.astype(np.float32) / 255
    auto = default_colorizer.colorize_array(img)
    out = default_colorizer.colorize_array(img, hints=[(100, 20, "magenta")], hint_method=method)  # on the sky
    changed = ciede2000(rgb_to_lab_np(out), rgb_to_lab_np(auto)) > 5
    assert changed[15:26, 95:106].mean() > 0.9  # it does act where it was put
    assert changed.mean() < 0.45  # the sky is a smooth 60% of this photo: the hint fades out within it
    assert not changed[:60, :28].any()  # the far end of the sky (72+ px away, ~1.9 reach lengths, plus its texture) keeps its colour
    assert not changed[65:, :].any() and not changed[disc_mask(96, 128, 40, 40, 13)].any()  # ground and the red disc keep theirs


def test_many_hints_still_cover_the_photo(default_colorizer, colour_photo):
    img = colour_photo.astype(np.float32) / 255
    truth_uv = uv_of(img)
    auto = uv_of(default_colorizer.colorize_array(img))
    points = [(x, y, tuple(int(v) for v in colour_photo[y, x])) for y in range(8, 96, 20) for x in range(8, 128, 24)]
    out = uv_of(default_colorizer.colorize_array(img, hints=points, hint_method="both"))
    err_auto = np.linalg.norm(auto - truth_uv, axis=-1).mean()
    err_hints = np.linalg.norm(out - truth_uv, axis=-1).mean()
    assert err_hints < 0.5 * err_auto


# ----------------------------------------------------------------------------- command line


@pytest.fixture()
def photo_file(tmp_path, colour_photo):
    p = tmp_path / "photo.png"
    Image.fromarray(colour_photo).save(p)
    return p


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, err


def test_cli_hints_end_to_end(tmp_path, photo_file, tiny_hint_model_path, capsys):
    out = tmp_path / "out.png"
    code, err = _run(capsys, photo_file, "-o", out, "-m", tiny_hint_model_path, "--render-size", "128",
                     "--hint", "40,40=#b22222", "--hint", "100,20=skyblue", "--hint-method", "both")
    assert code == 0, err
    assert Image.open(out).size == (128, 96)
    Image.fromarray(_layer(96, 128)).save(tmp_path / "h.png")
    code, err = _run(capsys, photo_file, "-o", tmp_path / "out2.png", "-m", tiny_hint_model_path, "--render-size", "128",
                     "--hints", tmp_path / "h.png")
    assert code == 0, err


@pytest.mark.parametrize(
    "extra, code, text",
    [
        (["--hint", "10,10=skyblu"], 2, "did you mean skyblue"),
        (["--hint", "10;10=red"], 2, "expected X,Y=COLOR"),
        (["--hint", "500,10=red"], 2, "photo.png: hint 500,10 is outside the photo (128x96"),
        (["--hints", "small.png"], 2, "small.png is 60x50 but the photo is 128x96"),
        (["--hints", "nohints.png"], 1, "nohints.png: no such file"),
        (["--reference-strength", "0.5"], 2, "needs --reference"),
    ],
)
def test_cli_bad_hints(tmp_path, photo_file, tiny_hint_model_path, capsys, monkeypatch, extra, code, text):
    monkeypatch.chdir(tmp_path)
    Image.fromarray(_layer(50, 60)).save(tmp_path / "small.png")
    got, err = _run(capsys, photo_file, "-o", tmp_path / "o.png", "-m", tiny_hint_model_path, "--render-size", "64", *extra)
    assert got == code
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("colorize: error: ") and text in lines[0], err
    assert not (tmp_path / "o.png").exists()


def test_cli_model_method_needs_hints_model(tmp_path, photo_file, tiny_model_path, capsys):
    code, err = _run(capsys, photo_file, "-o", tmp_path / "o.png", "-m", tiny_model_path, "--hint", "1,1=red", "--hint-method", "model")
    assert code == 2 and "not trained with hints" in err and len(err.strip().splitlines()) == 1


def test_a_hinted_photo_runs_the_automatic_forward_pass_once(tiny_hint_model_path, colour_photo, monkeypatch):
    """The consensus decode and the hints' object features want the same automatic logits: one pass
    serves both (Colorizer.predict_logits), and another input is never answered from the memo."""
    c = Colorizer.from_pretrained(tiny_hint_model_path, device="cpu", render_size=128, consensus_radius=2)
    calls = []
    real = c.predictor.predict_logits
    monkeypatch.setattr(c.predictor, "predict_logits", lambda x: calls.append(x.copy()) or real(x))
    c.colorize_array(colour_photo, hints=[(40, 40, "blue")], hint_method="propagate")
    assert len(calls) == 1  # automatic decode + object features
    calls.clear()
    c.colorize_array(colour_photo, hints=[(40, 40, "blue")], hint_method="both")
    # the same photo's automatic logits come from the memo; the hinted input gets its own pass
    assert len(calls) == 1 and calls[0][:, 3].max() == 1
    hinted = c.predict_logits(calls[0])
    assert not hinted.flags.writeable  # shared between callers: read-only
    assert np.array_equal(hinted, real(calls[0])) and len(calls) == 1
