"""``python -m colorize`` (and ``torchrun -m colorize train ...``)."""

from .cli import console

console()
