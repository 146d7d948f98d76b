"""``motionscope experiment create``: an experiment folder from a ``motionscope stimuli`` set.

What it writes is described in :mod:`.config`. The choices (docs/psychophysics.md, "Creating an
experiment"):

* **Videos** are copied under opaque names (``videos/<16 hex>.mp4``: the stimuli's file names
  hold the NTU action code, i.e. the answer), byte for byte when browsers play them as written,
  else transcoded (:mod:`.media`).
* **Catch trials** are clear RGB clips (the paper's 4 dummy trials: 2 "sit down", 2 "stand up";
  with other class sets the first two classes). **Practice trials** are clips of the practice
  condition (default: the first condition), one class each. Neither may show a participant a
  clip of the main block, so they come from outside the plan's pool: with ``extras="world"``
  (the default when the classes are the embedded world's) the embedded world renders fresh
  actors for them, through ``motionscope stimuli`` itself; with ``extras="stimuli"`` they are
  taken from the stimuli set (the catch clips from its RGB condition) and those source clips are
  removed from the plan.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from ..errors import ConfigError, DataError
from ..fsutil import atomic_write_text
from ..io.paths import resolve_under
from ..io.splits import read_video_csv
from ..progress import progress as progress_bar
from .config import CONFIG_NAME, TEXT_FILES, default_config, dump_config, new_admin_token
from .folder import PLAN_NAME
from .media import make_playable, probe
from .plan import Video, make_plan

__all__ = ["create_experiment", "CATCH_CLASSES"]

CATCH_CLASSES = ("sit down", "stand up")
_TEMPLATES = Path(__file__).parent / "templates"


def _sample_key(rel: str) -> str:
    name = Path(rel).name
    stem = name.rsplit(".", 1)[0]
    if stem.startswith("AlphaPose_"):
        stem = stem[len("AlphaPose_"):]
    return stem[:-4] if stem.endswith("_rgb") else stem


def _vid(tag: str, cond: str, rel: str) -> str:
    return hashlib.sha256(f"{tag}\0{cond}\0{rel}".encode()).hexdigest()[:16]


def _read_manifest(stimuli: Path) -> dict:
    path = stimuli / "stimuli.json"
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "missing: --stimuli must be a folder written by `motionscope "
                              "stimuli`") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise DataError(path, f"cannot read ({e})") from None
    if not isinstance(m, dict) or m.get("format") != "motionscope-stimuli":
        raise DataError(path, "not a motionscope stimuli manifest")
    return m


def _clips(stimuli: Path, manifest: dict, cond: str) -> list[tuple[str, int, Path]]:
    """``(rel, label, file)`` of every clip of condition ``cond``."""
    info = manifest["conditions"][cond]
    lst = resolve_under(stimuli, info["list"], source=stimuli / "stimuli.json",
                        line=f"conditions.{cond}.list")
    root = resolve_under(stimuli, info["root"], source=stimuli / "stimuli.json",
                         line=f"conditions.{cond}.root")
    out = []
    for s in read_video_csv(lst):
        out.append((s.path, int(s.label), resolve_under(root, s.path, source=lst,
                                                        line=s.meta["line"])))
    return out


def _world_extras(needs: list[tuple[str, str]], classes: list[str], size: tuple[int, int],
                  frames: int | None, seed: int, tmp: Path) -> dict[tuple[str, str], list[Path]]:
    """Fresh clips from the embedded world: ``(condition, class name) -> [files]`` for every
    ``needs`` entry (one clip per entry)."""
    from ..stimuli import generate_stimuli
    from ..synth import generate_world

    names = sorted({c for _, c in needs}, key=classes.index)
    per = max(sum(1 for x in needs if x == n) for n in set(needs))
    world = tmp / "world"
    generate_world(world, classes=",".join(names), clips_per_class=per,
                   frames=frames or 32, size=size, formats="rgb,skeleton", seed=seed,
                   progress=False)
    conds = sorted({c for c, _ in needs})
    generate_stimuli(world, tmp / "stim", conds, frames=frames, size=size, seed=seed,
                     progress=False, strict=True)
    man = _read_manifest(tmp / "stim")
    out: dict[tuple[str, str], list[Path]] = {}
    for cond in conds:
        for _rel, label, path in _clips(tmp / "stim", man, cond):
            out.setdefault((cond, names[label]), []).append(path)
    return out


def create_experiment(stimuli: str | os.PathLike, out: str | os.PathLike, *,
                      conditions: str | list[str] | None = None, participants: int = 20,
                      trials_per_participant: int | None = None, catch: int = 4,
                      practice: int = 2, seed: int = 0, practice_condition: str | None = None,
                      extras: str = "auto", video_format: str = "mp4",
                      platform: str = "lab", force: bool = False, progress: bool = True) -> Path:
    """Write the experiment folder ``out`` from the stimuli folder ``stimuli``; returns the path
    of ``experiment.yaml``. See the module docstring; ``conditions``: names (a list or comma
    string; default: every condition of the stimuli set); ``trials_per_participant``: default
    the largest balanced count that shows each source clip at most once per participant;
    ``extras``: ``world``, ``stimuli`` or ``auto`` (where practice and catch clips come from);
    ``video_format``: ``mp4`` (H.264) or ``webm`` (VP9); ``platform``: lab, prolific, mturk or
    any; ``force``: rewrite an existing experiment (new plan and id; edited texts are kept)."""
    stimuli, out = Path(stimuli), Path(out)
    manifest = _read_manifest(stimuli)
    avail = [c for c, i in manifest["conditions"].items() if i.get("clips")]
    if conditions is None or conditions == "all" or conditions == "":
        conds = avail
    else:
        conds = [c.strip() for c in (conditions.split(",") if isinstance(conditions, str)
                                     else conditions) if c.strip()]
        bad = [c for c in conds if c not in manifest["conditions"]]
        if bad:
            raise ConfigError(f"--conditions: {bad[0]!r} is not in {stimuli / 'stimuli.json'} "
                              f"(it has {', '.join(manifest['conditions'])})")
        empty = [c for c in conds if c not in avail]
        if empty:
            raise ConfigError(f"--conditions: {empty[0]!r} has no clips in {stimuli}")
        if len(set(conds)) != len(conds):
            raise ConfigError("--conditions repeats a condition")
    if not conds:
        raise DataError(stimuli, "no condition with clips")
    if video_format not in ("mp4", "webm"):
        raise ConfigError(f"--video-format must be mp4 or webm, got {video_format!r}")
    if extras not in ("auto", "world", "stimuli"):
        raise ConfigError(f"--extras must be auto, world or stimuli, got {extras!r}")
    if catch < 0 or practice < 0 or participants < 1:
        raise ConfigError("--catch and --practice must be >= 0, --participants >= 1")
    if platform not in ("lab", "prolific", "mturk", "any"):
        raise ConfigError(f"--platform must be lab, prolific, mturk or any, got {platform!r}")
    practice_condition = practice_condition or conds[0]
    if practice_condition not in manifest["conditions"]:
        raise ConfigError(f"--practice-condition {practice_condition!r} is not in the stimuli set")
    if (out / CONFIG_NAME).exists() and not force:
        raise DataError(out, "already holds an experiment; use another folder, or force=True "
                             "(--force) to rewrite its plan (its database then no longer fits)")

    # -- the clips of each condition
    from ..stimuli import CONDITIONS

    clips = {c: _clips(stimuli, manifest, c) for c in conds}
    labels = sorted({lab for c in conds for _, lab, _ in clips[c]})
    classes = list(manifest.get("classes") or [])
    if not classes or len(classes) <= max(labels):
        classes = [f"class {i}" for i in range(max(labels) + 1)]
    first = next(iter(clips.values()))[0][2]
    info = probe(first)
    size = (info["height"] // 2 * 2, info["width"] // 2 * 2)
    frames = (manifest.get("config") or {}).get("frames")

    # -- practice and catch: which (condition, class) pairs
    present = [classes[lab] for lab in labels]
    catch_cls = [c for c in CATCH_CLASSES if c in present] or present[:2]
    if len(catch_cls) < 2:
        catch_cls = present[:2]
    catch_needs = [("RGB", catch_cls[i % len(catch_cls)]) for i in range(catch)]
    prac_needs = [(practice_condition, present[i % len(present)]) for i in range(practice)]
    if extras == "auto":
        from ..synth.actions import BMP_ACTIONS

        world_names = {a.name for a in BMP_ACTIONS}
        extras = "world" if all(n in world_names for _, n in catch_needs + prac_needs) else "stimuli"
    views = {c: CONDITIONS[c].view if c in CONDITIONS else None for c in conds}

    pool: list[Video] = []
    files: dict[str, tuple[Path, str, str]] = {}  # id -> (source file, kind, source rel)
    for c in conds:
        for rel, lab, path in clips[c]:
            v = Video(_vid("stimuli", c, rel), c, lab, _sample_key(rel))
            pool.append(v)
            files[v.id] = (path, "test", f"{manifest['conditions'][c]['root']}/{rel}")
    extra_videos: dict[str, list[Video]] = {"practice": [], "catch": []}
    tmpdir = None
    try:
        if extras == "world" and (catch_needs or prac_needs):
            tmpdir = Path(tempfile.mkdtemp(prefix=".extras-", dir=out.parent if out.parent.exists()
                                           else None))
            made = _world_extras(catch_needs + prac_needs, classes, size, frames,
                                 seed + 7919, tmpdir)
            taken: dict[tuple[str, str], int] = {}
            for kind, needs in (("catch", catch_needs), ("practice", prac_needs)):
                for cond, name in needs:
                    j = taken.get((cond, name), 0)
                    taken[(cond, name)] = j + 1
                    path = made[(cond, name)][j]
                    v = Video(_vid("world", f"{kind}:{cond}", f"{name}:{j}"), cond,
                              classes.index(name), f"world:{kind}:{name}:{j}")
                    extra_videos[kind].append(v)
                    files[v.id] = (path, kind, f"embedded world ({cond}, {name})")
        else:
            reserved: set[str] = set()
            for kind, needs in (("catch", catch_needs), ("practice", prac_needs)):
                for cond, name in needs:
                    if cond not in manifest["conditions"] or not manifest["conditions"][cond].get("clips"):
                        raise DataError(stimuli, f"{kind} trials need clips of {cond} from the "
                                                 f"stimuli set, and it has none (render {cond} too, "
                                                 f"use --extras world, or --{kind} 0)")
                    lab = classes.index(name)
                    cand = [(rel, p) for rel, lb, p in _clips(stimuli, manifest, cond)
                            if lb == lab and _sample_key(rel) not in reserved]
                    if not cand:
                        raise DataError(stimuli, f"no clip of class {name!r} left in {cond} for the "
                                                 f"{kind} trials")
                    rel, path = sorted(cand)[0]
                    reserved.add(_sample_key(rel))
                    v = Video(_vid("extra", f"{kind}:{cond}", rel), cond, lab, _sample_key(rel))
                    extra_videos[kind].append(v)
                    files[v.id] = (path, kind, f"{manifest['conditions'][cond]['root']}/{rel}")
            pool = [v for v in pool if v.sample not in reserved]
            for vid in [k for k, f in files.items() if f[1] == "test"]:
                if vid not in {v.id for v in pool}:
                    del files[vid]

        plan = make_plan(pool, conds, len(classes), participants=participants,
                         trials_per_participant=trials_per_participant, seed=seed,
                         practice=extra_videos["practice"], catch=extra_videos["catch"],
                         views=views)
        used = set(plan["exposures"]) | {v.id for vs in extra_videos.values() for v in vs}
        out.mkdir(parents=True, exist_ok=True)
        (out / "videos").mkdir(exist_ok=True)
        videos, transcoded = {}, 0
        by_id = {v.id: v for v in [*pool, *extra_videos["practice"], *extra_videos["catch"]]}
        with progress_bar(total=len(used), desc="experiment videos", unit="clip",
                          enabled=progress) as bar:
            for vid in sorted(used):
                src, kind, source = files[vid]
                path, t = make_playable(src, out / "videos" / vid, video_format)
                transcoded += t
                v = by_id[vid]
                videos[vid] = {"file": f"videos/{path.name}", "kind": kind, "condition": v.condition,
                               "label": v.label, "sample": v.sample, "source": source}
                bar.update(1)
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
    for stale in (out / "videos").iterdir():  # a forced rewrite: clips of the old plan
        if stale.stem not in videos:
            stale.unlink()
    plan["id"] = uuid.uuid4().hex
    plan["videos"] = videos
    plan["extras"] = extras
    plan["stimuli"] = str(stimuli.resolve())
    plan["transcoded"] = transcoded
    atomic_write_text(out / PLAN_NAME, json.dumps(plan, indent=1) + "\n")

    cfg = default_config()
    cfg["title"] = "Recognising actions"
    cfg["classes"] = classes
    cfg["plan"].update({"stimuli": str(stimuli.resolve()), "conditions": conds,
                        "participants": int(participants),
                        "trials_per_participant": plan["trials_per_participant"],
                        "seed": int(seed), "catch": int(catch), "practice": int(practice),
                        "practice_condition": practice_condition, "extras": extras})
    cfg["video"].update({"width": 480, "height": max(16, round(480 * size[0] / size[1])),
                         "format": video_format})
    cfg["catch"]["min_correct"] = int(catch)
    cfg["recruitment"]["platform"] = platform
    if platform == "prolific":
        cfg["completion"]["code"] = "C" + uuid.uuid4().hex[:7].upper()
        cfg["completion"]["redirect_url"] = "https://app.prolific.com/submissions/complete?cc={code}"
    old = out / CONFIG_NAME
    if old.exists():  # keep the admin token of a forced rewrite
        try:
            import yaml

            cfg["admin_token"] = (yaml.safe_load(old.read_text(encoding="utf-8")) or {}).get(
                "admin_token") or new_admin_token()
        except Exception:  # noqa: BLE001 - an unreadable old file: a new token
            cfg["admin_token"] = new_admin_token()
    else:
        cfg["admin_token"] = new_admin_token()
    n_main = plan["trials_per_participant"] + int(catch)
    fill = {"{n_trials}": str(n_main), "{n_practice}": str(int(practice)),
            "{minutes}": str(max(1, round((n_main + practice) * 6 / 60))),
            "{classes}": ", ".join(classes)}
    for fname in TEXT_FILES.values():
        dst = out / fname
        if dst.exists():
            continue  # an edited text survives --force
        text = (_TEMPLATES / fname).read_text(encoding="utf-8")
        for k, v in fill.items():
            text = text.replace(k, v)
        atomic_write_text(dst, text)
    atomic_write_text(out / CONFIG_NAME, dump_config(cfg))
    return out / CONFIG_NAME
