"""A plain step command (one program and its words, no shell syntax) runs without bash, and the step sees
what `bash -c` would have given it: the same words, folder, environment (PWD, SHLVL, `_`, OLDPWD as bash
sets them) and, when the program cannot start, the same message and exit code from bash itself. A command
with any shell syntax, or naming a builtin, goes through bash as before."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from retrain.backends.base import RunStatus, StepStatus
from retrain.backends.local import LocalBackend
from retrain.backends.local.direct import environment, find_program, plain_words
from retrain.pipeline.load import load_pipeline
from tests.backends.local.runs import submit, wait_for, write_pipeline

# Writes what the step was given (its words after the output folder, its folder, its environment).
SHOW = """\
import json, os, sys
with open(os.path.join(sys.argv[1], "seen.json"), "w") as f:
    json.dump({"argv": sys.argv[2:], "cwd": os.getcwd(), "env": dict(os.environ)}, f)
"""

# A `bash` first on PATH that notes each start and runs the real one (same argv[0], same environment).
BASH_SPY = """\
import os, sys
with open({log!r}, "a") as f:
    f.write(repr(sys.argv[1:]) + "\\n")
os.execv({bash!r}, sys.argv)
"""


def real_bash() -> str:
    found = shutil.which("bash", path="/usr/bin:/bin")
    if found is None:
        pytest.skip("no bash in /usr/bin or /bin")
    return found


def test_a_plain_command_sees_what_bash_would_have_given_it(tmp_path: Path) -> None:
    bash = real_bash()
    spy_dir, log = tmp_path / "spy", tmp_path / "bash-starts.txt"
    spy_dir.mkdir()
    (spy_dir / "bash").write_text(f"#!{sys.executable}\n" + BASH_SPY.format(log=str(log), bash=bash))
    (spy_dir / "bash").chmod(0o755)
    show = tmp_path / "show.py"
    show.write_text(SHOW)
    environ = {"PATH": f"{spy_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", "SHLVL": "2",
               "OLDPWD": str(tmp_path / "gone"), "PWD": "/", "KEPT": "a value with spaces"}
    py = sys.executable
    # The same words, once plain ('two words' as shlex.quote writes it), once with a backslash (shell syntax).
    plain = f"{py} {show} ${{{{outputs.o}}}} 'two words' it\"'\"s"
    shell = f"{py} {show} ${{{{outputs.o}}}} two\\ words it\\'s"
    path = write_pipeline(tmp_path / "proj", f"""\
        plain:
          outputs: {{o: }}
          command: {json.dumps(plain)}
        shell:
          outputs: {{o: }}
          command: {json.dumps(shell)}
        """)
    backend = LocalBackend(tmp_path / "store", environ=environ)
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    run = wait_for(backend, submit(backend, "k"))
    assert run.status is RunStatus.COMPLETED, run.message
    run_dir = Path(run.url.removeprefix("file://"))  # type: ignore[union-attr]
    seen = {s: json.loads((run_dir / "steps" / s / "outputs" / "o" / "seen.json").read_text()) for s in ("plain", "shell")}

    assert seen["plain"]["argv"] == seen["shell"]["argv"] == ["two words", "it's"]
    for step, what in seen.items():
        assert what["cwd"] == str((run_dir / "steps" / step / "code").resolve())
        assert what["env"]["PWD"] == what["cwd"]  # as bash sets it
    # The rest of the environment is the same, bash's own additions included (SHLVL kept, `_` the program,
    # OLDPWD dropped as it names no folder); only the step's own variables differ.
    own = {"PWD", "RETRAIN_STEP", "MLFLOW_TRACKING_URI", "AZURE_ML_OUTPUT_o"}
    plain_env = {k: v for k, v in seen["plain"]["env"].items() if k not in own}
    shell_env = {k: v for k, v in seen["shell"]["env"].items() if k not in own}
    assert plain_env == shell_env
    assert (plain_env["SHLVL"], plain_env["_"], plain_env["KEPT"], "OLDPWD" in plain_env) == ("2", py, "a value with spaces", False)

    # bash started for the command with shell syntax and once to be asked how it runs a plain command, never
    # for the plain one; the next run finds bash's answer in the store and does not ask again.
    def starts() -> list[list[str]]:
        return [eval(line) for line in log.read_text().splitlines()]  # noqa: S307 - our own spy's repr lines

    def shell_start(run_dir: Path) -> list[str]:
        return ["-c", shell.replace("${{outputs.o}}", str(run_dir / "steps" / "shell" / "outputs" / "o"))]

    assert sorted(starts()) == sorted([["-c", "printenv SHLVL _"], shell_start(run_dir)])
    log.unlink()
    again = wait_for(backend, submit(backend, "k2", force=True))
    assert again.status is RunStatus.COMPLETED, again.message
    assert starts() == [shell_start(Path(again.url.removeprefix("file://")))]  # type: ignore[union-attr]


def test_a_program_is_found_where_bash_finds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """find_program against bash's own search (`type -P`), run in the same folder with the same PATH: an empty
    entry is the current folder, a folder may end in a slash, a file that is not executable and a folder of the
    program's name are passed over. Where bash finds no executable file it names the first file that is not
    (and fails on it, "Permission denied"); find_program then finds nothing, and bash runs the command to fail as
    it does. (The worker finds the bash that runs steps, and a parallel step its python, this way.)"""
    bash = real_bash()
    here, first, second = tmp_path / "here", tmp_path / "first", tmp_path / "second"
    for folder in (here, first, second):
        folder.mkdir()
    for folder in (here, second):
        (folder / "prog").write_text("#!/bin/sh\n")
        (folder / "prog").chmod(0o755)
    (first / "prog").write_text("#!/bin/sh\n")  # not executable
    (first / "tool").mkdir()  # a folder, not a program
    (second / "tool").write_text("#!/bin/sh\n")
    (second / "tool").chmod(0o755)
    paths = [f"{first}:{second}", f"{first}::{second}", f":{second}", f"{first}/:{second}/", f"{first}",
             f"{tmp_path / 'missing'}:{second}"]
    monkeypatch.chdir(here)
    for path in paths:
        for name in ("prog", "tool", "absent"):
            told = subprocess.run([bash, "-c", f"type -P {name}"], cwd=here, env={"PATH": path}, capture_output=True,
                                  text=True).stdout.strip()
            runnable = told if told and os.access(here / told, os.X_OK) else None
            assert (path, name, find_program(name, path)) == (path, name, runnable)
    # What bash said, in two of those cases: the current folder's program, and the first executable file.
    assert (find_program("prog", f":{second}"), find_program("prog", f"{first}:{second}")) == ("./prog", f"{second}/prog")


def test_a_program_that_cannot_start_fails_as_bash_says(tmp_path: Path) -> None:
    bash = real_bash()
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    no_hash_bang = tmp_path / "script"
    no_hash_bang.write_text('echo "run by bash" > "$1/x"\n')  # no #!: the kernel refuses it, bash runs it
    no_hash_bang.chmod(0o755)
    not_executable = tmp_path / "data.txt"
    not_executable.write_text("not a program\n")
    path = write_pipeline(tmp_path / "proj", f"""\
        missing:
          command: no-such-program-anywhere --flag
        refused:
          command: {not_executable} arg
        script:
          outputs: {{o: }}
          command: {no_hash_bang} ${{{{outputs.o}}}}
        builtin:
          command: command -V cd
        """)
    backend = LocalBackend(tmp_path / "store", environ=environ)
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    run = wait_for(backend, submit(backend, "k"))
    steps = {s.name: s for s in run.steps}
    assert run.status is RunStatus.FAILED

    def by_bash(command: str) -> str:
        done = subprocess.run([bash, "-c", command], env=environ, cwd=tmp_path, capture_output=True, text=True)
        return done.stdout + done.stderr

    assert (steps["missing"].status, steps["missing"].message) == (StepStatus.FAILED, "step 'missing' failed with exit code 127.")
    assert backend.logs(run.id, "missing")[0] == by_bash("no-such-program-anywhere --flag") == \
        f"{bash}: line 1: no-such-program-anywhere: command not found\n"
    assert (steps["refused"].status, steps["refused"].message) == (StepStatus.FAILED, "step 'refused' failed with exit code 126.")
    assert backend.logs(run.id, "refused")[0] == by_bash(f"{not_executable} arg") == \
        f"{bash}: line 1: {not_executable}: Permission denied\n"
    run_dir = Path(run.url.removeprefix("file://"))  # type: ignore[union-attr]
    assert steps["script"].status is StepStatus.COMPLETED
    assert (run_dir / "steps" / "script" / "outputs" / "o" / "x").read_text() == "run by bash\n"
    assert steps["builtin"].status is StepStatus.COMPLETED  # bash's own `command`: there is no such program
    assert backend.logs(run.id, "builtin")[0] == "cd is a shell builtin\n"


@pytest.mark.parametrize(("command", "words"), [
    ("touch /tmp/x/done", ["touch", "/tmp/x/done"]),
    ("python train.py --rate 0.1 --out '/data/my model'", ["python", "train.py", "--rate", "0.1", "--out", "/data/my model"]),
    ("a 'it'\"'\"'s' '' b=c", ["a", "it's", "", "b=c"]),  # shlex.quote's form of it's, an empty word, an = after the first
    ("  a\tb  ", ["a", "b"]),
    ('a "x y"', ["a", "x y"]),
])
def test_plain_words(command: str, words: list[str]) -> None:
    assert plain_words(command) == words


@pytest.mark.parametrize("command", [
    "a | b", "a > f", "a < f", "a && b", "a; b", "a &", "(a)", "{ a; }", "a $X", 'a "$X"', "a `b`", "a $(b)",
    "a \\x", "a ~/x", "a *.py", "a f?", "a [ab]", "a {1,2}", "a # note", "a\nb", "FOO=1 a", "'a=b' c", "a 'open",
    'a "open', "echo hi", "cd /tmp", "exec a", "time a", "test -f x", "'echo' hi", "", "   ", "! a", "a!", "%1",
])
def test_commands_bash_must_run(command: str) -> None:
    assert plain_words(command) is None


def test_an_environment_bash_would_change_in_its_own_way_keeps_bash(tmp_path: Path) -> None:
    base = {"PATH": "/usr/bin:/bin", "HOME": "/root"}
    assert environment(base, str(tmp_path), "/usr/bin/touch") == {**base, "PWD": str(tmp_path), "SHLVL": "0", "_": "/usr/bin/touch"}
    for extra in ({"BASH_ENV": "/x"}, {"SHELLOPTS": "xtrace"}, {"IFS": ":"}, {"PS4": "+"}, {"PPID": "1"},
                  {"BASH_FUNC_f%%": "() { :; }"}, {"A-B": "1"}, {"SHLVL": "999"}, {"SHLVL": "x"}, {"SHLVL": "07"},
                  {"PWD": str(tmp_path)}, {"PATH": "/usr/bin::/bin"}, {"PATH": "bin:/usr/bin"}):
        assert environment({**base, **extra}, str(tmp_path), "/usr/bin/touch") is None, extra
    assert "OLDPWD" not in environment({**base, "OLDPWD": str(tmp_path / "gone")}, str(tmp_path), "/usr/bin/t")  # type: ignore[operator]
    assert environment({**base, "OLDPWD": "/"}, str(tmp_path), "/usr/bin/t")["OLDPWD"] == "/"  # type: ignore[index]


def test_a_plain_command_that_fails_or_is_killed_ends_as_it_would_under_bash(tmp_path: Path) -> None:
    # Each command twice: plain (run without bash), and with a variable assignment in front (shell syntax: bash runs
    # it, and as the command's last word execs it in its own process). Exit codes and deaths by signal must read the
    # same in the step's message.
    py = sys.executable
    exits = f"{py} -c 'import sys; sys.exit(3)'"
    killed = f"{py} -c 'import os, signal; os.kill(os.getpid(), signal.SIGKILL)'"
    path = write_pipeline(tmp_path / "proj", f"""\
        exits_plain:
          command: {json.dumps(exits)}
        exits_bash:
          command: {json.dumps("A=1 " + exits)}
        killed_plain:
          command: {json.dumps(killed)}
        killed_bash:
          command: {json.dumps("A=1 " + killed)}
        """)
    assert plain_words(exits) is not None and plain_words("A=1 " + exits) is None
    backend = LocalBackend(tmp_path / "store", environ={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"})
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    run = wait_for(backend, submit(backend, "k"))
    messages = {s.name: (s.status, s.message) for s in run.steps}
    for kind in ("exits", "killed"):
        plain_status, plain_message = messages[f"{kind}_plain"]
        bash_status, bash_message = messages[f"{kind}_bash"]
        assert (plain_status, plain_message.replace(f"{kind}_plain", "X")) == (bash_status, bash_message.replace(f"{kind}_bash", "X"))
    assert messages["exits_plain"] == (StepStatus.FAILED, "step 'exits_plain' failed with exit code 3.")
    assert messages["killed_plain"] == (StepStatus.FAILED, "step 'killed_plain' was killed by signal 9 (SIGKILL); the "
                                        "system's out-of-memory killer sends it when memory runs out.")
