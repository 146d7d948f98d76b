"""The BMP psychophysics experiment as a browser app (no torch): create an experiment folder from
a ``motionscope stimuli`` set (:mod:`.create`, :mod:`.plan`), serve it (:mod:`.app` on
:mod:`.db`), export the answers (:mod:`.export`). See docs/psychophysics.md.

Nothing is imported here: ``motionscope.experiment.app`` pulls FastAPI and SQLAlchemy, which the
other commands do not need.
"""
