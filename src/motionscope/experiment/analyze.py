"""``motionscope experiment analyze``: humans beside models, condition by condition and trial by trial.

From an experiment's answers (its database, through :mod:`.export`) this computes, per condition:

* **human accuracy** over the kept participants' test trials (practice and catch trials are never
  counted), with a 95 % bootstrap interval that resamples *participants* (the unit that was
  sampled), so a few participants with many trials do not look like many independent ones;
* the **exclusion rule** as in the paper (88 of 90 kept after four plain RGB catch trials): a
  participant is excluded when they answered fewer than ``min_correct`` of their catch trials
  correctly (default: the experiment's ``catch.min_correct``, which create sets to all of them)
  and, by default, when they did not complete the session; who was excluded and why is reported;
* each **model's accuracy on exactly the same trials**: every human test trial is paired with the
  model's prediction for the same video, taken from ``bmp-eval``'s per-clip predictions
  (``<out>/<COND>/test_predictions.csv``) or computed by running ``bmp-eval`` on the experiment's
  stimuli folder;
* **error consistency** (Geirhos et al., NeurIPS 2020): Cohen's kappa of the human's and the
  model's trial-wise correctness, i.e. how much more often both are right or both wrong than two
  independent observers with the same two accuracies would be:
  ``c_obs = P(both right or both wrong)``, ``c_exp = p_h p_m + (1 - p_h)(1 - p_m)``,
  ``kappa = (c_obs - c_exp) / (1 - c_exp)`` (undefined when ``c_exp == 1``);
* the paper's numbers (Tab. S6: humans, MP and the best baseline) beside ours.

Outputs in ``--out``: ``analysis.csv``, ``analysis.md``, ``analysis.json``, ``exclusions.csv``,
``trials_paired.csv`` (every kept test trial with each model's answer) and ``analysis.png``.
The math needs numpy only; torch is imported only when model predictions must be computed.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..fsutil import atomic_open, atomic_path, atomic_write_text
from ..stimuli.conditions import CONDITIONS, PAPER_BASELINES, PAPER_TOP1

__all__ = ["Trial", "error_consistency", "bootstrap_ci", "apply_exclusion", "condition_summary",
           "read_model_predictions", "analyze_trials", "clip_key", "write_tables", "plot_analysis",
           "read_export", "analyze", "SIMULATED_PREFIX"]

#: participant ids of simulated participants start with this (see :mod:`.simulate`); an analysis
#: whose kept participants are all simulated is labelled SIMULATED in every table and chart
SIMULATED_PREFIX = "SIMULATED"


@dataclass(frozen=True)
class Trial:
    """One answered trial. ``kind``: ``practice``, ``catch`` or ``test``; ``video``: the path of
    the clip relative to its condition's ``videos`` folder of the stimuli set (what bmp-eval
    calls a clip's ``name``)."""

    participant: str
    index: int
    kind: str
    condition: str
    video: str
    label: int
    response: int

    @property
    def correct(self) -> bool:
        return self.response == self.label


# ----------------------------------------------------------------------------- statistics
def error_consistency(human_correct: Sequence[bool], model_correct: Sequence[bool]) -> dict:
    """Cohen's kappa of two observers' trial-wise correctness (Geirhos et al. 2020).

    Returns ``{"n", "p_human", "p_model", "c_obs", "c_exp", "kappa"}``; ``kappa`` is None when
    the two accuracies alone fix the agreement (``c_exp == 1``: both always right, or both
    always wrong) or there are no trials."""
    h = np.asarray(human_correct, dtype=bool)
    m = np.asarray(model_correct, dtype=bool)
    if h.shape != m.shape or h.ndim != 1:
        raise ValueError(f"need two equally long 1-D sequences, got {h.shape} and {m.shape}")
    n = int(h.size)
    if n == 0:
        return {"n": 0, "p_human": None, "p_model": None, "c_obs": None, "c_exp": None,
                "kappa": None}
    ph, pm = float(h.mean()), float(m.mean())
    c_obs = float((h == m).mean())
    c_exp = ph * pm + (1.0 - ph) * (1.0 - pm)
    kappa = None if c_exp >= 1.0 - 1e-12 else (c_obs - c_exp) / (1.0 - c_exp)
    return {"n": n, "p_human": ph, "p_model": pm, "c_obs": c_obs, "c_exp": c_exp, "kappa": kappa}


def bootstrap_ci(groups: Sequence[np.ndarray], statistic, n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float | None, float | None]:
    """Percentile interval of ``statistic(concatenated groups)`` when the groups (one per
    participant: an array of that participant's per-trial values, or rows of them) are resampled
    with replacement. Resamples whose statistic is None/NaN are dropped; (None, None) when fewer
    than half remain or there are no groups."""
    if not groups or n_boot < 1:
        return None, None
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    k = len(groups)
    stats = []
    for _ in range(int(n_boot)):
        pick = rng.integers(0, k, size=k)
        v = statistic(np.concatenate([groups[i] for i in pick]))
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            stats.append(float(v))
    if len(stats) < n_boot / 2:
        return None, None
    lo, hi = np.quantile(np.asarray(stats), [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


# ----------------------------------------------------------------------------- exclusion
@dataclass
class ExclusionReport:
    """Who was kept and who was not, with the reason per participant."""

    kept: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    catch: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (right, shown)
    rule: str = ""

    def as_dict(self) -> dict:
        return {"rule": self.rule, "participants": len(self.kept) + len(self.excluded),
                "kept": len(self.kept), "excluded": len(self.excluded),
                "excluded_ids": dict(sorted(self.excluded.items()))}


def apply_exclusion(trials: Iterable[Trial], completed: dict[str, bool] | None = None,
                    min_correct: int | None = None, require_complete: bool = True
                    ) -> ExclusionReport:
    """The paper's rule: keep a participant when at least ``min_correct`` of their catch trials
    were answered correctly (None: all of them); also drop those who did not complete when
    ``require_complete`` (``completed``: participant -> finished the session)."""
    if min_correct is not None and (isinstance(min_correct, bool) or int(min_correct) < 0):
        raise ConfigError(f"min_correct must be a count >= 0 of catch trials, got {min_correct}")
    by_p: dict[str, list[Trial]] = defaultdict(list)
    for t in trials:
        by_p[t.participant].append(t)
    if completed:
        for p in completed:
            by_p.setdefault(p, [])
    rule = ("catch trials: all correct" if min_correct is None
            else f"catch trials: at least {int(min_correct)} correct")
    rep = ExclusionReport(rule=rule + ("; session completed" if require_complete else ""))
    for p in sorted(by_p):
        ts = by_p[p]
        catch = [t for t in ts if t.kind == "catch"]
        right = sum(t.correct for t in catch)
        need = len(catch) if min_correct is None else min(int(min_correct), len(catch))
        rep.catch[p] = (right, len(catch))
        if require_complete and completed is not None and not completed.get(p, False):
            rep.excluded[p] = "did not complete the session"
        elif not any(t.kind == "test" for t in ts):
            rep.excluded[p] = "no test trials answered"
        elif right < need:
            rep.excluded[p] = f"catch trials {right}/{len(catch)} correct (needed {need})"
        else:
            rep.kept.append(p)
    return rep


# ----------------------------------------------------------------------------- per condition
def _acc(rows: np.ndarray) -> float | None:
    return float(rows.mean()) if rows.size else None


def _kappa_of(rows: np.ndarray) -> float | None:
    return error_consistency(rows[:, 0], rows[:, 1])["kappa"] if len(rows) else None


def condition_summary(trials: Sequence[Trial], models: dict[str, dict[tuple[str, str], int]],
                      n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """One row per condition of the kept test ``trials``: human accuracy + bootstrap interval,
    and for each model (``name -> {(condition, video): predicted label}``) its accuracy on the
    same trials, the error consistency kappa with its interval, and how many trials it covers."""
    by_cond: dict[str, list[Trial]] = defaultdict(list)
    for t in trials:
        if t.kind == "test":
            by_cond[t.condition].append(t)
    order = [c for c in CONDITIONS if c in by_cond] + sorted(c for c in by_cond
                                                            if c not in CONDITIONS)
    rows = []
    for ci, cond in enumerate(order):
        ts = by_cond[cond]
        parts = sorted({t.participant for t in ts})
        groups = [np.array([t.correct for t in ts if t.participant == p], dtype=float)
                  for p in parts]
        lo, hi = bootstrap_ci(groups, _acc, n_boot, seed + 7919 * ci)
        paper = PAPER_TOP1.get(cond, {})
        best = max(PAPER_BASELINES, key=lambda m: paper[m]) if paper else None
        row = {"condition": cond, "group": CONDITIONS[cond].group if cond in CONDITIONS else "",
               "participants": len(parts), "trials": len(ts),
               "videos": len({t.video for t in ts}),
               "human": float(np.mean([t.correct for t in ts])), "human_lo": lo, "human_hi": hi,
               "paper_human": paper.get("Human"), "paper_MP": paper.get("MP"),
               "paper_best_baseline": best,
               "paper_best_baseline_acc": paper.get(best) if best else None, "models": {}}
        for mi, (name, preds) in enumerate(models.items()):
            paired = [(t, preds.get((cond, t.video))) for t in ts]
            have = [(t, p) for t, p in paired if p is not None]
            if not have:
                row["models"][name] = {"trials": 0, "missing": len(ts), "acc": None,
                                       "kappa": None, "kappa_lo": None, "kappa_hi": None}
                continue
            hc = np.array([t.correct for t, _ in have], dtype=bool)
            mc = np.array([p == t.label for t, p in have], dtype=bool)
            ec = error_consistency(hc, mc)
            kgroups = [np.array([(t.correct, p == t.label) for t, p in have if t.participant == q],
                                dtype=bool).reshape(-1, 2) for q in parts]
            kgroups = [g for g in kgroups if len(g)]
            klo, khi = bootstrap_ci(kgroups, _kappa_of, n_boot, seed + 7919 * ci + 104729 * (mi + 1))
            row["models"][name] = {"trials": len(have), "missing": len(ts) - len(have),
                                   "acc": float(mc.mean()), "human_on_same": float(hc.mean()),
                                   "c_obs": ec["c_obs"], "c_exp": ec["c_exp"],
                                   "kappa": ec["kappa"], "kappa_lo": klo, "kappa_hi": khi}
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- model predictions
def clip_key(name: str) -> str:
    """A clip's name without its extension and with ``/`` separators: the experiment may play a
    transcoded copy (``.webm``) of the stimuli set's ``.mp4``; both are the same clip."""
    s = str(name).replace(os.sep, "/").replace("\\", "/")
    while s.startswith("./"):
        s = s[2:]
    stem, dot, ext = s.rpartition(".")
    return stem if dot and "/" not in ext else s


def _bmp_dir(run: Path) -> Path | None:
    """The folder holding bmp-eval's per-condition predictions for ``run`` (the bmp-eval output
    folder itself, or ``<run>/bmp``), or None."""
    for d in (run, run / "bmp"):
        if (d / "bmp_results.json").is_file() or any(d.glob("*/test_predictions.csv")):
            return d
    return None


def read_model_predictions(folder: str | os.PathLike, conditions: Iterable[str] | None = None
                           ) -> dict[tuple[str, str], int]:
    """``{(condition, clip_key(name)): predicted label}`` from bmp-eval's
    ``<folder>/<COND>/test_predictions.csv`` files (``name`` is the clip's path relative to the
    condition's ``videos`` folder)."""
    folder = Path(folder)
    conds = list(conditions) if conditions is not None else sorted(
        p.parent.name for p in folder.glob("*/test_predictions.csv"))
    out: dict[tuple[str, str], int] = {}
    for cond in conds:
        path = folder / cond / "test_predictions.csv"
        if not path.is_file():
            continue
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            need = {"name", "pred"}
            if not need <= set(reader.fieldnames or ()):
                raise DataError(path, f"not a bmp-eval predictions file (needs columns "
                                      f"{sorted(need)}, has {reader.fieldnames})")
            for line, r in enumerate(reader, start=2):
                try:
                    out[(cond, clip_key(r["name"]))] = int(r["pred"])
                except (TypeError, ValueError):
                    raise DataError(path, f"line {line}: pred {r.get('pred')!r} is not a "
                                          f"class index") from None
    return out


def _model_name(run: Path) -> str:
    """A short label of a run for tables: its folder name (``<run>/bmp`` -> ``<run>``)."""
    p = run.resolve()
    if p.name == "bmp":
        p = p.parent
    return p.name


def model_predictions(runs: Sequence[str], stimuli: str | os.PathLike | None,
                      conditions: Sequence[str], out: Path, progress: bool = True
                      ) -> dict[str, dict[tuple[str, str], int]]:
    """Per run (``name -> predictions``): bmp-eval's predictions where they exist, else
    ``bmp-eval`` on the experiment's ``stimuli`` folder (into ``<out>/models/<name>``)."""
    models: dict[str, dict[tuple[str, str], int]] = {}
    for r in runs:
        run = Path(r)
        if not run.exists():
            raise DataError(run, "no such run directory, checkpoint or bmp-eval folder")
        name = _model_name(run)
        if name in models:
            name = f"{name}-{len(models)}"
        found = _bmp_dir(run) if run.is_dir() else None
        if found is not None:
            preds = read_model_predictions(found, conditions)
            if any(c in {k[0] for k in preds} for c in conditions):
                models[name] = preds
                continue
        if stimuli is None or not Path(stimuli).is_dir():
            raise DataError(run, f"no bmp-eval predictions for {', '.join(conditions)} here, and "
                                 f"the experiment's stimuli folder ({stimuli}) is not available "
                                 f"to compute them; run `motionscope bmp-eval {run} --stimuli DIR`")
        from ..tasks.bmp import bmp_eval  # torch: only when predictions must be computed

        dest = out / "models" / name
        bmp_eval(str(run), str(stimuli), out=str(dest), conditions=",".join(conditions),
                 progress=progress)
        models[name] = read_model_predictions(dest, conditions)
    return models


# ----------------------------------------------------------------------------- whole analysis
def analyze_trials(trials: Sequence[Trial], models: dict[str, dict[tuple[str, str], int]],
                   completed: dict[str, bool] | None = None, min_correct: int | None = None,
                   require_complete: bool = True, n_boot: int = 2000, seed: int = 0) -> dict:
    """Exclusion, then :func:`condition_summary` on the kept participants' test trials.
    Returns ``{"exclusion", "rows", "simulated", "kept_trials"}``."""
    rep = apply_exclusion(trials, completed, min_correct, require_complete)
    keep = set(rep.kept)
    kept = [t for t in trials if t.participant in keep and t.kind == "test"]
    rows = condition_summary(kept, models, n_boot=n_boot, seed=seed)
    simulated = bool(keep) and all(p.startswith(SIMULATED_PREFIX) for p in keep)
    return {"exclusion": rep, "rows": rows, "simulated": simulated, "kept_trials": kept}


# ----------------------------------------------------------------------------- writing
def _pct(v, nd: int = 1) -> str:
    return "" if v is None else f"{100 * float(v):.{nd}f}"


def _num(v, nd: int = 3) -> str:
    return "" if v is None else f"{float(v):.{nd}f}"


def _paper(v) -> str:
    return "" if v is None else f"{float(v):.2f}"


def write_tables(result: dict, out: Path, title: str) -> dict[str, Path]:
    """``analysis.csv``, ``analysis.md``, ``analysis.json``, ``exclusions.csv`` and
    ``trials_paired.csv`` in ``out``; returns their paths."""
    rows, rep = result["rows"], result["exclusion"]
    names = list(result.get("model_names", []))
    paths = {k: out / f for k, f in (("csv", "analysis.csv"), ("md", "analysis.md"),
                                     ("json", "analysis.json"), ("exclusions", "exclusions.csv"),
                                     ("trials", "trials_paired.csv"))}
    cols = ["condition", "group", "participants", "trials", "videos", "human", "human_lo",
            "human_hi"]
    for n in names:
        cols += [f"{n}_acc", f"{n}_trials", f"{n}_kappa", f"{n}_kappa_lo", f"{n}_kappa_hi"]
    cols += ["paper_human", "paper_MP", "paper_best_baseline", "paper_best_baseline_acc"]
    with atomic_open(paths["csv"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            line = [r["condition"], r["group"], r["participants"], r["trials"], r["videos"],
                    _pct(r["human"], 2), _pct(r["human_lo"], 2), _pct(r["human_hi"], 2)]
            for n in names:
                m = r["models"][n]
                line += [_pct(m["acc"], 2), m["trials"], _num(m["kappa"]), _num(m["kappa_lo"]),
                         _num(m["kappa_hi"])]
            line += [_paper(r["paper_human"]), _paper(r["paper_MP"]),
                     r["paper_best_baseline"] or "", _paper(r["paper_best_baseline_acc"])]
            w.writerow(line)
    label = "SIMULATED participants (not human data)" if result["simulated"] else "humans"
    ex = rep.as_dict()
    md = [f"# {title}", ""]
    if result["simulated"]:
        md += ["**SIMULATED: every kept participant is a simulated participant "
               "(`motionscope.experiment.simulate`). These are not human data.**", ""]
    md += [f"Participants: {ex['participants']}, kept {ex['kept']}, excluded {ex['excluded']} "
           f"(rule: {ex['rule']}).", "",
           "Accuracy (%) on the kept participants' test trials (practice and catch trials not "
           "counted), 95 % bootstrap interval over participants. Models are scored on exactly "
           "the same trials; kappa = error consistency (Cohen's kappa of trial-wise correctness "
           "beyond what the two accuracies predict; Geirhos et al. 2020). Paper: Tab. S6 of "
           "Han et al. (NeurIPS 2024).", ""]
    head = ["condition", "trials", f"{label} % [95 % CI]"]
    for n in names:
        head += [f"{n} %", f"kappa {n} [95 % CI]"]
    head += ["human (paper)", "MP (paper)", "best baseline (paper)"]
    md += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["condition"], str(r["trials"]),
                 f"{_pct(r['human'])} [{_pct(r['human_lo'])}, {_pct(r['human_hi'])}]"]
        for n in names:
            m = r["models"][n]
            k = "-" if m["kappa"] is None else (
                f"{m['kappa']:.2f} [{_num(m['kappa_lo'], 2)}, {_num(m['kappa_hi'], 2)}]")
            cells += [_pct(m["acc"]) or "-", k]
        best = r["paper_best_baseline"]
        cells += [_paper(r["paper_human"]) or "/", _paper(r["paper_MP"]) or "/",
                  f"{_paper(r['paper_best_baseline_acc'])} ({best})" if best else "/"]
        md.append("| " + " | ".join(cells) + " |")
    if rep.excluded:
        md += ["", "Excluded:", ""] + [f"- {p}: {why}" for p, why in sorted(rep.excluded.items())]
    atomic_write_text(paths["md"], "\n".join(md) + "\n")
    atomic_write_text(paths["json"], json.dumps(
        {"title": title, "simulated": result["simulated"], "exclusion": ex,
         "models": names, "rows": rows}, indent=1))
    with atomic_open(paths["exclusions"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["participant", "kept", "reason", "catch_correct", "catch_shown"])
        for p in sorted(set(rep.kept) | set(rep.excluded)):
            right, shown = rep.catch.get(p, (0, 0))
            w.writerow([p, int(p in rep.kept), rep.excluded.get(p, ""), right, shown])
    models = result.get("models", {})
    with atomic_open(paths["trials"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["participant", "trial_index", "condition", "video", "label", "response",
                    "correct", *(f"{n}_pred" for n in names), *(f"{n}_correct" for n in names)])
        for t in result["kept_trials"]:
            preds = [models[n].get((t.condition, t.video)) for n in names]
            w.writerow([t.participant, t.index, t.condition, t.video, t.label, t.response,
                        int(t.correct), *("" if p is None else p for p in preds),
                        *("" if p is None else int(p == t.label) for p in preds)])
    return paths


def plot_analysis(result: dict, path: str | os.PathLike, title: str) -> None:
    """Bars per condition: humans (or SIMULATED participants) with their 95 % interval, each
    model on the same trials; the paper's humans and MP (Tab. S6) as markers."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    rows, names = result["rows"], list(result.get("model_names", []))
    x = np.arange(len(rows))
    k = 1 + len(names)
    w = 0.8 / k
    fig, ax = plt.subplots(figsize=(max(6.5, 0.9 * len(rows) * max(1, k / 2) + 2.5), 4.4))
    sim = result["simulated"]
    hum = np.array([100 * r["human"] for r in rows])
    lo = np.array([100 * (r["human_lo"] if r["human_lo"] is not None else r["human"])
                   for r in rows])
    hi = np.array([100 * (r["human_hi"] if r["human_hi"] is not None else r["human"])
                   for r in rows])
    ax.bar(x - 0.4 + w / 2, hum, w, yerr=[hum - lo, hi - hum], capsize=3,
           color="#9467bd" if sim else "#2ca02c", hatch="//" if sim else None,
           edgecolor="white" if sim else None,
           label="SIMULATED participants (95% CI)" if sim else "humans (95% CI)")
    colors = ["#1f77b4", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
    for i, n in enumerate(names):
        acc = [100 * r["models"][n]["acc"] if r["models"][n]["acc"] is not None else np.nan
               for r in rows]
        ax.bar(x - 0.4 + w * (i + 1.5), acc, w, color=colors[i % len(colors)],
               label=f"{n} (same trials)")
    ph = [r["paper_human"] if r["paper_human"] is not None else np.nan for r in rows]
    pm = [r["paper_MP"] if r["paper_MP"] is not None else np.nan for r in rows]
    ax.plot(x, ph, "k_", markersize=16, mew=2.2, linestyle="none", label="humans (paper, Tab. S6)")
    ax.plot(x, pm, "rx", markersize=7, mew=1.8, linestyle="none", label="MP (paper, Tab. S6)")
    ax.set_xticks(x, [r["condition"] for r in rows], rotation=30 if len(rows) > 6 else 0,
                  ha="right" if len(rows) > 6 else "center", fontsize=8)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 122)
    ax.set_yticks(range(0, 101, 20))
    classes = result.get("num_classes")
    if classes:
        ax.axhline(100 / classes, color="k", lw=0.6, ls=":")
    ax.set_title(("SIMULATED PARTICIPANTS, NOT HUMAN DATA - " if sim else "") + title, fontsize=9,
                 color="#b00000" if sim else "black")
    ax.legend(fontsize=7, ncol=3, loc="upper center", frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


# ----------------------------------------------------------------------------- from an experiment
def _stimuli_name(source: str, condition: str, roots: dict[str, str]) -> str:
    """The clip's path relative to its condition's ``videos`` folder (bmp-eval's ``name``) from
    the plan's ``source`` (relative to the stimuli folder)."""
    src = source.replace("\\", "/")
    for prefix in (roots.get(condition), f"{condition}/videos", condition):
        if prefix and src.startswith(prefix.rstrip("/") + "/"):
            return clip_key(src[len(prefix.rstrip("/")) + 1:])
    return clip_key(src)


def read_export(trials_csv: str | os.PathLike, participants_csv: str | os.PathLike,
                roots: dict[str, str] | None = None) -> tuple[list[Trial], dict[str, bool]]:
    """The answered trials and who completed, from ``motionscope experiment export``'s
    ``trials.csv`` and ``participants.csv``. A participant is named by the recruitment id
    (``external_id``; ``<id>:<external_id>`` where two platforms share one)."""
    roots = roots or {}

    def rows(path):
        try:
            with open(path, newline="", encoding="utf-8") as f:
                return list(csv.DictReader(f))
        except OSError as e:
            raise DataError(path, f"cannot read ({e.strerror or e})") from None

    prows = rows(participants_csv)
    ext = [r.get("external_id", "") for r in prows]
    unique = len(set(ext)) == len(ext)
    name = {r["participant"]: (r["external_id"] if unique else f"{r['participant']}:{r['external_id']}")
            for r in prows}
    completed = {name[r["participant"]]: bool(r.get("completed_at")) for r in prows}
    trials = []
    for line, r in enumerate(rows(trials_csv), start=2):
        if r.get("response", "") == "":
            continue
        try:
            trials.append(Trial(name.get(r["participant"], r["participant"]),
                                int(r["trial_index"]), r["kind"], r["condition"],
                                _stimuli_name(r.get("source") or r["video"], r["condition"], roots),
                                int(r["label"]), int(r["response"])))
        except (KeyError, ValueError) as e:
            raise DataError(trials_csv, f"line {line}: not an experiment export row ({e})") from None
    return trials, completed


def analyze(experiment: str | os.PathLike, runs: Sequence[str] | str | None, out: str | os.PathLike,
            db_url: str | None = None, min_correct: int | None = None,
            require_complete: bool = True, n_boot: int = 2000, seed: int = 0,
            stimuli: str | os.PathLike | None = None, chart: bool = True,
            progress: bool = True) -> dict:
    """Export the experiment's answers to ``<out>/export/``, apply the exclusion rule, pair every
    kept test trial with each run's prediction for the same clip and write the tables and chart
    (module docstring). ``runs``: run directories, checkpoints or bmp-eval output folders (a
    list or comma string; none: humans alone); ``stimuli``: where bmp-eval reads the clips when
    a run has no predictions yet (default: the stimuli folder the experiment was made from).
    Returns ``{"rows", "exclusion", "simulated", "models", "files"}``."""
    from .export import export_experiment
    from .folder import load_experiment

    exp = load_experiment(experiment)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(runs, str):
        runs = [r for r in (x.strip() for x in runs.split(",")) if r]
    runs = list(runs or [])
    if n_boot < 1:
        raise ConfigError(f"n_boot must be >= 1, got {n_boot}")
    files = export_experiment(experiment, out / "export", db_url=db_url)
    stim_root = Path(stimuli) if stimuli else (Path(exp.plan["stimuli"]) if exp.plan.get("stimuli")
                                               else None)
    roots = {}
    if stim_root is not None and (stim_root / "stimuli.json").is_file():
        try:
            man = json.loads((stim_root / "stimuli.json").read_text(encoding="utf-8"))
            roots = {c: str(v.get("root", "")) for c, v in man.get("conditions", {}).items()}
        except (OSError, ValueError):
            roots = {}
    trials, completed = read_export(files["trials"], files["participants"], roots)
    if min_correct is None:
        min_correct = int(exp.cfg["catch.min_correct"])
    conditions = [c for c in exp.plan["conditions"]]
    models = model_predictions(runs, stim_root, conditions, out, progress=progress) if runs else {}
    res = analyze_trials(trials, models, completed, min_correct, require_complete, n_boot, seed)
    res["models"] = models
    res["model_names"] = list(models)
    res["num_classes"] = len(exp.classes)
    title = f"{exp.cfg['title']} ({exp.root.name}): {len(res['exclusion'].kept)} participants kept"
    paths = write_tables(res, out, title)
    if chart:
        paths["chart"] = out / "analysis.png"
        plot_analysis(res, paths["chart"], title)
    paths.update({f"export_{k}": v for k, v in files.items()})
    return {"rows": res["rows"], "exclusion": res["exclusion"].as_dict(),
            "simulated": res["simulated"], "models": list(models),
            "files": {k: str(v) for k, v in paths.items()}}
