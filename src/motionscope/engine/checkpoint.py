"""Checkpoints: atomic writes, exact-resume state, readable errors for bad files; no code on load.

A checkpoint holds only what ``torch.load(weights_only=True)`` reads: tensors, numbers,
strings, ``None`` and plain containers (RNG states included, see :func:`rng_state`), so every
file is loaded with ``weights_only=True`` and a crafted file cannot run code. Checkpoints of
motionscope before format 2 pickled numpy RNG states; :func:`convert_legacy_checkpoint`
(``motionscope convert-checkpoint OLD NEW``) rewrites them once. See docs/security.md.
"""

from __future__ import annotations

import os
import pickle
import random
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..fsutil import atomic_path
from ..statedict import load_error_reason, refused_global

FORMAT_VERSION = 2  # 2: weights-only loadable (RNG states as tensors and plain values)

CONVERT_COMMAND = "motionscope convert-checkpoint"

# what torch.load(weights_only=True) rebuilds without any global we would have to allow
_PLAIN = (str, bytes, int, float, bool, complex, type(None), torch.dtype, torch.device)
_TENSORS = (torch.Tensor, torch.nn.Parameter)


def rng_state() -> dict:
    """Python, numpy, torch (and CUDA) RNG states as tensors and plain values (weights-only safe)."""
    version, py_key, gauss_next = random.getstate()
    name, key, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state = {"python": {"version": int(version), "state": torch.tensor(py_key, dtype=torch.int64),
                        "gauss_next": gauss_next},
             "numpy": {"bit_generator": str(name), "key": torch.from_numpy(key.astype(np.int64)),
                       "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore the streams of :func:`rng_state` exactly."""
    py, nps = state["python"], state["numpy"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss_next"]))
    np.random.set_state((nps["bit_generator"], nps["key"].numpy().astype(np.uint32), nps["pos"],
                         nps["has_gauss"], nps["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def check_weights_only(obj: Any, key: str = "state") -> None:
    """Raise TypeError naming the key of the first value ``torch.load(weights_only=True)`` would
    refuse, so a new checkpoint field cannot silently bring pickled objects back."""
    t = type(obj)
    if t in _TENSORS or t in _PLAIN:
        return
    if t in (dict, OrderedDict):
        for k, v in obj.items():
            if type(k) not in _PLAIN:
                raise TypeError(f"checkpoint {key}: key {k!r} of type {type(k).__name__} is not "
                                "loadable with weights_only=True")
            check_weights_only(v, f"{key}[{k!r}]")
        return
    if t in (list, tuple, set, torch.Size):
        for i, v in enumerate(obj):
            check_weights_only(v, f"{key}[{i}]")
        return
    raise TypeError(f"checkpoint {key}: {t.__module__}.{t.__qualname__} is not loadable with "
                    "weights_only=True; store tensors, numbers, strings and plain containers")


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """torch.save through a temp file + rename: a kill never leaves a truncated checkpoint.

    The state is checked first (:func:`check_weights_only`): every file must load without
    unpickling code.
    """
    state = {**state, "format_version": FORMAT_VERSION}
    state.pop("_path", None)
    check_weights_only(state)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _pickle_protocol(path: Path) -> int | None:
    """The protocol of a file that starts as a pickle (torch.save's own pickles use 2)."""
    with open(path, "rb") as f:
        head = f.read(2)
    return head[1] if len(head) == 2 and head[0] == pickle.PROTO[0] else None


def _needs(path: Path, e: pickle.UnpicklingError) -> str | None:
    """What a file that weights_only refused needs; None when it is just corrupt."""
    glob = refused_global(str(e))
    if glob is not None:
        return f"unpickling {glob}"
    if (proto := _pickle_protocol(path)) is not None and proto > 2:
        return f"a full unpickler (a pickle of protocol {proto}: {load_error_reason(e)})"
    return None


def _refusal(path: Path, e: pickle.UnpicklingError) -> str:
    """The one-line problem for a file that a weights-only load refused (or cannot parse)."""
    what = _needs(path, e)
    if what is None:
        return f"corrupt or unreadable checkpoint ({load_error_reason(e)})"
    new = path.with_name(f"{path.stem}.v{FORMAT_VERSION}{path.suffix or '.pt'}")
    return (f"refused to load: the file needs {what}, and motionscope never unpickles code "
            "(checkpoints hold tensors and plain values only); a checkpoint written by "
            f"motionscope before checkpoint format {FORMAT_VERSION} that you trust can be converted "
            f"with `{CONVERT_COMMAND} {path} {new}`")


def _torch_load(path: Path, **kw) -> Any:
    with warnings.catch_warnings():  # a pickle of another protocol is refused below anyway
        warnings.filterwarnings("ignore", message="Detected pickle protocol")
        return torch.load(path, map_location="cpu", **kw)


def _resolve(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.is_dir():  # a run directory
        for cand in (path / "checkpoints" / "last.pt", path / "checkpoints" / "best.pt"):
            if cand.is_file():
                return cand
        raise CheckpointError(path, "no checkpoints/last.pt or checkpoints/best.pt in this run")
    if not path.is_file():
        raise CheckpointError(path, "checkpoint file not found")
    return path


def _check_motionscope(path: Path, state: Any) -> None:
    """A motionscope checkpoint of a format this version reads, or one error naming the file."""
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise CheckpointError(path, "not a motionscope checkpoint (no 'model'/'config'); "
                              "for official weights use model.pretrained=PATH")
    version = state.get("format_version", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(path, f"checkpoint format {version} is newer than this motionscope "
                                    f"reads ({FORMAT_VERSION}): upgrade motionscope")


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a motionscope checkpoint (file or run directory) with ``weights_only=True``.

    CheckpointError names the file on any problem: missing, corrupt, not ours, written by a
    newer motionscope, or needing pickled objects (an old checkpoint: see the message).
    """
    path = _resolve(path)
    try:
        state = _torch_load(path, weights_only=True)
    except pickle.UnpicklingError as e:  # weights_only refused a global or an instruction
        raise CheckpointError(path, _refusal(path, e)) from None
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(path, f"corrupt or unreadable checkpoint ({load_error_reason(e)})") from e
    _check_motionscope(path, state)
    state["_path"] = str(path)
    return state


# ------------------------------------------------------------------ format 1 -> 2


def _numpy_globals() -> list:
    """What a numpy array, scalar or dtype needs to be rebuilt from its bytes: nothing that runs
    code of the file's choosing (format 1 pickled numpy RNG states and, at times, numpy floats)."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    out: list = [np.ndarray, np.dtype]
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out += [(multiarray._reconstruct, f"{mod}._reconstruct"), (multiarray.scalar, f"{mod}.scalar")]
    dtypes = getattr(np, "dtypes", None)  # the dtype classes, for BUILD on a dtype instance
    if dtypes is not None:
        out += [c for c in vars(dtypes).values() if isinstance(c, type) and issubclass(c, np.dtype)]
    return out


def to_safe(obj: Any) -> Any:
    """numpy arrays -> tensors (or lists), numpy scalars -> Python numbers, recursively."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "biuf" and obj.dtype not in (np.uint32, np.uint64):
            return torch.from_numpy(np.array(obj))
        if obj.dtype == np.uint32:
            return torch.from_numpy(obj.astype(np.int64))
        return to_safe(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        out = (OrderedDict if isinstance(obj, OrderedDict) else dict)(
            (to_safe(k), to_safe(v)) for k, v in obj.items())
        if hasattr(obj, "_metadata"):  # a state_dict's per-module versions
            out._metadata = obj._metadata
        return out
    if isinstance(obj, torch.Size):
        return obj
    if isinstance(obj, list | tuple):
        items = [to_safe(v) for v in obj]
        return items if isinstance(obj, list) else tuple(items)
    return obj


def _rng_to_safe(rng: Any) -> Any:
    """Format-1 RNG states (Python and numpy tuples) -> the form of :func:`rng_state`."""
    if isinstance(rng, list):
        return [_rng_to_safe(r) for r in rng]
    if not isinstance(rng, dict):
        return to_safe(rng)
    out = dict(rng)
    py = rng.get("python")
    if isinstance(py, tuple):
        out["python"] = {"version": int(py[0]), "state": torch.tensor(py[1], dtype=torch.int64),
                         "gauss_next": py[2]}
    nps = rng.get("numpy")
    if isinstance(nps, tuple):
        name, key, pos, has_gauss, cached = nps
        out["numpy"] = {"bit_generator": str(name),
                        "key": torch.from_numpy(np.asarray(key).astype(np.int64)),
                        "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}
    return to_safe(out)


def convert_legacy_checkpoint(src: str | os.PathLike, dst: str | os.PathLike,
                              trust_pickle: bool = False) -> Path:
    """Rewrite a checkpoint of motionscope before format 2 as format 2; returns ``dst``.

    By default the old file is read with ``weights_only=True`` plus the numpy globals that
    format 1 used (arrays, scalars and dtypes rebuilt from their bytes), so no code of the file
    runs; a file needing any other global is refused. ``trust_pickle=True`` reads it with
    ``weights_only=False`` instead: **that executes whatever the pickle says — any code at
    all. Use it only on a file you wrote yourself or otherwise trust.** ``dst`` must differ from
    ``src`` (the old file stays until you replace it); the new file is written atomically and
    read back with ``weights_only=True``.
    """
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise CheckpointError(src, "checkpoint file not found")
    if dst.exists() and dst.resolve() == src.resolve():
        raise CheckpointError(dst, "the converted checkpoint must go to another file than the "
                                   "old one (replace the old file yourself afterwards)")
    try:
        if trust_pickle:
            # DANGER: runs the pickle's code; only reached on the caller's explicit request
            state = _torch_load(src, weights_only=False)
        else:
            with torch.serialization.safe_globals(_numpy_globals()):
                state = _torch_load(src, weights_only=True)
    except pickle.UnpicklingError as e:
        what = _needs(src, e)
        if what is None:
            raise CheckpointError(src, f"corrupt or unreadable checkpoint ({load_error_reason(e)})") from None
        raise CheckpointError(src, f"refused to convert: the file needs {what}, which no "
                                   "motionscope checkpoint needs; only if you trust the file, "
                                   "convert with trust_pickle=True (--trust-pickle), which runs "
                                   "its code") from None
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(src, f"corrupt or unreadable checkpoint ({load_error_reason(e)})") from e
    _check_motionscope(src, state)
    state = {k: (_rng_to_safe(v) if k == "rng" else to_safe(v)) for k, v in state.items()}
    try:
        save_checkpoint(dst, state)
    except TypeError as e:
        raise CheckpointError(src, f"cannot convert: {e}") from None
    load_checkpoint(dst)
    return dst
