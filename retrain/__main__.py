"""``python -m retrain``: the same as the ``retrain`` command."""

from .cli.main import main_entry

main_entry()
