"""Metrics as JSON lines (+ TensorBoard) and a progress bar with loss, throughput and ETA."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..progress import progress, progress_enabled  # noqa: F401  (re-exported for the engine)


class MetricsLogger:
    """Appends one JSON object per line to ``metrics.jsonl``; mirrors scalars to TensorBoard.

    Idempotent per ``(split, step)``: a record for a pair the file already holds replaces that
    line (a run killed after logging a step and before its checkpoint logs it again on resume),
    and :meth:`truncate` drops what was logged after the step a run resumes from.
    """

    def __init__(self, run_dir: Path, enabled: bool = True, tensorboard: bool = True):
        self.enabled = enabled
        self.path = Path(run_dir) / "metrics.jsonl"
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._seen: set[tuple] = set()
        if enabled and self.path.is_file():
            self._seen = {_key(r) for r in _read(self.path)}
        self.tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(Path(run_dir) / "tb"))
            except ImportError:  # tensorboard is optional
                self.tb = None

    def log(self, record: dict) -> None:
        if not self.enabled:
            return
        record = {"time": round(time.time(), 3), **record}
        key = _key(record)
        if key in self._seen:  # logged before a kill: replace, never duplicate
            self._rewrite([r for r in _read(self.path) if _key(r) != key] + [record])
        else:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, default=float) + "\n")
            self._seen.add(key)
        if self.tb is not None:
            step = record.get("step", 0)
            split = record.get("split", "train")
            for k, v in record.items():
                if k not in ("step", "epoch", "time", "split") and isinstance(v, int | float):
                    self.tb.add_scalar(f"{split}/{k}", v, step)

    def truncate(self, step: int) -> None:
        """Drop the records logged after ``step`` (the step a run starts or resumes from) and
        duplicates of one ``(split, step)`` (the last one is kept)."""
        if not self.enabled or not self.path.is_file():
            return
        records = _read(self.path)
        kept: dict[tuple, dict] = {}
        for r in records:
            if (r.get("step") or 0) <= step:
                kept.pop(_key(r), None)
                kept[_key(r)] = r
        self._rewrite(list(kept.values()))  # also drops a line cut short by a kill

    def _rewrite(self, records: list[dict]) -> None:
        from ..fsutil import atomic_write_text

        atomic_write_text(self.path, "".join(json.dumps(r, default=float) + "\n"
                                             for r in records))
        self._seen = {_key(r) for r in records}

    def close(self) -> None:
        if self.tb is not None:
            self.tb.flush()
            self.tb.close()


def _key(record: dict) -> tuple:
    return record.get("split", "train"), record.get("step")


def _read(path: Path) -> list[dict]:
    """The records of a metrics file; a line cut short by a kill is skipped."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """The records of ``run_dir/metrics.jsonl`` (a last line cut short by a kill is skipped)."""
    path = Path(run_dir) / "metrics.jsonl"
    return _read(path) if path.is_file() else []
