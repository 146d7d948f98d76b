"""B-KinD keypoint discovery as a task: train (the engine's Trainer, losses only), extract
keypoints from videos in batches, and render them on the frames.

``extract`` reads every frame as the run's training data read it (``data.args`` image size,
crop, grayscale: :func:`motionscope.data.pairs.input_settings`), runs ``model.detect`` on
batches of frames (or of per-agent crops in box mode), maps keypoints and covariances back to
frame pixels and writes per video the files of :mod:`motionscope.io.tracks`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError, ConfigError, DataError
from ..progress import progress

__all__ = ["train", "load_detector", "extract", "extract_source", "for_extraction", "render", "input_sources"]


def train(preset: str, overrides: list[str] | None = None, **kw) -> dict:
    """Train a B-KinD preset (``task: pretrain``, ``model.name: bkind``) with the engine."""
    from ..config import load_config
    from .classify import train as _train

    cfg = load_config(preset, overrides)
    if cfg.model.name != "bkind":
        raise ConfigError(f"discover train needs a B-KinD preset (model.name: bkind), got "
                          f"model.name={cfg.model.name!r}; use `motionscope train` for it")
    if cfg.task != "pretrain":
        raise ConfigError("a B-KinD run has losses only: set task=pretrain")
    return _train(preset, overrides, **kw)


def load_detector(ckpt: str | os.PathLike, *, image_size: int | None = None,
                  num_keypoints: int | None = None, official_bn_train: bool = False):
    """``(model, data_args)`` of a motionscope B-KinD run/checkpoint, or of an official
    ``checkpoint.pth.tar`` (``image_size`` default 256; its K read from the file, and a
    ``num_keypoints`` that differs is one error naming the file and both counts)."""
    path = Path(ckpt)
    if not path.exists():
        raise CheckpointError(path, "checkpoint or run directory not found")
    state = None
    try:
        from ..engine.checkpoint import load_checkpoint

        state = load_checkpoint(path)
    except CheckpointError as e:
        if "not ours" not in str(e) and "motionscope" not in str(e) and path.is_dir():
            raise
    if state is not None and "config" in state:
        from ..config import config_from_dict
        from .runs import model_from_state

        cfg = config_from_dict(state["config"])
        if cfg.model.name != "bkind":
            raise CheckpointError(path, f"not a B-KinD run (model.name={cfg.model.name!r})")
        k = int(dict(cfg.model.args).get("num_keypoints", 10))
        if num_keypoints is not None and int(num_keypoints) != k:
            raise CheckpointError(state["_path"], f"checkpoint was trained with {k} keypoints, "
                                                  f"{num_keypoints} were asked for")
        model = model_from_state(cfg, state)
        data_args = dict(cfg.data.args)
        data_args.setdefault("image_size", int(dict(cfg.model.args).get("image_size", 256)))
    else:  # an official B-KinD checkpoint
        from ..models.bkind import BKinD, checkpoint_num_keypoints, load_pretrained
        from ..models.pretrained import read_pretrained

        sd, _ = read_pretrained(str(path), "bkind")
        k = checkpoint_num_keypoints(sd)
        if k is None:
            raise CheckpointError(path, "not a B-KinD checkpoint (no kptNet.predict head)")
        S = int(image_size or 256)
        model = BKinD(num_keypoints=int(num_keypoints or k), image_size=S, with_decoder=False,
                      perceptual="none")
        load_pretrained(model, str(path), system="bkind", partial=False)
        model.eval()
        data_args = {"image_size": S}
    model.official_bn_train = bool(official_bn_train)
    return model, data_args


def input_sources(path: str | os.PathLike) -> list[Path]:
    """A video file, a frame folder, or a folder of videos / frame folders."""
    from ..data.pairs import IMAGE_EXTS, list_sources

    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise DataError(p, "video, frame folder or folder of videos not found")
    if any(q.suffix.lower() in IMAGE_EXTS for q in p.iterdir()):
        return [p]
    found = list_sources(p)
    if not found:
        raise DataError(p, "holds no videos or frame folders")
    return found


def _box_file(boxes: str | None, src: Path, single: bool) -> str | None:
    if boxes is None:
        return None
    b = Path(boxes)
    if single and b.is_file():
        return str(b)
    p = src.parent / str(boxes).format(name=src.name, stem=src.stem)
    if not p.is_file():
        raise DataError(p, f"box/track file of {src} not found (--boxes {boxes!r}: a file for "
                           "one video, or a name template with {stem} / {name} for a folder)")
    return str(p)


#: extraction precisions: fp32 (default: the official numbers) or bf16 autocast (about twice as
#: fast on CPUs with AVX512-BF16 or AMX and on GPUs; keypoints within a few hundredths of a pixel)
PRECISIONS = ("fp32", "bf16")


def for_extraction(model, device: torch.device):
    """``model`` on ``device`` in channels-last memory format: oneDNN's (and cuDNN's)
    convolutions and upsampling run faster on it (~1.3x on CPU at batch 16); the numbers are
    the same within float rounding."""
    return model.to(device, memory_format=torch.channels_last)


def extract_source(model, src_path: str | os.PathLike, settings: dict, *, batch_size: int = 32,
                   boxes: str | None = None, device: torch.device | None = None,
                   box_args: dict | None = None, show_progress: bool = True,
                   precision: str = "fp32"):
    """The :class:`~motionscope.io.tracks.KeypointTrack` of one video (see the module doc);
    ``precision="bf16"``: the network under bfloat16 autocast (heatmap moments in float32)."""
    from ..data.pairs import FrameSource, covariance_to_frame, iter_batches, region_to_frame
    from ..io.boxes import check_frames, read_boxes
    from ..io.tracks import KeypointTrack

    device = device or torch.device("cpu")
    src = FrameSource(src_path)
    T, K, S = src.num_frames, model.num_keypoints, settings["image_size"]
    if S != model.image_size:
        settings = {**settings, "image_size": model.image_size}
        S = model.image_size
    box_arr, names = None, None
    if boxes is not None:
        track = check_frames(read_boxes(boxes, **(box_args or {})), T, src.path)
        box_arr, names = track.boxes, track.track_names
    M = 1 if box_arr is None else box_arr.shape[0]
    kp = np.full((M, T, K, 2), np.nan, np.float32)
    conf = np.zeros((M, T, K), np.float32)
    cov = np.full((M, T, K, 3), np.nan, np.float32)
    size = None
    bar = progress(total=T * M, desc=src.path.name, enabled=show_progress, unit="frame")
    for fidx, aidx, regs, x in iter_batches(src, settings, batch_size, box_arr):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = model.detect(x.to(device, memory_format=torch.channels_last))
        k = out["keypoints"].float().cpu().numpy()
        c = out["covariance"].float().cpu().numpy()
        kp[aidx, fidx] = region_to_frame(k, regs, S)
        cov[aidx, fidx] = covariance_to_frame(c, regs, S)
        conf[aidx, fidx] = out["confidence"].float().cpu().numpy()
        bar.update(len(fidx))
    bar.close()
    if src.kind == "video":
        size = src.size
    return KeypointTrack(kp, conf, cov, names, np.arange(T), src.fps, size, str(src.path),
                         {"boxes": boxes})


def extract(ckpt: str | os.PathLike, inputs: str | os.PathLike, out_dir: str | os.PathLike, *,
            boxes: str | None = None, batch_size: int = 32, official_bn_train: bool = False,
            image_size: int | None = None, num_keypoints: int | None = None,
            device: str = "auto", box_padding: float = 0.25, progress_bar: bool = True,
            precision: str = "fp32") -> dict:
    """Discovered keypoints of every video of ``inputs`` into ``out_dir`` (npz, DeepLabCut CSV,
    SLEAP analysis h5 per video, and ``extract.json``); ``boxes``: a box CSV or track file
    (one video) or a name template beside each video (``{stem}.slp``): box/multi-agent mode."""
    from ..data.pairs import input_settings
    from ..engine.trainer import resolve_device
    from ..fsutil import atomic_write_text
    from ..io.tracks import write_track_files

    if int(batch_size) < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "fp32" and official_bn_train:
        raise ConfigError("--official-bn reproduces the official extraction: it runs in fp32 only")
    model, data_args = load_detector(ckpt, image_size=image_size, num_keypoints=num_keypoints,
                                     official_bn_train=official_bn_train)
    dev = resolve_device(device)
    for_extraction(model, dev)
    settings = input_settings(data_args)
    srcs = input_sources(inputs)
    box_args = {"padding": float(box_padding),
                "square": bool(data_args.get("box_square", True)),
                "smooth": int(data_args.get("box_smooth", 1))}
    written = {}
    for s in srcs:
        track = extract_source(model, s, settings, batch_size=batch_size, device=dev,
                               boxes=_box_file(boxes, s, len(srcs) == 1), box_args=box_args,
                               show_progress=progress_bar, precision=precision)
        name = s.stem if s.is_file() else s.name
        written[name] = write_track_files(out_dir, name, track)
    summary = {"checkpoint": str(ckpt), "inputs": str(inputs), "num_keypoints": model.num_keypoints,
               "image_size": model.image_size, "official_bn_train": bool(official_bn_train),
               "precision": precision,
               "boxes": boxes, "videos": written}
    atomic_write_text(Path(out_dir) / "extract.json", json.dumps(summary, indent=2))
    return summary


# ----------------------------------------------------------------------------- rendering
_COLOURS = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
            (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
            (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
            (170, 255, 195)]


def draw_keypoints(frame: np.ndarray, kp: np.ndarray, cov: np.ndarray | None = None,
                   conf: np.ndarray | None = None, sigma: float = 2.0,
                   radius: int | None = None) -> np.ndarray:
    """``frame`` (H, W, 3) RGB with keypoints ``(M, K, 2)`` as dots and their covariance
    ellipses (``sigma`` standard deviations) drawn in one colour per keypoint."""
    import cv2

    img = np.ascontiguousarray(frame.copy())
    r = radius or max(2, int(round(min(img.shape[:2]) / 100)))
    kp = np.asarray(kp).reshape(-1, kp.shape[-2], 2)
    covs = None if cov is None else np.asarray(cov).reshape(-1, kp.shape[1], 3)
    for m in range(kp.shape[0]):
        for k in range(kp.shape[1]):
            x, y = kp[m, k]
            if not np.isfinite([x, y]).all():
                continue
            col = _COLOURS[k % len(_COLOURS)]
            if covs is not None and np.isfinite(covs[m, k]).all():
                a, b, c = covs[m, k]
                vals, vecs = np.linalg.eigh(np.array([[a, b], [b, c]]))
                vals = np.sqrt(np.clip(vals, 0, None)) * sigma
                ang = float(np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1])))
                axes = (max(int(vals[1]), 1), max(int(vals[0]), 1))
                cv2.ellipse(img, (int(round(x)), int(round(y))), axes, ang, 0, 360, col, 1,
                            cv2.LINE_AA)
            cv2.circle(img, (int(round(x)), int(round(y))), r, col, -1, cv2.LINE_AA)
    return img


def render(track_path: str | os.PathLike, video: str | os.PathLike, out: str | os.PathLike, *,
           start: int = 0, num: int | None = 300, fps: float | None = None,
           sigma: float = 2.0) -> Path:
    """An mp4 (or ``.gif``, or a ``.png`` still of frame ``start``) of a track's keypoints and
    covariance ellipses on the video's frames; the track must fit the video's frame count."""
    from ..data.pairs import FrameSource
    from ..io.tracks import read_track_npz

    track = read_track_npz(track_path)
    src = FrameSource(video)
    if track.num_frames != src.num_frames:
        raise DataError(track_path, f"track has {track.num_frames} frames but {video} has "
                                    f"{src.num_frames}: is it the track of another video?")
    out = Path(out)
    end = src.num_frames if num is None else min(src.num_frames, start + int(num))
    if start < 0 or start >= src.num_frames:
        raise ConfigError(f"--start {start}: the video has frames 0..{src.num_frames - 1}")
    ext = out.suffix.lower()
    idx = [start] if ext == ".png" else list(range(start, end))
    frames = [draw_keypoints(f, track.keypoints[:, t], track.covariance[:, t], sigma=sigma)
              for t, f in zip(idx, src.read(idx))]
    out.parent.mkdir(parents=True, exist_ok=True)
    rate = float(fps or src.fps or 25.0)
    if ext == ".png":
        import cv2

        from ..fsutil import atomic_path

        with atomic_path(out) as tmp:
            cv2.imwrite(str(tmp) + ".png", cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
            os.replace(str(tmp) + ".png", tmp)
    elif ext == ".gif":
        from PIL import Image

        from ..fsutil import atomic_path

        ims = [Image.fromarray(f) for f in frames]
        with atomic_path(out) as tmp:
            ims[0].save(tmp, format="GIF", save_all=True, append_images=ims[1:],
                        duration=int(1000 / rate), loop=0)
    else:
        from ..io.video import write_video

        h, w = frames[0].shape[:2]
        frames = [np.pad(f, ((0, h % 2), (0, w % 2), (0, 0))) for f in frames]
        write_video(out, frames, fps=rate)
    return out
