"""Appearance must not give the class away: one frame tells little, the motion tells a lot.

A linear classifier on one downsampled frame per clip is compared with the same classifier on
the clip's 2D joint trajectories, cross-validated over performers (so a classifier can not lean
on knowing a person). Clothing, rooms, cameras, chairs and distractors are drawn independently
of the class; only the motion carries it.
"""

from __future__ import annotations

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from motionscope.synth.actions import get_classes
from motionscope.synth.body import LAYOUT_MAPS
from motionscope.synth.camera import plan_world
from motionscope.synth.export import WorldConfig, render_plan


def test_single_frame_is_much_worse_than_motion():
    cfg = WorldConfig(clips_per_class=12, frames=12, size=(32, 32), seed=0)
    plans = plan_world(get_classes(cfg.classes), cfg.clips_per_class)
    rng = np.random.default_rng(0)
    frame_x, motion_x, y, groups = [], [], [], []
    for p in plans:
        _, out, _ = render_plan(cfg, p)
        frame = out.rgb[rng.integers(cfg.frames)]
        frame_x.append(cv2.resize(frame, (12, 12), interpolation=cv2.INTER_AREA).ravel() / 255)
        j = out.joints_2d[:, LAYOUT_MAPS["ntu25"]]
        motion_x.append(((j - j[:1, :1]) / (np.ptp(j[0, :, 1]) + 1e-6)).ravel())
        y.append(p.label)
        groups.append(p.performer)
    y = np.array(y)
    assert np.bincount(y).tolist() == [12] * 10

    def accuracy(x):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=500))
        return cross_val_score(clf, np.array(x), y, groups=groups, cv=GroupKFold(4)).mean()

    single, motion = accuracy(frame_x), accuracy(motion_x)
    assert single < 0.25, f"one frame predicts the class too well ({single:.2f})"
    assert motion > 0.4, f"the motion does not carry the class ({motion:.2f})"
    assert motion - single > 0.3
