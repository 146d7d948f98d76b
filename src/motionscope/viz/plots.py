"""Plots people compare: confusion matrices and per-class accuracy bars (matplotlib, Agg)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..fsutil import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(cm: np.ndarray, classes: Sequence[str], path: str | os.PathLike,
                   title: str = "Confusion matrix (rows: true, columns: predicted)") -> None:
    """Row-normalised confusion matrix with counts annotated when the matrix is small."""
    plt = _plt()
    k = len(classes)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    size = max(4.0, 0.45 * k + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    if k <= 30:
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of true class")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def plot_bars(values: dict[str, dict[str, float]], path: str | os.PathLike, ylabel: str = "accuracy",
              title: str = "") -> None:
    """Grouped bars: ``values[series][category]`` (e.g. accuracy per condition per model)."""
    plt = _plt()
    series = list(values)
    cats = list(dict.fromkeys(c for s in series for c in values[s]))
    x = np.arange(len(cats))
    w = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(cats) * max(len(series), 1)), 4))
    for i, s in enumerate(series):
        ax.bar(x + i * w - 0.4 + w / 2, [values[s].get(c, np.nan) for c in cats], w, label=s)
    ax.set_xticks(x, cats, rotation=45, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
