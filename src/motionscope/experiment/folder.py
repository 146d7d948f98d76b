"""An experiment folder as the server, export and analysis read it: settings, plan, videos."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, DataError
from ..io.paths import resolve_under
from .config import ExperimentConfig, load_config
from .plan import PLAN_FORMAT

__all__ = ["Experiment", "load_experiment", "PLAN_NAME", "DEFAULT_DB", "VIDEO_ID"]

PLAN_NAME = "plan.json"
DEFAULT_DB = "experiment.db"
VIDEO_ID = re.compile(r"^[0-9a-f]{16}$")
_MEDIA = {".mp4": "video/mp4", ".webm": "video/webm"}


@dataclass
class Experiment:
    """What the folder holds, checked."""

    root: Path
    cfg: ExperimentConfig
    plan: dict

    @property
    def id(self) -> str:
        return self.plan["id"]

    @property
    def videos(self) -> dict[str, dict]:
        return self.plan["videos"]

    @property
    def classes(self) -> list[str]:
        return list(self.cfg["classes"])

    def default_db_url(self) -> str:
        return f"sqlite:///{(self.root / DEFAULT_DB).resolve()}"

    def video_path(self, vid: str) -> Path:
        if not VIDEO_ID.match(vid) or vid not in self.videos:
            raise KeyError(vid)
        return resolve_under(self.root, self.videos[vid]["file"], source=self.root / PLAN_NAME,
                             line=f"videos.{vid}.file")

    @staticmethod
    def media_type(path: Path) -> str:
        return _MEDIA.get(path.suffix.lower(), "application/octet-stream")

    def check_videos(self) -> None:
        """Every video of the plan is a readable, non-empty file of a browser format; else one
        DataError naming how many are missing and the first few."""
        bad = []
        for vid in self.videos:
            try:
                p = self.video_path(vid)
            except (KeyError, DataError) as e:
                bad.append(f"{vid} ({e})")
                continue
            try:
                with open(p, "rb") as f:
                    head = f.read(12)
            except OSError as e:
                bad.append(f"{p.name} ({e.strerror or e})")
                continue
            if len(head) < 12:
                bad.append(f"{p.name} (empty or truncated)")
            elif p.suffix.lower() not in _MEDIA:
                bad.append(f"{p.name} (not .mp4 or .webm)")
        if bad:
            raise DataError(self.root / "videos", f"{len(bad)} of {len(self.videos)} videos are "
                                                  f"missing or unreadable: " + ", ".join(bad[:5])
                            + (" ..." if len(bad) > 5 else "")
                            + "; run `motionscope experiment create` again or restore them")


def load_experiment(root: str | os.PathLike) -> Experiment:
    """Read ``root`` (experiment.yaml + plan.json) and check that they agree."""
    cfg = load_config(root)
    root = Path(root)
    path = root / PLAN_NAME
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "missing (it is written by `motionscope experiment create`)") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise DataError(path, f"cannot read ({e})") from None
    if not isinstance(plan, dict) or plan.get("format") != PLAN_FORMAT:
        raise DataError(path, f"not a motionscope experiment plan (format {PLAN_FORMAT!r})")
    for key in ("id", "videos", "participants", "seed", "conditions"):
        if key not in plan:
            raise DataError(path, f"no {key!r}")
    p = cfg["plan"]
    pairs = {"seed": plan["seed"], "conditions": plan["conditions"],
             "participants": len(plan["participants"]),
             "trials_per_participant": plan["trials_per_participant"],
             "catch": plan["catch"], "practice": plan["practice"]}
    for key, have in pairs.items():
        if p[key] != have:
            raise ConfigError(f"{cfg.path}: plan.{key} is {p[key]!r} but plan.json was made with "
                              f"{have!r}; run `motionscope experiment create` again to change the "
                              "plan")
    if plan["num_classes"] != len(cfg["classes"]):
        raise ConfigError(f"{cfg.path}: classes lists {len(cfg['classes'])} names but the plan has "
                          f"{plan['num_classes']} classes")
    return Experiment(root, cfg, plan)
