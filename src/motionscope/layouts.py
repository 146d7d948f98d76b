"""Named joint layouts: joint names, bones and left/right pairs (no torch).

A skeleton array ``(M, T, V, C)`` means nothing without the order of its ``V`` joints. Every
reader, the embedded world, the point-light stimuli and the graph models name their layout here,
so a bone list or a flip pair is written once. Indices are 0-based; the docstrings give the
1-based numbers the datasets document.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

__all__ = ["Layout", "get_layout", "list_layouts", "LAYOUTS"]


@dataclass(frozen=True)
class Layout:
    """A joint order: ``joints`` names, ``bones`` as (parent-side, child-side) index pairs and
    ``flip_pairs`` (left, right) for horizontal-flip augmentation."""

    name: str
    joints: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...]

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        """0-based index of a joint name (``layout.index("l_wrist")``)."""
        try:
            return self.joints.index(joint)
        except ValueError:
            raise ConfigError(f"layout {self.name!r} has no joint {joint!r}; it has "
                              f"{', '.join(self.joints)}") from None

    def flip_index(self) -> list[int]:
        """Permutation that swaps left and right joints (apply after mirroring x)."""
        perm = list(range(self.num_joints))
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm


# Kinect v2 / NTU RGB+D, 1-based as NTU documents it: 1 base of spine, 2 middle of spine, 3 neck,
# 4 head, 5-8 left shoulder/elbow/wrist/hand, 9-12 right ..., 13-16 left hip/knee/ankle/foot,
# 17-20 right ..., 21 spine (shoulder centre), 22 left hand tip, 23 left thumb, 24 right hand tip,
# 25 right thumb. Bones follow the Kinect SDK body tree (hand-tip on the hand, thumb on the wrist).
_NTU25_JOINTS = (
    "spine_base", "spine_mid", "neck", "head",
    "l_shoulder", "l_elbow", "l_wrist", "l_hand",
    "r_shoulder", "r_elbow", "r_wrist", "r_hand",
    "l_hip", "l_knee", "l_ankle", "l_foot",
    "r_hip", "r_knee", "r_ankle", "r_foot",
    "spine_shoulder", "l_hand_tip", "l_thumb", "r_hand_tip", "r_thumb",
)
_NTU25_BONES_1 = (
    (1, 2), (2, 21), (21, 3), (3, 4), (21, 5), (5, 6), (6, 7), (7, 8), (8, 22), (7, 23),
    (21, 9), (9, 10), (10, 11), (11, 12), (12, 24), (11, 25),
    (1, 13), (13, 14), (14, 15), (15, 16), (1, 17), (17, 18), (18, 19), (19, 20),
)
_NTU25_FLIP_1 = ((5, 9), (6, 10), (7, 11), (8, 12), (13, 17), (14, 18), (15, 19), (16, 20),
                 (22, 24), (23, 25))

# Halpe-26 (AlphaPose FullBody), as used by the BMP point-light stimuli: 0 nose, 1-2 L/R eye,
# 3-4 L/R ear, 5-6 shoulders, 7-8 elbows, 9-10 wrists, 11-12 hips, 13-14 knees, 15-16 ankles,
# 17 head (top), 18 neck, 19 hip (pelvis centre), 20-21 big toes, 22-23 small toes, 24-25 heels.
# Bones are AlphaPose's drawing pairs for this layout plus nose-neck (0, 18), which AlphaPose does
# not draw but a graph needs to connect the face to the body.
_HALPE26_JOINTS = (
    "nose", "l_eye", "r_eye", "l_ear", "r_ear",
    "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
    "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
    "head", "neck", "hip",
    "l_big_toe", "r_big_toe", "l_small_toe", "r_small_toe", "l_heel", "r_heel",
)
_HALPE26_BONES = (
    (0, 1), (0, 2), (1, 3), (2, 4), (18, 0),
    (18, 5), (18, 6), (5, 7), (7, 9), (6, 8), (8, 10),
    (17, 18), (18, 19), (19, 11), (19, 12),
    (11, 13), (12, 14), (13, 15), (14, 16),
    (24, 20), (25, 21), (25, 23), (24, 22), (15, 24), (16, 25),
)
_HALPE26_FLIP = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
                 (20, 21), (22, 23), (24, 25))

# COCO-17: the first 17 Halpe joints, with the COCO keypoint skeleton.
_COCO17_BONES_1 = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9),
    (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)

# Kinect v1 (UTKinect-Action3D, MSR Action3D skeletons), 1-based: 1 hip centre, 2 spine,
# 3 shoulder centre, 4 head, 5-8 left shoulder/elbow/wrist/hand, 9-12 right ..., 13-16 left
# hip/knee/ankle/foot, 17-20 right ...
_KINECT20_JOINTS = (
    "hip_center", "spine", "shoulder_center", "head",
    "l_shoulder", "l_elbow", "l_wrist", "l_hand",
    "r_shoulder", "r_elbow", "r_wrist", "r_hand",
    "l_hip", "l_knee", "l_ankle", "l_foot",
    "r_hip", "r_knee", "r_ankle", "r_foot",
)
_KINECT20_BONES_1 = (
    (1, 2), (2, 3), (3, 4), (3, 5), (5, 6), (6, 7), (7, 8), (3, 9), (9, 10), (10, 11), (11, 12),
    (1, 13), (13, 14), (14, 15), (15, 16), (1, 17), (17, 18), (18, 19), (19, 20),
)
_KINECT20_FLIP_1 = ((5, 9), (6, 10), (7, 11), (8, 12), (13, 17), (14, 18), (15, 19), (16, 20))


def _zero_based(pairs) -> tuple[tuple[int, int], ...]:
    return tuple((a - 1, b - 1) for a, b in pairs)


LAYOUTS: dict[str, Layout] = {
    "ntu25": Layout("ntu25", _NTU25_JOINTS, _zero_based(_NTU25_BONES_1),
                    _zero_based(_NTU25_FLIP_1)),
    "halpe26": Layout("halpe26", _HALPE26_JOINTS, _HALPE26_BONES, _HALPE26_FLIP),
    "coco17": Layout("coco17", _HALPE26_JOINTS[:17], _zero_based(_COCO17_BONES_1),
                     _HALPE26_FLIP[:8]),
    "kinect20": Layout("kinect20", _KINECT20_JOINTS, _zero_based(_KINECT20_BONES_1),
                       _zero_based(_KINECT20_FLIP_1)),
}


def list_layouts() -> list[str]:
    return sorted(LAYOUTS)


def get_layout(name: str | Layout) -> Layout:
    """The :class:`Layout` called ``name`` (``ntu25``, ``halpe26``, ``coco17``, ``kinect20``)."""
    if isinstance(name, Layout):
        return name
    key = str(name).lower().replace("-", "").replace("_", "")
    for k, layout in LAYOUTS.items():
        if k.replace("_", "") == key:
            return layout
    raise ConfigError(f"unknown joint layout {name!r}; choose one of {', '.join(list_layouts())}")
