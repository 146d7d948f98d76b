"""``motionscope experiment export``: every trial, participant and questionnaire as CSV.

``trials.csv`` has one row per trial of every participant (answered or not), practice and catch
trials flagged; ``participants.csv`` one row per participant with the catch score and the
exclusion flag (fewer than ``catch.min_correct`` catch trials right, as in the paper);
``questionnaire.csv`` one row per submitted questionnaire, one column per field.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from ..fsutil import atomic_write_text

__all__ = ["export_experiment", "participant_summaries", "TRIAL_COLUMNS", "PARTICIPANT_COLUMNS"]

TRIAL_COLUMNS = ["participant", "platform", "external_id", "slot", "trial_index", "kind",
                 "is_practice", "is_catch", "condition", "video", "source", "label", "label_name",
                 "response", "response_name", "position", "correct", "rt_end_ms", "rt_start_ms",
                 "video_ended", "video_duration_ms", "client_start_ms", "answered_at", "excluded"]
PARTICIPANT_COLUMNS = ["participant", "platform", "external_id", "study_id", "session_id", "slot",
                       "created_at", "consent_at", "declined_at", "completed_at", "answered",
                       "trials", "catch_correct", "catch_total", "excluded", "completion_code"]


def participant_summaries(participants: Iterable, trials: Iterable, min_correct: int) -> dict:
    """participant id -> ``{"answered", "trials", "catch_correct", "catch_total", "excluded"}``;
    excluded: all catch trials answered and fewer than ``min_correct`` of them right (a
    participant still in the middle is not excluded yet)."""
    out = {p.id: {"answered": 0, "trials": 0, "catch_correct": 0, "catch_total": 0,
                  "catch_answered": 0, "excluded": False} for p in participants}
    for t in trials:
        d = out.get(t.participant_id)
        if d is None:
            continue
        if t.kind != "practice":
            d["trials"] += 1
            d["answered"] += t.response is not None
        if t.kind == "catch":
            d["catch_total"] += 1
            d["catch_answered"] += t.response is not None
            d["catch_correct"] += bool(t.correct)
    for d in out.values():
        d["excluded"] = (d["catch_total"] > 0 and d["catch_answered"] == d["catch_total"]
                         and d["catch_correct"] < min_correct)
    return out


def _iso(x: datetime | None) -> str:
    """ISO 8601 in UTC (SQLite hands back naive datetimes: they were written in UTC)."""
    if x is None:
        return ""
    return (x if x.tzinfo else x.replace(tzinfo=timezone.utc)).isoformat()


def _csv(header: list[str], rows: Iterable[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", extrasaction="raise")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r[k]) for k in header})
    return buf.getvalue()


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.3f}"


def export_experiment(experiment: str | os.PathLike, out: str | os.PathLike,
                      db_url: str | None = None) -> dict[str, Path]:
    """Write ``trials.csv``, ``participants.csv`` and ``questionnaire.csv`` of the experiment's
    database into ``out``; returns their paths by name."""
    from .config import questionnaire_fields
    from .db import Store
    from .folder import load_experiment

    exp = load_experiment(experiment)
    store = Store(db_url or exp.default_db_url())
    try:
        store.migrate(exp.id)
        parts = store.all_participants()
        trials = store.all_trials()
        quest = store.all_questionnaires()
    finally:
        store.dispose()
    classes = exp.classes
    summ = participant_summaries(parts, trials, exp.cfg["catch.min_correct"])
    by_id = {p.id: p for p in parts}
    rows = []
    for t in trials:
        p = by_id[t.participant_id]
        v = exp.videos.get(t.video, {})
        rows.append({
            "participant": p.id, "platform": p.platform, "external_id": p.external_id,
            "slot": p.slot, "trial_index": t.index, "kind": t.kind,
            "is_practice": int(t.kind == "practice"), "is_catch": int(t.kind == "catch"),
            "condition": t.condition, "video": t.video, "source": v.get("source", ""),
            "label": t.label, "label_name": classes[t.label],
            "response": t.response,
            "response_name": "" if t.response is None else classes[t.response],
            "position": t.position, "correct": "" if t.correct is None else int(t.correct),
            "rt_end_ms": _num(t.rt_end_ms), "rt_start_ms": _num(t.rt_start_ms),
            "video_ended": "" if t.video_ended is None else int(t.video_ended),
            "video_duration_ms": _num(t.video_duration_ms),
            "client_start_ms": _num(t.client_start_ms), "answered_at": _iso(t.answered_at),
            "excluded": int(summ[p.id]["excluded"])})
    prow = [{"participant": p.id, "platform": p.platform, "external_id": p.external_id,
             "study_id": p.study_id, "session_id": p.session_id, "slot": p.slot,
             "created_at": _iso(p.created_at), "consent_at": _iso(p.consent_at),
             "declined_at": _iso(p.declined_at), "completed_at": _iso(p.completed_at),
             **{k: summ[p.id][k] for k in ("answered", "trials", "catch_correct", "catch_total")},
             "excluded": int(summ[p.id]["excluded"]), "completion_code": p.completion_code}
            for p in parts]
    fields = questionnaire_fields(exp.cfg.text("questionnaire"))
    qrows, extra = [], []
    for q in quest:
        ans = json.loads(q.answers)
        extra += [k for k in ans if k not in fields and k not in extra]
        p = by_id[q.participant_id]
        qrows.append({"participant": p.id, "external_id": p.external_id,
                      "submitted_at": _iso(q.submitted_at), **ans})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"trials": out / "trials.csv", "participants": out / "participants.csv",
             "questionnaire": out / "questionnaire.csv"}
    atomic_write_text(files["trials"], _csv(TRIAL_COLUMNS, rows))
    atomic_write_text(files["participants"], _csv(PARTICIPANT_COLUMNS, prow))
    atomic_write_text(files["questionnaire"],
                      _csv(["participant", "external_id", "submitted_at", *fields, *extra], qrows))
    return files
