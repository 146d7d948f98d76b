"""``experiment.yaml``: the validated settings of an experiment folder.

An experiment folder (written by ``motionscope experiment create``) holds::

    experiment.yaml        these settings (edit them; unknown keys are refused)
    plan.json              the trial plan (written by create; see plan.py)
    videos/<id>.mp4|webm   the clips, under opaque names (a name must not give the answer away)
    consent.html           texts shown to participants: HTML fragments to edit
    instructions.html
    ready.html
    questionnaire.html     a form fragment: every input's ``name`` is one questionnaire answer

Keys that define the plan (``plan.*``) are written by create and checked against plan.json when
the server starts; change them by running create again.
"""

from __future__ import annotations

import copy
import os
import re
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, DataError
from ..io.paths import resolve_under

__all__ = ["ExperimentConfig", "load_config", "default_config", "dump_config", "CONFIG_NAME",
           "TEXT_FILES", "PLATFORMS", "questionnaire_fields"]

CONFIG_NAME = "experiment.yaml"
PLATFORMS = ("lab", "prolific", "mturk", "any")
TEXT_FILES = {"consent": "consent.html", "instructions": "instructions.html",
              "ready": "ready.html", "questionnaire": "questionnaire.html"}

# key -> default; a dict is a section. None defaults take str (or the type in _TYPES).
_SCHEMA: dict[str, Any] = {
    "format": "motionscope-experiment",
    "version": 1,
    "title": "Recognising actions",
    "classes": [],
    "plan": {
        "stimuli": "",
        "conditions": [],
        "participants": 1,
        "trials_per_participant": 0,
        "seed": 0,
        "catch": 0,
        "practice": 0,
        "practice_condition": "",
        "extras": "world",
    },
    "video": {"width": 480, "height": 480, "format": "mp4"},
    "trial": {"answer_after_video": True},
    "practice": {"feedback_wrong": "Wrong selection!", "feedback_right": "Correct!"},
    "catch": {"min_correct": 0},
    "recruitment": {"platform": "lab"},
    "completion": {"code": None, "redirect_url": None, "redirect_delay_s": 3.0},
    "privacy": {"store_ip": False},
    "admin_token": "",
    "texts": dict(TEXT_FILES),
    "limits": {"max_body_bytes": 16384, "max_answer_chars": 2000},
}
_OPTIONAL = {"completion.code", "completion.redirect_url"}
_LISTS = {"classes", "plan.conditions"}


@dataclass
class ExperimentConfig:
    """The loaded settings plus the folder they belong to."""

    root: Path
    data: dict = field(default_factory=dict)

    def __getitem__(self, dotted: str) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            node = node[part]
        return node

    @property
    def path(self) -> Path:
        return self.root / CONFIG_NAME

    def text_path(self, name: str) -> Path:
        """The file of text ``name`` (consent, instructions, ready, questionnaire)."""
        return resolve_under(self.root, self["texts"][name], source=self.path, line=f"texts.{name}")

    def text(self, name: str) -> str:
        p = self.text_path(name)
        try:
            return p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(p, f"cannot read the {name} text ({e}); it is named by texts.{name} "
                               f"in {self.path}") from None


def default_config() -> dict:
    """A fresh copy of every key with its default."""
    return copy.deepcopy(_SCHEMA)


def _check(node: Any, schema: Any, key: str, path: Path) -> Any:
    where = f"{path}: {key}"
    if isinstance(schema, dict):
        if not isinstance(node, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(node).__name__}")
        unknown = sorted(set(node) - set(schema))
        if unknown:
            raise ConfigError(f"{path}: unknown key {(key + '.' if key else '') + unknown[0]!s}"
                              f" (known: {', '.join(sorted(schema))})")
        return {k: _check(node.get(k, copy.deepcopy(v)), v, f"{key}.{k}" if key else k, path)
                for k, v in schema.items()}
    if key in _OPTIONAL and node is None:
        return None
    if key in _LISTS:
        if not isinstance(node, list) or not all(isinstance(x, str) and x for x in node):
            raise ConfigError(f"{where}: expected a list of non-empty strings")
        return list(node)
    want = type(schema) if schema is not None else str
    if want is bool:
        if not isinstance(node, bool):
            raise ConfigError(f"{where}: expected true or false, got {node!r}")
    elif want is int:
        if isinstance(node, bool) or not isinstance(node, int):
            raise ConfigError(f"{where}: expected an integer, got {node!r}")
    elif want is float:
        if isinstance(node, bool) or not isinstance(node, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {node!r}")
        node = float(node)
    elif not isinstance(node, str):
        raise ConfigError(f"{where}: expected a string, got {node!r}")
    return node


def _validate(d: dict, path: Path) -> dict:
    if d["format"] != "motionscope-experiment":
        raise ConfigError(f"{path}: format is {d['format']!r}, not 'motionscope-experiment'")
    if d["version"] != 1:
        raise ConfigError(f"{path}: version {d['version']} is not supported (this motionscope "
                          "reads version 1)")
    if len(d["classes"]) < 2:
        raise ConfigError(f"{path}: classes: a forced choice needs at least 2 class names")
    if len(set(d["classes"])) != len(d["classes"]):
        raise ConfigError(f"{path}: classes: the button labels must differ")
    if d["recruitment"]["platform"] not in PLATFORMS:
        raise ConfigError(f"{path}: recruitment.platform {d['recruitment']['platform']!r}: "
                          f"expected one of {', '.join(PLATFORMS)}")
    for k in ("width", "height"):
        if not 16 <= d["video"][k] <= 4096:
            raise ConfigError(f"{path}: video.{k} must be in 16..4096 pixels")
    if d["video"]["format"] not in ("mp4", "webm"):
        raise ConfigError(f"{path}: video.format must be mp4 or webm")
    if not 256 <= d["limits"]["max_body_bytes"] <= 1 << 20:
        raise ConfigError(f"{path}: limits.max_body_bytes must be in 256..1048576")
    if len(d["admin_token"]) < 16:
        raise ConfigError(f"{path}: admin_token must have at least 16 characters (create writes a "
                          "random one)")
    code = d["completion"]["code"]
    if code is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", code):
        raise ConfigError(f"{path}: completion.code: letters, digits, _ and - only (or null: one "
                          "random code per participant)")
    url = d["completion"]["redirect_url"]
    if url is not None and not re.match(r"https?://", url):
        raise ConfigError(f"{path}: completion.redirect_url must start with http:// or https://")
    if d["catch"]["min_correct"] > d["plan"]["catch"]:
        raise ConfigError(f"{path}: catch.min_correct ({d['catch']['min_correct']}) exceeds the "
                          f"number of catch trials ({d['plan']['catch']})")
    if d["plan"]["extras"] not in ("world", "stimuli"):
        raise ConfigError(f"{path}: plan.extras must be world or stimuli")
    return d


def load_config(root: str | os.PathLike) -> ExperimentConfig:
    """Read and validate ``root/experiment.yaml`` (ConfigError naming the file and key)."""
    root = Path(root)
    path = root / CONFIG_NAME
    if not root.is_dir():
        raise DataError(root, "no such experiment folder (make one with `motionscope experiment "
                              "create`)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "missing: this folder is not an experiment (`motionscope experiment "
                              "create` writes it)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read ({e})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if raw is None:
        raw = {}
    data = _validate(_check(raw, _SCHEMA, "", path), path)
    cfg = ExperimentConfig(root, data)
    for name in TEXT_FILES:
        cfg.text_path(name)  # paths stay inside the folder
    return cfg


def dump_config(data: dict) -> str:
    """YAML text of a settings dict (key order as in the schema), with a header comment."""
    head = ("# motionscope experiment settings (docs/psychophysics.md). Unknown keys are refused.\n"
            "# plan.* was used by `motionscope experiment create` to write plan.json: change it by\n"
            "# running create again. Texts are the HTML fragments named under texts.\n")
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def new_admin_token() -> str:
    """A random admin token (URL-safe)."""
    return secrets.token_urlsafe(24)


class _Names(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("input", "select", "textarea"):
            name = dict(attrs).get("name")
            if name and name not in self.names:
                self.names.append(name)


def questionnaire_fields(html: str) -> list[str]:
    """The ``name`` of every input/select/textarea of the questionnaire fragment: the only
    answer keys the server accepts."""
    p = _Names()
    p.feed(html)
    return p.names
