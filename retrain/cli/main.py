"""Command-line entry: argument parsing, and the one place errors become messages and exit codes.

Exit codes: 0 success; 1 the work failed (a run failed, was canceled or timed out); 2 bad input
(parameter file, arguments, credentials); 3 an internal error (traceback written to a file);
130 interrupted.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from .. import __version__
from ..flow.signals import stderr_notify, stop_on_signals

TYPE_CHECKING = False  # typing costs --help ~3 ms to load, for one annotation
if TYPE_CHECKING:
    from typing import NoReturn

# retrain.errors and retrain.escape load when an error is reported: ``--help`` needs neither (the errors' records
# cost dataclasses and inspect, escape's tokens cost secrets), and a verb loads them with what it uses.

EPILOG = {
    "validate": "example:\n  retrain -f examples/income/retrain.yml validate",
    "plan": "examples:\n  retrain plan --event push --changed data/adult-nonus.csv\n"
    "  retrain plan --event dispatch --set learning_rate=0.05 --json",
    "publish": "examples:\n  retrain publish              # every pipeline in retrain.yml\n"
    "  retrain publish income --make-default",
    "submit": "examples:\n  retrain submit income\n"
    "  retrain submit income --set training_data=data/adult-nonus.csv --version 1",
    "status": "examples:\n  retrain status 20261124-015501-a1b2c3 --logs\n"
    "  retrain status              # the local store: its size and what gc would free",
    "cancel": "example:\n  retrain cancel 20261124-015501-a1b2c3",
    "runs": "examples:\n  retrain runs\n  retrain runs --pipeline income --status failed --json\n"
    "  retrain runs --compare income-20261124-015501-a1b2c3 income-20261125-093000-d4e5f6",
    "promote": "examples:\n  retrain promote income 3          # after its run passes the promote: gate\n"
    "  retrain promote income 3 --force --reason 'baseline run was broken'  # skip the checks (recorded)",
    "history": "examples:\n  retrain history income\n  retrain history income --json",
    "rollback": "examples:\n  retrain rollback income\n  retrain rollback income --reason 'v4 scores badly on new data'",
    "endpoints": "examples:\n  retrain endpoints\n  retrain endpoints income-retrain",
    "sync": "examples:\n  retrain sync\n  retrain sync --wait",
    "init": "examples:\n  retrain init                      # finds the pipeline YAML in the repository\n"
    "  retrain init --definition pipelines/income.yml --backend azureml\n"
    "  retrain init --no-wait             # return once submitted; an hourly schedule syncs\n"
    "  retrain init --update              # rewrite the dispatch form from the pipeline",
    "gc": "examples:\n  retrain gc --dry-run\n  retrain gc --json",
    "pull": "examples:\n  GH_TOKEN=$(gh auth token) retrain pull         # the origin remote's repository\n"
    "  GITHUB_TOKEN=... retrain pull --repo octo-org/census && retrain runs",
}


def _count(text: str) -> int:
    """A --limit: a whole number from 1 to 100,000 (the store counts in 64 bits; nobody reads more)."""
    if not text.strip().isdigit() or len(text.strip()) > 6 or not 1 <= int(text) <= 100_000:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number from 1 to 100000")
    return int(text)


# Which module of this package holds each verb's ``cmd_<verb>``: ``--help`` and a bad argument load only the
# parser; a verb loads its own module (and what that imports) once it runs, and no other verb's.
VERB_MODULES = {
    "init": "init", "validate": "validate",
    "plan": "plan", "publish": "work", "submit": "work", "sync": "work",
    "status": "runs", "cancel": "runs", "runs": "runs", "endpoints": "runs",
    "promote": "review", "history": "review", "rollback": "review",
    "pull": "store", "gc": "store",
}


def run_verb(name: str, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from importlib import import_module

    module = import_module(f"{__package__}.{VERB_MODULES[name]}")
    return int(getattr(module, f"cmd_{name}")(args, environ))


class _Unbuilt:
    """Stands for a verb's parser that this command line does not name: its arguments are not built."""

    def add_argument(self, *args: object, **kwargs: object) -> None:
        pass


def command_of(argv: Sequence[str]) -> str | None:
    """The verb ``argv`` names, when it is one and nothing before it asks for the top-level help or version;
    else None (the whole parser is built: its help lists every verb, its errors name them)."""
    args = iter(argv)
    for arg in args:
        if arg in ("-f", "--file"):
            next(args, None)
        elif arg in ("-h", "--help", "--version"):
            return None
        elif not arg.startswith("-"):
            return arg if arg in VERB_MODULES else None
    return None


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter (descriptions and examples kept as written), its width found as shutil finds it
    without importing shutil: argparse makes a formatter for every add_argument (to check the metavar), and
    its own width lookup imports shutil and with it bz2, lzma and zlib, about 2.5 ms of every command's start."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


def _columns() -> int:
    """shutil.get_terminal_size's columns: COLUMNS when a positive number, else the terminal's, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``only``, that verb's arguments alone are built (each verb's parser costs
    start-up time, and a command runs one)."""
    parser = argparse.ArgumentParser(
        prog="retrain",
        description="Retrain machine-learning models from Git: publish pipelines to versioned endpoints, "
        "submit retrain runs on a pinned version, follow them and report.",
        formatter_class=_Formatter,
        epilog="Run 'retrain COMMAND --help' for a command's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"retrain {__version__}")
    parser.add_argument("-f", "--file", default="retrain.yml", help="the parameter file (default: retrain.yml)")
    # -f is also accepted after the verb; SUPPRESS keeps the top-level value when it is not.
    common = argparse.ArgumentParser(add_help=False, formatter_class=_Formatter)
    common.add_argument("-f", "--file", default=argparse.SUPPRESS, help="the parameter file (default: retrain.yml)")
    as_json = argparse.ArgumentParser(add_help=False, formatter_class=_Formatter)
    as_json.add_argument("--json", action="store_true", help="print a JSON document for scripts")

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def verb(name: str, help_text: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        if only is not None and name != only:
            return _Unbuilt()  # type: ignore[return-value]
        return sub.add_parser(name, help=help_text, description=help_text, epilog=EPILOG[name],
                              parents=[common, *parents], formatter_class=_Formatter)

    p = verb("init", "write retrain.yml and a GitHub workflow for a pipeline (or --update the workflow's form)")
    p.add_argument("--definition", metavar="PATH", help="the pipeline YAML (default: the one in the repository)")
    p.add_argument("--backend", choices=["local", "azureml"], default="local", help="where runs go (default: local)")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")
    p.add_argument("--no-wait", action="store_true", help="the action returns once a run is submitted; a schedule completes its check")
    p.add_argument("--schedule", metavar="CRON", help="the sync schedule (default with --no-wait: hourly)")
    p.add_argument("--branch", help="the default branch (default: the one checked out)")
    p.add_argument("--update", action="store_true", help="rewrite the dispatch form's inputs from the pipeline, keeping the rest of the workflow")

    verb("validate", "check the parameter file, the pipelines it names and the workflows' dispatch forms, touching nothing", as_json)

    p = verb("plan", "say what an event would do, per pipeline, and why (no side effects)", as_json)
    p.add_argument("--event", choices=["push", "pull_request", "dispatch", "workflow_dispatch", "schedule"],
                   help="the event (default: push, or what --event-file's payload is for)")
    p.add_argument("--event-file", metavar="PAYLOAD", help="a GitHub event payload (JSON) to read the event from")
    p.add_argument("--changed", nargs="*", metavar="PATH", help="files the event changed (default: unknown)")
    p.add_argument("--pipeline", action="append", metavar="NAME", help="only this pipeline (repeatable)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="a parameter value, as a dispatch form sends it")
    p.add_argument("--version", help="override the pinned version: a number, default or latest")

    p = verb("publish", "publish pipelines as new endpoint versions (unchanged content keeps its version)", as_json)
    p.add_argument("pipeline", nargs="*", help="pipelines to publish (default: all)")
    p.add_argument("--make-default", action="store_true", help="make the new version the endpoint's default")

    p = verb("submit", "submit a retrain run on the pinned version and follow it to its end", as_json)
    p.add_argument("pipeline", nargs="?", help="the pipeline (optional when the file has one)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="a parameter value for this run (repeatable)")
    p.add_argument("--version", help="run this version instead of the pin: a number, default or latest")
    p.add_argument("--no-wait", action="store_true", help="return once the run is submitted")
    p.add_argument("--force", action="store_true", help="rerun every step; reuse no earlier outputs")
    p.add_argument("--timeout", help="cancel the run after this long, e.g. 30m (default: the file's timeout)")
    p.add_argument("--draft", action="store_true",
                   help="run the pipeline as it is in this checkout, as a draft: no version, never the default")

    p = verb("status", "show a run: status, parameters, steps, metrics; with no run, the local store's size", as_json)
    p.add_argument("run", nargs="?", help="the run id (none: the local store's size and what gc would free)")
    p.add_argument("--logs", action="store_true", help="also print each step's log")

    p = verb("cancel", "cancel a run", as_json)
    p.add_argument("run", help="the run id")

    p = verb("runs", "list runs, newest first", as_json)
    p.add_argument("--pipeline", help="only runs of this pipeline")
    p.add_argument("--status", choices=["queued", "running", "completed", "failed", "canceled"])
    p.add_argument("--limit", type=_count, default=20, help="at most this many (default 20)")
    p.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"), help="side by side: B's parameters and metrics against A's")

    p = verb("promote", "make a version the endpoint's default after its run passes the promote: gate", as_json)
    p.add_argument("pipeline", help="the pipeline")
    p.add_argument("version", help="the version number to make the default")
    p.add_argument("--force", action="store_true", help="skip the checks (needs --reason; the record says they were skipped)")
    p.add_argument("--reason", default="", help="why: recorded with the move (retrain history); required with --force")

    p = verb("history", "list the moves of a pipeline's endpoint default: who, when, the commit, the verdict, why", as_json)
    p.add_argument("pipeline", help="the pipeline")

    p = verb("rollback", "move a pipeline's endpoint default back to the one before (recorded too)", as_json)
    p.add_argument("pipeline", help="the pipeline")
    p.add_argument("--reason", default="", help="why: recorded with the move (retrain history)")

    p = verb("endpoints", "list endpoints, or one endpoint's versions", as_json)
    p.add_argument("name", nargs="?", help="an endpoint to show")

    p = verb("sync", "show runs that have not finished; --wait follows them to their end", as_json)
    p.add_argument("--wait", action="store_true", help="follow every unfinished run to its end")
    p.add_argument("--timeout-s", type=float, default=3600.0, help=argparse.SUPPRESS)

    p = verb("pull", "read the repository's registry (what the action published and ran) into the local store", as_json)
    p.add_argument("--repo", metavar="OWNER/NAME", help="the repository (default: backend registry:, else the origin remote)")

    p = verb("gc", "remove local runs beyond the parameter file's retention, and files nothing uses", as_json)
    p.add_argument("--dry-run", action="store_true", help="print what would be removed and freed; remove nothing")
    return parser


def _cache_folder(environ: Mapping[str, str]) -> Path | None:
    """Where file digests and parsed YAML files are remembered between commands: the user's cache folder (XDG),
    if any."""
    base = environ.get("XDG_CACHE_HOME") or (str(Path(environ["HOME"]) / ".cache") if environ.get("HOME") else "")
    return Path(base) / "retrain" if base else None


def _write_crash(exc: BaseException) -> str:
    import tempfile  # only on a crash: the parser and --help load as little as they can
    import time
    import traceback

    fd, path = tempfile.mkstemp(prefix="retrain-crash-", suffix=".log")
    with os.fdopen(fd, "w") as f:
        f.write(f"retrain {__version__}, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
        f.write(f"argv: {sys.argv!r}\n\n")
        traceback.print_exception(exc, file=f)
    return path


def _print_error(message: str) -> None:
    # A message may quote data (a --set value, a name from a file) and stderr reaches the job log too: each
    # of its lines is printed through the escaping rule, so none can start a workflow command or hold a
    # terminal escape.
    from .. import escape

    print("\n".join(escape.line(part) for part in message.split("\n")), file=sys.stderr)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    try:
        with stop_on_signals(stderr_notify):
            if argv[:1] == ["action"]:
                from ..action.main import main as action_main

                return action_main(environ)
            parser = build_parser(command_of(argv))
            try:
                args = parser.parse_args(argv)
            except SystemExit as e:  # argparse: --help (0) or bad arguments (2)
                if isinstance(e.code, int):
                    return e.code
                from ..errors import EXIT_BAD_INPUT

                return EXIT_BAD_INPUT
            from .. import yamlfile
            from ..pipeline import hashing

            cache = _cache_folder(environ)
            hashing.use_cache(cache / "digests" if cache else None)
            yamlfile.use_cache(cache / "yaml" if cache else None)
            return run_verb(args.command, args, environ)
    except KeyboardInterrupt:
        from ..errors import EXIT_INTERRUPTED

        print("interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `retrain runs | head`
        return 0
    except Exception as e:  # noqa: BLE001 - the one place that turns bugs into a readable report
        from ..errors import EXIT_INTERNAL, RetrainError

        if isinstance(e, RetrainError):
            _print_error(f"error: {e}")
            return e.exit_code
        path = _write_crash(e)
        _print_error(
            f"retrain hit an internal error ({type(e).__name__}: {e}).\n"
            f"The traceback is in {path}; please attach it to an issue."
        )
        return EXIT_INTERNAL


# The collector takes its youngest generation after this many new objects rather than 700. A command's start-up
# (its modules, then the parameter file's and the pipeline's records: ~20,000 objects) makes next to no garbage in
# cycles, yet it collected ~25 times on the way (4-6 ms of a submit before its first step). A command that runs on
# (a run followed for hours) still collects, each time its leftovers reach this many objects.
GC_YOUNGEST = 50_000


def main_entry() -> None:
    gc.set_threshold(GC_YOUNGEST, *gc.get_threshold()[1:])
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """End the process without tearing the interpreter down, when nothing is left that the teardown would do.

    Finalizing the ~250 modules a run has loaded costs ~20 ms of CPU (a sixth of a short run's overhead)
    and does nothing a finished command needs. What an exit must do still happens: the atexit handlers
    (temporary folders' cleanup, coverage's data in the tests) and the standard streams flushed. A thread
    still running takes the ordinary exit, which waits for it."""
    if threading.active_count() > 1:
        sys.exit(code)
    # No garbage collection either (~2.5 ms over the ~17,000 objects a command holds): what holds a resource
    # releases it in a handler run here or before, not in the collector. A local store closes its connection
    # (which copies the write-ahead log into the database) when dropped or at exit (backends/local/store.py);
    # temporary folders are removed by their own atexit finalizers; files are closed where they are written.
    atexit._run_exitfuncs()
    for name, stream in (("output", sys.stdout), ("error output", sys.stderr)):
        if stream is None:  # started with it closed (`>&-`): nothing to flush
            continue
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # a reader that went away (`retrain runs | head`), or a closed stream
            pass
        except OSError as e:  # a full disk, a quota: the report did not all arrive, so the command did not succeed
            from ..errors import EXIT_WORK_FAILED

            try:
                os.write(2, f"retrain: the {name} could not all be written: {e.strerror or e}. Free some space "
                            "where it goes, or send it elsewhere, and run the command again.\n".encode())
            except OSError:
                pass
            code = code or EXIT_WORK_FAILED
    os._exit(code)
