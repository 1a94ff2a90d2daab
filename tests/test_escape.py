"""What the CLI prints from data cannot drive a GitHub runner (nor a terminal): step logs shown by
`retrain status --logs`, step output shown by `submit`, and error messages quoting a value. Each output is
read as the runner reads a job's log (tests/github_runner.py's model of actions/runner's command parsing)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from retrain import escape
from retrain.cli.main import main
from tests.cli_process import retrain
from tests.github_runner import commands_outside_blocks


# What a step might print: both command syntaxes, one after a prefix (the old one acts anywhere in a line),
# an ANSI colour, and a carriage return that would overwrite a terminal's line.
HOSTILE = ["::warning::pwned-1", "  ::add-mask::pwned-2", "##[add-mask]pwned-3", "epoch 1 ##[warning]pwned-4",
           "\x1b[31mred\x1b[0m", "50%\rpwned-5"]


def pwned(printed: str) -> list[str]:
    return [c for c in commands_outside_blocks(printed) if "pwned" in c]


def test_status_logs_show_step_output_without_letting_it_act(project: Path) -> None:
    train = project / "pipelines" / "tiny" / "src" / "train.py"
    train.write_text("".join(f"print({line!r})\n" for line in HOSTILE) + train.read_text())
    assert retrain(project, "publish").returncode == 0
    submitted = retrain(project, "submit", "tiny", "--json")
    assert submitted.returncode == 0, submitted.stderr
    run_id = json.loads(submitted.stdout)[0]["run"]["id"]

    shown = retrain(project, "status", run_id, "--logs")  # stdout is a pipe, as in a workflow's run: step
    assert shown.returncode == 0, shown.stderr
    assert pwned(shown.stdout) == [], shown.stdout
    assert "\x1b" not in shown.stdout and "\r" not in shown.stdout
    printed = shown.stdout.splitlines()
    start = printed.index("--- train ---")
    stop = printed[start + 1].removeprefix("::stop-commands::")
    end = printed.index(f"::{stop}::")
    assert len(stop) == 32 and end > start + 1
    # every line shown as the step printed it, controls escaped, all inside the step's block
    assert printed[start + 2:start + 2 + len(HOSTILE)] == [escape.value(line).replace("##\\x5b", "##[") for line in HOSTILE]
    assert "\\x1b[31mred\\x1b[0m" in printed and "50%\\rpwned-5" in printed


def test_at_a_terminal_the_logs_are_plain_but_escaped() -> None:
    from datetime import datetime, timezone

    from retrain.backends.base import Run, RunStatus, StepResult, StepStatus
    from retrain.report.console import print_logs

    class Logs:
        """A backend's logs call, two chunks for one step."""

        def logs(self, run_id: str, step: str, offset: int) -> tuple[str, int]:
            chunks = ["\n".join(HOSTILE[:3]) + "\n", "\n".join(HOSTILE[3:])]
            return (chunks[offset], offset + 1) if offset < len(chunks) else ("", offset)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    run = Run(id="r1", pipeline="tiny", endpoint="ep", version=1, status=RunStatus.COMPLETED, parameters={}, key="k",
              created=datetime.now(timezone.utc), steps=(StepResult(name="\x1b[2Jtrain", status=StepStatus.COMPLETED),))
    out = Terminal()
    print_logs(Logs(), run, out)  # type: ignore[arg-type]
    printed = out.getvalue()
    assert "::stop-commands::" not in printed and "\x1b" not in printed and "\r" not in printed
    assert printed.splitlines() == ["", "--- \\x1b[2Jtrain ---", *(escape.value(line) for line in HOSTILE)]
    assert [c for c in commands_outside_blocks(printed) if "##[" in c] == []
    # not a terminal (a workflow's pipe): the same chunks, one block
    piped = io.StringIO()
    print_logs(Logs(), run, piped)  # type: ignore[arg-type]
    assert pwned(piped.getvalue()) == [] and piped.getvalue().count("::stop-commands::") == 1


def test_submit_shows_step_output_without_letting_it_act(project: Path) -> None:
    from retrain.report.console import ConsoleReporter

    out = io.StringIO()
    ConsoleReporter(out).log(None, "train", "\n".join(HOSTILE) + "\n")  # type: ignore[arg-type]
    assert pwned(out.getvalue()) == [], out.getvalue()
    assert "    [train] epoch 1 ##\\x5bwarning]pwned-4" in out.getvalue().splitlines()


def test_an_error_quoting_a_value_keeps_it_on_the_error_line(project: Path) -> None:
    result = retrain(project, "submit", "tiny", "--set", "learning_rate=1\n::warning::injected ##[add-mask]x")
    assert result.returncode == 2
    assert result.stdout == ""
    assert commands_outside_blocks(result.stderr) == [], result.stderr
    assert result.stderr.startswith("error: ")
    assert "\\x3a:warning::injected ##\\x5badd-mask]x" in result.stderr  # shown, escaped


def test_an_error_message_through_main(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["-f", str(project / "retrain.yml"), "status", "::add-mask::nope\x1b[1m"], {})
    err = capsys.readouterr().err
    assert code == 2 and commands_outside_blocks(err) == [] and "\x1b" not in err, err
    assert "nope\\x1b[1m" in err
