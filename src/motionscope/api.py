"""The Python API: every CLI command calls exactly one function here.

    >>> import motionscope.api as ms
    >>> result = ms.train("baseline_skeleton", ["train.epochs=2"])
    >>> ms.evaluate(result["run_dir"])
"""

from __future__ import annotations

from .prepare import prepare
from .stimuli import generate_stimuli as stimuli
from .synth import generate_world as synth
from .tasks.bmp import bmp_eval
from .tasks.classify import evaluate, predict, train
from .tasks.demo import demo

__all__ = ["train", "evaluate", "predict", "demo", "info", "synth", "prepare", "stimuli",
           "bmp_eval"]


def info() -> dict:
    """Versions, device, threads, models and presets (what `motionscope info` prints)."""
    import platform

    import numpy as np
    import torch

    from . import __version__
    from .config import list_presets
    from .models import list_models

    cuda = torch.cuda.is_available()
    return {
        "motionscope": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "cuda": torch.version.cuda if cuda else None,
        "threads": torch.get_num_threads(),
        "models": list_models(),
        "presets": list(list_presets()),
    }
