"""``python -m motionscope`` (and ``torchrun -m motionscope train ...``)."""

from .cli import main

main()
