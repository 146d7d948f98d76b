"""What the perceptual loss does to discovery: the no-file fallbacks compared on moving blobs.

Without ImageNet VGG19 weights B-KinD needs a fallback for its perceptual terms. This trains the
TINY-encoder model (64 px) for the same number of SGD steps with each of ``pyramid`` (the
default fallback), ``random_vgg`` (the official code with ``pretrained=False``) and ``none``
(pixel term only), on synthetic videos of three coloured blobs moving over a static textured
background, then fits a least-squares map (with bias) from the discovered keypoints of held-out
frames' training half to the true blob centres and reports the mean L2 error (px) on the other
half, with how far the keypoints move and how peaked their heatmaps are. Two references: the
training half's mean centres (chance), and an untrained model, whose uniform heatmaps give
"keypoints" that barely move but are linear functions of random features (a random-features
read-out, not localisation).

    python benchmarks/bkind_perceptual.py --steps 300       # -> results/bkind_perceptual.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from motionscope.fsutil import atomic_write_text
from motionscope.models import create_model

S = 64
RESULT = Path(__file__).resolve().parent / "results" / "bkind_perceptual.json"
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
COLOURS = torch.tensor([[0.9, 0.2, 0.2], [0.2, 0.8, 0.3], [0.25, 0.35, 0.95]])


def video(seed: int, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(T, 3, S, S)`` normalised frames and ``(T, 3, 2)`` blob centres (x, y) in pixels."""
    g = torch.Generator().manual_seed(seed)
    bg = F.interpolate(torch.rand(1, 3, 8, 8, generator=g), size=(S, S), mode="bilinear")[0] * 0.5 + 0.2
    t = torch.arange(frames, dtype=torch.float32).unsqueeze(1)
    freq = 0.05 + 0.1 * torch.rand(3, 2, generator=g)
    phase = 2 * math.pi * torch.rand(3, 2, generator=g)
    centres = 12 + (S - 24) * (0.5 + 0.5 * torch.sin(freq[None] * t[..., None] + phase[None]))
    yy, xx = torch.meshgrid(torch.arange(S, dtype=torch.float32), torch.arange(S, dtype=torch.float32),
                            indexing="ij")
    out = bg.expand(frames, 3, S, S).clone()
    for b in range(3):
        d2 = (xx - centres[:, b, 0, None, None]) ** 2 + (yy - centres[:, b, 1, None, None]) ** 2
        a = torch.exp(-d2 / (2 * 4.0 ** 2)).unsqueeze(1)
        out = out * (1 - a) + a * COLOURS[b].view(1, 3, 1, 1)
    return (out - MEAN) / STD, centres


def train(mode: str, steps: int, curriculum_at: float, vids, batch: int, gap: int) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model("bkind", num_keypoints=6, image_size=S, encoder_layers=(1, 1, 1, 1),
                         encoder_base_width=8, perceptual=mode, curriculum=1).train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-2, momentum=0.9,
                          weight_decay=1e-4)
    g = torch.Generator().manual_seed(2)
    for step in range(steps):
        model.set_epoch(int(step >= curriculum_at * steps))
        vi = torch.randint(len(vids), (batch,), generator=g)
        ti = torch.randint(vids[0].shape[0] - gap, (batch,), generator=g)
        b = {"image0": torch.stack([vids[v][t] for v, t in zip(vi, ti)]),
             "image1": torch.stack([vids[v][t + gap] for v, t in zip(vi, ti)])}
        loss = sum(model(b)["losses"].values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model


def regression_error(model, frames: torch.Tensor, centres: torch.Tensor) -> dict:
    """The read-out error, and what the keypoints are: how far they move over the frames
    (``keypoint_motion_px``, mean over keypoints of the std over frames) and how peaked their
    heatmaps are (``confidence``; a uniform S/4 x S/4 map gives 1/(S/4)^2)."""
    with torch.no_grad():
        out = [model.detect(frames[i:i + 64]) for i in range(0, len(frames), 64)]
    kp = torch.cat([o["keypoints"] for o in out])
    x = torch.cat([kp.flatten(1), torch.ones(len(kp), 1)], 1).double()
    y = centres.flatten(1).double()
    n = len(x) // 2
    w = torch.linalg.lstsq(x[:n], y[:n]).solution
    err = (x[n:] @ w - y[n:]).view(-1, 3, 2).norm(dim=-1)
    return {"regression_error_px": float(err.mean()),
            "keypoint_motion_px": float(kp.std(0).norm(dim=-1).mean()),
            "confidence": float(torch.cat([o["confidence"] for o in out]).mean())}


def mean_predictor_error(centres: torch.Tensor) -> float:
    """Predicting every held-out frame's centres as the training half's mean: the chance level."""
    y = centres.flatten(1).double()
    n = len(y) // 2
    return float((y[:n].mean(0) - y[n:]).view(-1, 3, 2).norm(dim=-1).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--gap", type=int, default=3)
    ap.add_argument("--modes", default="pyramid,random_vgg,none")
    ap.add_argument("--out", default=str(RESULT))
    args = ap.parse_args()
    vids = [video(s, 120)[0] for s in range(6)]
    test_frames, test_centres = video(100, 240)
    out_path = Path(args.out)
    res: dict = {"mean_predictor": {"regression_error_px": mean_predictor_error(test_centres)}}
    torch.manual_seed(0)
    untrained = create_model("bkind", num_keypoints=6, image_size=S, encoder_layers=(1, 1, 1, 1),
                             encoder_base_width=8)
    res["untrained"] = regression_error(untrained, test_frames, test_centres)
    for mode in args.modes.split(","):
        t0 = time.perf_counter()
        model = train(mode, args.steps, 0.5, vids, args.batch, args.gap)
        res[mode] = {**regression_error(model, test_frames, test_centres),
                     "train_s": time.perf_counter() - t0, "steps": args.steps}
        print(mode, res[mode], flush=True)
    out = {"benchmark": "bkind_perceptual", "date": time.strftime("%Y-%m-%d"),
           "what": "mean L2 error (px, 64 px frames) of a least-squares map from 6 discovered "
                   "keypoints to 3 true blob centres, held-out half of a held-out video",
           "steps": args.steps, "batch": args.batch, "gap": args.gap, "optimizer": "SGD lr 1e-2 m 0.9",
           "curriculum_from_step": args.steps // 2}
    # modes not run now keep their entry (several processes may fill one file, one mode each)
    old = json.loads(out_path.read_text()).get("results", {}) if out_path.is_file() else {}
    out["results"] = {**old, **res}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_path, json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
