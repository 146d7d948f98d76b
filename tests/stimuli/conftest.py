"""A tiny embedded world (2 classes, 6 test clips covering the three camera views) and all 24
BMP conditions rendered from it once per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    from motionscope.synth import generate_world

    root = tmp_path_factory.mktemp("world")
    generate_world(root, classes="pick_up,throw", clips_per_class=6, size=(64, 64),
                   formats="rgb,skeleton,keypoints", progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_stimuli(tiny_world, tmp_path_factory):
    from motionscope.stimuli import generate_stimuli

    out = tmp_path_factory.mktemp("stimuli")
    generate_stimuli(tiny_world, out, "all", progress=False)
    return out
