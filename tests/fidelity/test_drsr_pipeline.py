"""The DRSR data pipeline against fixtures made by running the official loader (damo-cv/MotionRGBD).

Every directory under ``$MOTIONSCOPE_FIXTURES`` (default ``../shared/fixtures/official``) whose
name starts with ``DRSR`` is one test id. A fixture that records ``pipeline.*`` outputs has its
raw frames (``inputs.frames``) written, losslessly, into the official rawframe layout its
config names; our ``rgbd_official`` dataset is built from the config's ``pipeline.args`` only
(:func:`official_data_args`) and must give the recorded frame indices, clip, heat map and the
dynamic/static maps of every kept window, within the recorded tolerances.
"""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from motionscope.data.rgbd import LAYOUTS, build_rgbd_official, official_data_args
from motionscope.data.rgbd_pipeline import to_network
from motionscope.fidelity import Fixture
from motionscope.motion.frp import window_maps
from motionscope.testing import fixture_params

PARAMS = fixture_params("DRSR")

pytestmark = pytest.mark.shared


def _write_layout(root, dataset: str, frames: torch.Tensor, labels: torch.Tensor, rgb: bool) -> None:
    """The fixture's videos as the official loader reads them (PNG bytes under the frame names,
    as the fixture generator wrote them), with a ``valid.txt`` split file."""
    lay = LAYOUTS[dataset]
    lines = []
    for b in range(frames.shape[0]):
        name = f"S001C001P001R001A{b + 1:03d}_rgb" if dataset == "NTU" else f"clip{b:03d}"
        folder = root / (lay.rgb_dir if rgb else lay.depth_dir) / (name if rgb else lay.depth_name(
            dataset, name))
        folder.mkdir(parents=True)
        tpl = lay.rgb_template if rgb else lay.depth_template
        start = lay.rgb_start if rgb else lay.depth_start
        for t, img in enumerate(frames[b].numpy()):
            ok, buf = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            assert ok
            (folder / tpl.format(start + t)).write_bytes(buf.tobytes())
        lines.append(f"{name} {frames.shape[1]} {int(labels[b])}")
    (root / "valid.txt").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("path", PARAMS)
def test_pipeline_matches_official(path, tmp_path):
    fx = Fixture.load(path)
    specs = fx.output_specs("pipeline.")
    if not specs:
        pytest.skip(f"{fx.name}: records no pipeline.* outputs (its inputs were made by the "
                    "official loader, but the pipeline is covered by fixtures that record it)")
    pipe = fx.config["pipeline"]
    args = official_data_args(pipe["args"])
    if args["modality"] != "rgb":
        pytest.skip(f"{fx.name}: pipeline fixture of modality {args['modality']!r}; only RGB "
                    "pipelines can be rebuilt from inputs.frames")
    frames = fx.input("frames")
    labels = fx.input("label")
    dataset = args.pop("dataset")
    _write_layout(tmp_path, dataset, frames, labels, rgb=True)
    cfg = SimpleNamespace(name="rgbd_official", root=str(tmp_path), num_classes=int(labels.max()) + 1,
                          args={**args, "dataset": dataset, "list": "valid.txt", "min_frames": 17})
    training = pipe.get("phase", "valid").split()[0] == "train"
    ds = build_rgbd_official(cfg, "valid", training=training)
    assert len(ds) == frames.shape[0]
    got: dict[str, list[torch.Tensor]] = {}
    w = args["window"]
    for i in range(len(ds)):
        s = ds.load(i)
        got.setdefault("pipeline.frame_indices", []).append(torch.from_numpy(s["indices"]))
        got.setdefault("pipeline.clip", []).append(to_network(s["rgb"]))
        got.setdefault("pipeline.heatmap", []).append(s["rgb_heat"])
        dyn, static = window_maps(s["rgb"][None], w)
        got.setdefault("pipeline.dynamic", []).append(dyn[0])
        got.setdefault("pipeline.static", []).append(static[0])
        assert ds[i]["label"] == int(labels[i])
    failures = fx.mismatches({k: torch.stack(v) for k, v in got.items()}, specs)
    assert not failures, "\n".join(failures)


def test_official_args_cover_each_dataset():
    """The argument mapping uses only official names and picks the per-dataset quirks."""
    nv = official_data_args({"dataset": "NvGesture", "type": "K", "w": 4, "resize": "(256, 256)"})
    assert nv["modality"] == "depth" and nv["window"] == 4 and nv["test_crop_offset"] == [32, 32]
    assert nv["resize"] == [256, 256] and nv["train_crop_low"] == 10
    ntu = official_data_args({"dataset": "NTU", "type": "M", "Network": "FusionNet"})
    assert ntu["modality"] == "fusion" and ntu["depth_norm"] == "legacy" and ntu["depth_roi"]
    assert np.isclose(ntu["flip"], 0.5)
