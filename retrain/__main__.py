"""``python -m retrain``: the same as the ``retrain`` command."""

from .cli import main_entry

main_entry()
