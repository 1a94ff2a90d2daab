"""What every verb starts from: the parameter file ``-f`` names, the backend it names, where progress goes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..config.load import load_config

if TYPE_CHECKING:  # validate and plan make no backend: the factory loads with the first verb that does
    from ..backends.base import Backend
    from ..config.records import Config


def config_of(args: argparse.Namespace) -> Config:
    return load_config(Path(args.file))


def backend_of(args: argparse.Namespace, environ: Mapping[str, str]) -> Backend:
    from ..config.backend import make_backend

    return make_backend(config_of(args), environ)


def progress_stream(args: argparse.Namespace) -> TextIO:
    # With --json, stdout is for the document; people still see progress on stderr.
    return sys.stderr if getattr(args, "json", False) else sys.stdout
