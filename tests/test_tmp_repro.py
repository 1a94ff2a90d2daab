import json, os, subprocess
from pathlib import Path
from retrain.cli import main
from tests.conftest import commit_all, write

ENV = dict(os.environ)
NAMES = ["metrics", "status", "version", "id", "parameters", "tags", "name", "key", "inputs", "outputs", "type", "default", "endpoint", "pipeline", "experiment", "steps", "created", "force", "url", "message"]

def pipeline(default: str) -> str:
    ins = "".join(f"  {n}:\n    type: string\n    default: {default}\n" for n in NAMES)
    binds = "".join(f"      {n}: ${{{{parent.inputs.{n}}}}}\n" for n in NAMES)
    return f"$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json\ntype: pipeline\ninputs:\n{ins}jobs:\n  s:\n    type: command\n    component: ./s.yml\n    inputs:\n{binds}"

def component() -> str:
    ins = "".join(f"  {n}:\n    type: string\n" for n in NAMES)
    cmd = " ".join(f"{n}=${{{{inputs.{n}}}}}" for n in NAMES)
    return f"$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json\ntype: command\nname: s\ninputs:\n{ins}environment: azureml:AzureML-sklearn-1.5@latest\ncommand: echo {cmd}\n"

def test_repro(tmp_path: Path, capsys, monkeypatch) -> None:
    root = tmp_path / "r"
    write(root, {"p/pipeline.yml": pipeline("v1"), "p/s.yml": component(),
                 "retrain.yml": "backend: local\npipelines:\n  m:\n    definition: p/pipeline.yml\n    endpoint: m-retrain\n"})
    commit_all(root)
    monkeypatch.chdir(root)
    assert main(["publish"], ENV) == 0
    (root / "p/pipeline.yml").write_text(pipeline("v2"))
    assert main(["publish"], ENV) == 0
    sets = [a for n in NAMES for a in ("--set", f"{n}=asked-{n}")]
    for version in ("1", "2", "default", "latest"):
        capsys.readouterr()
        assert main(["submit", "m", "--version", version, *sets], ENV) == 0
        out = capsys.readouterr().out

        runs = sorted((root / ".retrain" / "runs").iterdir(), key=lambda d: d.stat().st_mtime)
        cmd = "echo " + (runs[-1] / "steps/s/std_log.txt").read_text()
        print(version, cmd)
        assert cmd.strip() == "echo " + " ".join(f"{n}=asked-{n}" for n in NAMES)
