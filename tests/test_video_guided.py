"""Films guided by hints and a reference (issue 16): tiny generated clips, no ../shared data.

The clip: a bright disc on a darker, softly textured background, the camera panning 3 px per frame,
then a cut to a different (inverted, darker) shot. A hint on the disc must follow it through the shot
and end at the cut.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from colorize import cli  # noqa: E402
from colorize.errors import HintError, OptionError  # noqa: E402
from colorize.guidance import film_guidance, read_hints_json  # noqa: E402
from colorize.video import TemporalColorizer, colorize_video  # noqa: E402
from test_video import make_clip, probe  # noqa: E402

H, W = 48, 64
RENDER = 64  # render size = frame size: render pixels are frame pixels
STEP = 3  # camera pan, pixels per frame (the picture moves left)
DISC = (22, 24, 7)  # centre x, y and radius of the disc on frame 0
SHOT = 6  # frames before the cut


def _scene(dark: bool = False) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W + STEP * SHOT]
    texture = 12 * np.sin(xx / 3.0) * np.cos(yy / 4.0)  # soft texture the optical flow can lock on to
    gray = 70 + texture
    cx, cy, r = DISC
    gray[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = 210
    if dark:
        gray = (255 - gray) // 3
    g = np.clip(gray, 0, 255).astype(np.uint8)
    return np.dstack([g, g, g])


def _clip_frames(cut: bool = True) -> list[np.ndarray]:
    a = _scene()
    b = _scene(dark=True)
    shot = [np.ascontiguousarray(a[:, STEP * i : STEP * i + W]) for i in range(SHOT)]
    after = [np.ascontiguousarray(b[:, STEP * i : STEP * i + W]) for i in range(3)] if cut else []
    return shot + after


@pytest.fixture(scope="module")
def colorizer(tiny_model_path):
    from colorize.pipeline import Colorizer

    return Colorizer.from_pretrained(tiny_model_path, device="cpu", render_size=RENDER)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("guided") / "clip.mp4", _clip_frames(), audio=None)


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    """Two shots of two frames each."""
    frames = _clip_frames()
    return make_clip(tmp_path_factory.mktemp("guided") / "short.mp4", frames[:2] + frames[SHOT : SHOT + 2], audio=None)


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _window(frame: np.ndarray, x: float, y: float, r: int = 2) -> np.ndarray:
    xi, yi = int(round(x)), int(round(y))
    return frame[max(0, yi - r) : yi + r + 1, max(0, xi - r) : xi + r + 1].reshape(-1, 3).astype(np.float32)


def _chroma_change(a: np.ndarray, b: np.ndarray, x: float, y: float) -> float:
    """Mean change of the colour (not the luma: both keep the frame's) in a 5x5 window."""
    d = _window(a, x, y) - _window(b, x, y)
    return float(np.abs(d - d.mean(axis=1, keepdims=True)).mean())


# ----------------------------------------------------------------------------- hints follow the motion


def test_hints_follow_the_motion_through_the_shot_and_end_at_the_cut(colorizer):
    frames = _clip_frames()
    cx, cy, _ = DISC
    plain = TemporalColorizer(colorizer).colorize_frames(frames)
    tc = TemporalColorizer(colorizer, guidance=film_guidance(hints=[f"{cx},{cy}=blue"]))
    positions = []
    guided = []
    for f in frames:  # one frame at a time, to see where the hint is on each
        guided.append(tc.colorize_frames([f])[0])
        positions.append(tc._tracks[0].pos[0].tolist() if tc._tracks and len(tc._tracks[0].pos) else None)
    assert tc.scene_cuts == [SHOT]
    # the point moved with the picture: 3 px left per frame (within a pixel), and died at the cut
    for t in range(SHOT):
        assert positions[t] is not None
        assert positions[t][0] == pytest.approx(cx - STEP * t, abs=1.0) and positions[t][1] == pytest.approx(cy, abs=1.0)
    assert positions[SHOT:] == [None] * (len(frames) - SHOT)
    u8 = lambda a: (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)  # noqa: E731
    for t in range(SHOT):
        here = _chroma_change(u8(guided[t]), u8(plain[t]), cx - STEP * t, cy)
        assert here > 8, f"frame {t}: the hint did not colour the disc where it moved ({here:.1f})"
        blue = _window(u8(guided[t]), cx - STEP * t, cy).mean(0)
        assert blue[2] > blue[0] + 20, f"frame {t}: the disc is not blue: {blue}"
        if t >= 3:  # by now the disc has left its first place: the change is with the disc, not where it was
            there = _chroma_change(u8(guided[t]), u8(plain[t]), cx, cy)
            assert here > 2 * there, f"frame {t}: change {here:.1f} at the disc, {there:.1f} where it was on frame 0"
    # after the cut the hint is gone: the new shot is coloured as without hints
    for t in range(SHOT, len(frames)):
        assert np.abs(u8(guided[t]).astype(int) - u8(plain[t]).astype(int)).max() <= 2
    # the same film in batches (motion runs ahead of the blending there; the cut is inside the second): the same frames
    tc2 = TemporalColorizer(colorizer, guidance=film_guidance(hints=[f"{cx},{cy}=blue"]))
    batch = np.concatenate([tc2.colorize_frames(frames[:3]), tc2.colorize_frames(frames[3:])])
    assert np.abs(u8(batch).astype(int) - u8(np.stack(guided)).astype(int)).max() <= 2


def test_hints_on_a_later_frame_leave_the_earlier_frames_alone(colorizer):
    frames = _clip_frames(cut=False)
    cx, cy, _ = DISC
    plain = TemporalColorizer(colorizer).colorize_frames(frames)
    tc = TemporalColorizer(colorizer, guidance=film_guidance(hints=[f"{cx - 2 * STEP},{cy}=blue"], hint_frame=2))
    guided = tc.colorize_frames(frames)
    assert np.abs(guided[:2] - plain[:2]).max() < 2 / 255
    assert _chroma_change((guided[4] * 255).astype(np.uint8), (plain[4] * 255).astype(np.uint8), cx - 4 * STEP, cy) > 8
    assert tc.guided_frames == SHOT - 2


def test_a_hints_image_is_carried_too(colorizer):
    frames = _clip_frames(cut=False)
    cx, cy, _ = DISC
    layer = np.zeros((H, W, 4), np.uint8)
    layer[cy - 2 : cy + 3, cx - 2 : cx + 3] = (0, 200, 0, 255)  # a green stroke on the disc
    plain = TemporalColorizer(colorizer).colorize_frames(frames)
    tc = TemporalColorizer(colorizer, guidance=film_guidance(hints=layer))
    guided = [(g * 255).astype(np.uint8) for g in tc.colorize_frames(frames)]
    for t in (0, 3, 5):
        x = cx - STEP * t
        assert _chroma_change(guided[t], (plain[t] * 255).astype(np.uint8), x, cy) > 8
        g = _window(guided[t], x, cy).mean(0)
        assert g[1] > g[0] + 10 and g[1] > g[2] + 10, f"frame {t}: the stroke's green did not follow the disc: {g}"


# ----------------------------------------------------------------------------- the hints file


def test_hints_json_dict_and_list_forms(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"0": ["10,12=red", [3, 4, "#00ff00", 5]], "4": "20,20=skyblue"}))
    (tmp_path / "b.json").write_text(json.dumps([{"frame": 0, "hints": ["10,12=red", [3, 4, "#00ff00", 5]]},
                                                 {"frame": 4, "hints": ["20,20=skyblue"]}]))
    a, b = read_hints_json(tmp_path / "a.json"), read_hints_json(tmp_path / "b.json")
    assert sorted(a) == sorted(b) == [0, 4]
    assert a[0].points == b[0].points and a[0].points[1].radius == 5 and a[0].points[1].rgb == (0, 255, 0)
    assert a[4].points[0].rgb == (135, 206, 235)
    # a hints image named in the file, relative to the file's folder
    from PIL import Image

    layer = np.zeros((H, W, 4), np.uint8)
    layer[5:8, 5:8] = (255, 0, 0, 255)
    Image.fromarray(layer, "RGBA").save(tmp_path / "strokes.png")
    (tmp_path / "c.json").write_text(json.dumps({"3": ["strokes.png", "1,1=blue"]}))
    c = read_hints_json(tmp_path / "c.json")[3]
    assert c.dense_mask is not None and c.dense_mask.sum() == 9 and len(c.points) == 1


@pytest.mark.parametrize("content, problem", [
    ('{"0": ["10,10=red"', "not valid JSON (line 1"),
    ('{"zero": ["10,10=red"]}', "'zero' is not a frame number"),
    ('{"-3": ["10,10=red"]}', "'-3' is not a frame number"),
    ('{"0": []}', "frame 0: expected a non-empty list"),
    ('{"0": ["10,10=reddish-ish"]}', "frame 0: '10,10=reddish-ish': unknown colour"),
    ('{"0": ["10;10=red"]}', "frame 0: '10;10=red': expected X,Y=COLOR"),
    ('{"0": [[1, 2]]}', "frame 0: hint [1, 2]: expected (x, y, colour)"),
    ('{"0": ["missing.png"]}', "frame 0: missing.png: no such file"),
    ('[{"frame": 1, "hints": ["1,1=red"]}, {"frame": 1, "hints": ["2,2=red"]}]', "frame 1 is given twice"),
    ('[{"frame": 1}]', "entry 0: expected"),
    ('"0: 10,10=red"', "expected {"),
    ("{}", "no frames in the file"),
])
def test_a_malformed_hints_file_is_one_line_naming_it(tmp_path, clip, tiny_model_path, capsys, content, problem):
    bad = tmp_path / "hints.json"
    bad.write_text(content)
    with pytest.raises(HintError) as info:
        read_hints_json(bad)
    assert str(info.value).startswith(f"{bad}: ") and problem in str(info.value) and "\n" not in str(info.value)
    code, _, err = _cli(capsys, str(clip), "-o", str(tmp_path / "o.mp4"), "--hints-json", str(bad), "--model", tiny_model_path,
                        "--render-size", str(RENDER), "-q")
    assert code == 2 and err.strip() == f"colorize: error: {info.value}"
    assert not (tmp_path / "o.mp4").exists()


def test_a_missing_hints_file(tmp_path, clip, tiny_model_path, capsys):
    code, _, err = _cli(capsys, str(clip), "-o", str(tmp_path / "o.mp4"), "--hints-json", str(tmp_path / "nope.json"),
                        "--model", tiny_model_path, "-q")
    assert code == 2 and err.strip() == f"colorize: error: {tmp_path / 'nope.json'}: no such file"


# ----------------------------------------------------------------------------- the frame number


def test_hint_frame_out_of_range_is_one_line(tmp_path, clip, colorizer, tiny_model_path, capsys):
    n = len(_clip_frames())
    common = ["--model", tiny_model_path, "--render-size", str(RENDER), "-q"]
    code, _, err = _cli(capsys, str(clip), "-o", str(tmp_path / "o.mp4"), "--hint", "5,5=red", "--hint-frame", str(n), *common)
    assert code == 2 and err.strip() == f"colorize: error: {clip}: hints for frame {n}, but the film has {n} frames (0-{n - 1})"
    for bad in ("-1", "2.5", "first"):
        code, _, err = _cli(capsys, str(clip), "-o", str(tmp_path / "o.mp4"), "--hint", "5,5=red", "--hint-frame", bad, *common)
        assert code == 2 and err.strip().startswith(f"colorize: error: --hint-frame '{bad}': must be a whole frame number")
    (tmp_path / "late.json").write_text(json.dumps({"1": ["5,5=red"], "400": ["5,5=blue"]}))
    code, _, err = _cli(capsys, str(clip), "-o", str(tmp_path / "o.mp4"), "--hints-json", str(tmp_path / "late.json"), *common)
    assert code == 2 and err.strip() == f"colorize: error: {clip}: hints for frame 400, but the film has {n} frames (0-{n - 1})"
    code, _, err = _cli(capsys, str(clip), "-o", str(tmp_path / "o.mp4"), "--hint", f"{W},5=red", *common)
    assert code == 2 and err.strip().startswith("colorize: error: hint 64,5 is outside frame 0 of") and err.count("\n") == 1
    assert not (tmp_path / "o.mp4").exists()
    with pytest.raises(HintError, match=f"hints for frame {n}, but the film has {n} frames"):
        colorize_video(clip, tmp_path / "o.mp4", colorizer, progress=False, hints=["5,5=red"], hint_frame=n)
    with pytest.raises(OptionError, match="hint_frame"):
        colorize_video(clip, tmp_path / "o.mp4", colorizer, progress=False, hints=["5,5=red"], hint_frame=-1)
    assert not (tmp_path / "o.mp4").exists()


def test_hint_frame_past_the_end_of_a_film_that_does_not_say_its_length(tmp_path, colorizer):
    from PIL import Image

    frames = tmp_path / "frames"
    frames.mkdir()
    for i, f in enumerate(_clip_frames(cut=False)):
        Image.fromarray(f).save(frames / f"{i:03d}.png")
    with pytest.raises(HintError, match=f"hints for frame 9, but the film has {SHOT} frames"):
        colorize_video(frames, tmp_path / "o.mp4", colorizer, progress=False, hints={9: ["5,5=red"]})
    assert not (tmp_path / "o.mp4").exists()


# ----------------------------------------------------------------------------- reference, refusals, API = CLI


def test_reference_changes_the_film(tmp_path, short_clip, colorizer, tiny_model_path, capsys):
    clip = short_clip
    from PIL import Image

    yy, xx = np.mgrid[0:40, 0:60]
    ref = np.dstack([np.full_like(xx, 220), 60 + yy, 40 + xx // 2]).astype(np.uint8)  # warm reds and oranges
    Image.fromarray(ref).save(tmp_path / "ref.png")
    common = ["--model", tiny_model_path, "--render-size", str(RENDER), "-q"]
    assert _cli(capsys, str(clip), "-o", str(tmp_path / "plain.mp4"), *common)[0] == 0
    code, _, err = _cli(capsys, str(clip), "-o", str(tmp_path / "ref.mp4"), "--reference", str(tmp_path / "ref.png"), *common)
    assert code == 0, err
    plain, refd = probe(tmp_path / "plain.mp4")["rgb"], probe(tmp_path / "ref.mp4")["rgb"]
    assert len(refd) == len(plain)
    for t in range(len(plain)):  # every frame of both shots takes the reference's colours
        diff = np.abs(refd[t].astype(int) - plain[t].astype(int)).mean()
        assert diff > 3, f"frame {t}: the reference changed the colours by only {diff:.2f}"
    report = colorize_video(clip, tmp_path / "api.mp4", colorizer, progress=False, reference=tmp_path / "ref.png")
    assert report.guided_frames == len(plain) and report.reference == str(tmp_path / "ref.png")
    assert np.array_equal(np.stack(probe(tmp_path / "api.mp4")["rgb"]), np.stack(refd))  # API = CLI
    code, _, err = _cli(capsys, str(clip), "-o", str(tmp_path / "g.mp4"), "--reference", str(tmp_path / "missing.png"), *common)
    assert code == 1 and err.count("\n") == 1 and "missing.png" in err


@pytest.mark.parametrize("argv, message", [
    (["--quality", "80"], "--quality: {out} is a video file (its quality is --crf); --quality is for photos and JPEG/WebP frames"),
    (["--format", "jpg"], "--format jpg: {out} is a video file; --format is for frame outputs (-o FOLDER or a pattern)"),
    (["--hint-method", "propagate"], "--hint-method needs hints (--hint, --hints or --hints-json)"),
    (["--reference-strength", "0.5"], "--reference-strength needs --reference PATH"),
    (["--hint-frame", "2"], "--hint-frame needs --hint or --hints (the hints to put on that frame)"),
    (["--hint", "5,5=red", "--reference", "{ref}", "--reference-strength", "1.5"], "--reference-strength 1.5: must be between 0 and 1"),
    (["--hint", "5,5=nocolour"], "--hint '5,5=nocolour': unknown colour 'nocolour'"),
])
def test_options_a_film_cannot_use_are_one_line(tmp_path, clip, tiny_model_path, capsys, argv, message):
    from PIL import Image

    Image.fromarray(np.dstack([np.full((8, 8), 200), np.zeros((8, 8)), np.full((8, 8), 90)]).astype(np.uint8)).save(tmp_path / "r.png")
    out = tmp_path / "o.mp4"
    argv = [a.replace("{ref}", str(tmp_path / "r.png")) for a in argv]
    code, _, err = _cli(capsys, str(clip), "-o", str(out), *argv, "--model", tiny_model_path, "-q")
    assert code == 2, err
    assert err.count("\n") == 1 and err.strip().startswith(f"colorize: error: {message.format(out=out)}")
    assert not out.exists()


def test_film_options_refused_for_photos_and_quality_used_for_jpeg_frames(tmp_path, clip, tiny_model_path, capsys):
    from PIL import Image

    Image.fromarray(np.full((20, 30), 120, np.uint8)).save(tmp_path / "p.png")
    for opt in (["--hint-frame", "1", "--hint", "2,2=red"], ["--hints-json", "h.json"]):
        code, _, err = _cli(capsys, str(tmp_path / "p.png"), *opt, "--model", tiny_model_path, "-q")
        assert code == 2 and "only for films" in err and err.count("\n") == 1
    common = ["--model", tiny_model_path, "--render-size", str(RENDER), "-q"]
    sizes = {}
    for q in ("30", "95"):
        code, _, err = _cli(capsys, str(clip), "-o", str(tmp_path / f"q{q}"), "--format", "jpg", "--quality", q, *common)
        assert code == 0, err
        sizes[q] = sum(p.stat().st_size for p in (tmp_path / f"q{q}").iterdir())
    assert sizes["30"] < sizes["95"]  # --quality reached the JPEG frames
    code, _, err = _cli(capsys, str(clip), "-o", str(tmp_path / "big.mp4"), "--max-pixels", "1000", *common)
    assert code == 1 and "more than the limit of 1000" in err


def test_api_and_cli_agree_on_hints(tmp_path, clip, colorizer, tiny_model_path, capsys):
    cx, cy, _ = DISC
    (tmp_path / "h.json").write_text(json.dumps({"3": [f"{cx - 3 * STEP},{cy}=orange"]}))
    code, out, err = _cli(capsys, str(clip), "-o", str(tmp_path / "cli.mp4"), "--hint", f"{cx},{cy}=blue", "--hint", "50,10,3=yellow",
                          "--hints-json", str(tmp_path / "h.json"), "--model", tiny_model_path, "--render-size", str(RENDER),
                          "--json")
    assert code == 0, err
    summary = json.loads(out)["outputs"][0]
    assert summary["hint_frames"] == [0, 3] and summary["guided_frames"] == SHOT and summary["scene_cuts"] == [SHOT]
    report = colorize_video(clip, tmp_path / "api.mp4", colorizer, progress=False,
                            hints={0: [(cx, cy, "blue"), (50, 10, "yellow", 3)], 3: [f"{cx - 3 * STEP},{cy}=orange"]})
    assert report.hint_frames == [0, 3] and report.guided_frames == SHOT
    assert np.array_equal(np.stack(probe(tmp_path / "api.mp4")["rgb"]), np.stack(probe(tmp_path / "cli.mp4")["rgb"]))


def test_a_film_frame_is_guided_as_the_same_photo_is(tmp_path, colorizer):
    """Temporal memory off: frame 0 with hints = the photo of frame 0 with the same hints."""
    from colorize.video import TemporalOptions

    frame = _clip_frames()[0]
    cx, cy, _ = DISC
    hints = [(cx, cy, "blue"), (50, 10, "yellow", 3)]
    tc = TemporalColorizer(colorizer, temporal=TemporalOptions(enabled=False), guidance=film_guidance(hints=hints))
    film = tc.colorize_frames([frame])[0]
    photo = colorizer.colorize_array(frame.astype(np.float32) / 255, hints=hints)
    assert np.abs(film - photo).max() < 3 / 255


def test_guided_film_without_torch(tmp_path, clip):
    """The default install (onnxruntime, no PyTorch) colours a film from hints and a reference."""
    pytest.importorskip("onnxruntime")
    from PIL import Image

    from test_no_torch import _env

    ref = np.dstack([np.full((30, 40), 200), np.linspace(0, 255, 40)[None].repeat(30, 0), np.full((30, 40), 60)]).astype(np.uint8)
    Image.fromarray(ref).save(tmp_path / "ref.png")
    run = subprocess.run([sys.executable, "-m", "colorize", str(clip), "-o", str(tmp_path / "o.mp4"), "--render-size", "64",
                          "--hint", f"{DISC[0]},{DISC[1]}=blue", "--reference", str(tmp_path / "ref.png"), "--json"],
                         capture_output=True, text=True, env=_env(tmp_path), timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout)["outputs"][0]
    assert out["guided_frames"] == len(_clip_frames()) and out["hint_frames"] == [0]


def test_hint_coordinates_are_those_of_the_frame_as_displayed(tmp_path, colorizer):
    """A phone video stored sideways (rotation metadata 90): the hint is where the user sees the disc."""
    frames = [_clip_frames(cut=False)[0]] * 3  # a still shot: the disc stays put
    clip = make_clip(tmp_path / "rot.mp4", frames, audio=None, rotation=90)
    cx, cy, _ = DISC
    k = 1  # the frame as displayed is np.rot90(stored, k), as TemporalColorizer.predict undoes the rotation
    mark = np.zeros((H, W), bool)
    mark[cy, cx] = True
    dy, dx = (int(v[0]) for v in np.nonzero(np.rot90(mark, k)))  # the disc centre as displayed
    plain = colorize_video(clip, tmp_path / "plain.mp4", colorizer, progress=False)
    guided = colorize_video(clip, tmp_path / "hint.mp4", colorizer, progress=False, hints=[(dx, dy, "blue")])
    assert plain.rotation == guided.rotation == 90
    a, b = probe(tmp_path / "plain.mp4")["rgb"][1], probe(tmp_path / "hint.mp4")["rgb"][1]  # stored orientation
    assert _chroma_change(b, a, cx, cy) > 8
    blue = _window(b, cx, cy).mean(0)
    assert blue[2] > blue[0] + 20
    with pytest.raises(HintError, match=f"outside frame 0 of .*\\({H}x{W}:"):  # displayed: H wide, W tall
        colorize_video(clip, tmp_path / "x.mp4", colorizer, progress=False, hints=[(H + 2, 5, "blue")])


def test_reference_frames_blend_with_their_own_strength(colorizer):
    """A film with a reference (and no hints) blends every frame with ``strength_with_reference``: the plain
    ``strength`` changes nothing there, that one does (a steadier film: a lower warp error)."""
    from colorize.video import TemporalOptions, temporal_warp_error

    frames = _clip_frames(cut=False)
    yy, xx = np.mgrid[0:40, 0:60]
    ref = np.dstack([np.full_like(xx, 220), 60 + yy, 40 + xx // 2]).astype(np.uint8)

    def film(**knobs) -> np.ndarray:
        tc = TemporalColorizer(colorizer, temporal=TemporalOptions(**knobs), guidance=film_guidance(reference=ref))
        return np.stack(tc.colorize_frames(frames))

    independent = film(strength=0.0, strength_with_reference=0.0)
    assert np.array_equal(film(strength=0.6, strength_with_reference=0.0), independent)
    steady = film(strength=0.0, strength_with_reference=0.9)
    assert not np.array_equal(steady, independent)
    flicker = {name: temporal_warp_error(list(films), frames)
               for name, films in (("steady", steady), ("independent", independent))}
    assert flicker["steady"] < flicker["independent"], flicker


def test_temporal_strength_on_the_command_line_sets_both():
    import argparse

    from colorize.cli.video import temporal_from_args
    from colorize.video import TemporalOptions

    t = temporal_from_args(argparse.Namespace(temporal_strength=0.5, scene_threshold=None, no_temporal=False))
    assert (t.strength, t.strength_with_reference) == (0.5, 0.5)
    d = temporal_from_args(argparse.Namespace(temporal_strength=None, scene_threshold=None, no_temporal=False))
    assert (d.strength, d.strength_with_reference) == (0.85, 0.92)
    with pytest.raises(ValueError, match="strength with a reference"):
        TemporalOptions(strength_with_reference=1.0)
