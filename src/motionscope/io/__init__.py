"""On-disk formats users already have; numpy, PyAV, OpenCV and h5py only (no torch, no pandas).

Modules (import the one you need; this package imports none of them eagerly, so reading an NTU
file does not load the video stack):

* :mod:`.ntu` — NTU RGB+D ``.skeleton`` files, sample names, the missing-skeleton list
* :mod:`.video` — PyAV video reading with frame-accurate seeking, deterministic writing
* :mod:`.rawframes` — ``img_00001.jpg`` frame folders and ``dir num_frames label`` lists
* :mod:`.depth` — 16-bit depth PNG folders
* :mod:`.keypoints` — AlphaPose/COCO JSON, DeepLabCut CSV/H5, SLEAP ``.slp``/analysis ``.h5``
* :mod:`.skeleton_dataset` — the generic one-file skeleton dataset (and pyskl pickles)
* :mod:`.utkinect` — UTKinect-Action3D, the worked example of plugging a dataset in
* :mod:`.splits` — ``path,label`` video lists and NTU benchmark split rules
* :mod:`.index` — :class:`~.index.Sample`, the dataset index entry every list reads into

See ``docs/formats.md``.
"""
