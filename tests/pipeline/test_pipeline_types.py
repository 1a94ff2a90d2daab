"""Values as a dispatch form sends them (strings) become the declared types, or a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrain.pipeline.load import load_pipeline
from retrain.pipeline.model import InputType, Port
from retrain.pipeline.types import CoercionError, coerce, format_literal, parse_duration

BASE = Path("/repo")


@pytest.mark.parametrize(
    ("port", "given", "expected"),
    [
        (Port("n", InputType.INTEGER), "5", 5),
        (Port("n", InputType.INTEGER), "5.0", 5),
        (Port("n", InputType.INTEGER), 7.0, 7),
        (Port("x", InputType.NUMBER), "0.1", 0.1),
        (Port("x", InputType.NUMBER), 3, 3.0),
        (Port("b", InputType.BOOLEAN), "true", True),
        (Port("b", InputType.BOOLEAN), "No", False),
        (Port("b", InputType.BOOLEAN), "1", True),
        (Port("s", InputType.STRING), 42, "42"),
        (Port("s", InputType.STRING, enum=("a", "b")), "b", "b"),
        (Port("d", InputType.URI_FILE), "data/x.csv", "/repo/data/x.csv"),
        (Port("d", InputType.URI_FOLDER), "../shared/data", "/shared/data"),
        (Port("d", InputType.URI_FILE), "azureml:adult:3", "azureml:adult:3"),
        (Port("d", InputType.URI_FILE), "azureml://datastores/ws/paths/a.csv", "azureml://datastores/ws/paths/a.csv"),
        (Port("d", InputType.URI_FILE), "x; rm -rf ~", "/repo/x; rm -rf ~"),
    ],
)
def test_coerced(port: Port, given: object, expected: object) -> None:
    value = coerce(port, given, base_dir=BASE)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("port", "given", "message"),
    [
        (Port("n", InputType.INTEGER), "5.5", "'n' is an integer; '5.5' is not. Write a whole number such as 5."),
        (Port("n", InputType.INTEGER), True, "'n' is an integer; true is a boolean. Write a whole number such as 5."),
        (Port("x", InputType.NUMBER), "fast", "'x' is a number; 'fast' is not. Write a number such as 0.1."),
        (Port("x", InputType.NUMBER), "nan", "'x' must be a finite number, not nan."),
        (Port("x", InputType.NUMBER, min=0, max=1), "1.5", "'x' must be at most 1; 1.5 is above."),
        (Port("b", InputType.BOOLEAN), "maybe", "'b' is a boolean; 'maybe' is not. Use true or false."),
        (Port("s", InputType.STRING, enum=("a", "b")), "c", "'s' must be one of a, b; 'c' is not."),
        (Port("d", InputType.URI_FILE), 3, "'d' is a uri_file (a path or URI); 3 is not. Give a path such as data/train.csv."),
        (Port("n", InputType.INTEGER), None, "'n' needs a value of type integer; it is empty."),
    ],
)
def test_refused_with_what_to_do(port: Port, given: object, message: str) -> None:
    with pytest.raises(CoercionError) as e:
        coerce(port, given, base_dir=BASE)
    assert str(e.value) == message


@pytest.mark.parametrize(("text", "seconds"), [("2h", 7200), ("90m", 5400), ("1h30m", 5400), ("45s", 45), (3600, 3600), ("600", 600)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["2 hours", "0s", "-5", "1h1h", "", True, 0])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match="write e.g. 2h, 30m"):
        parse_duration(text)


def test_literals_render_as_azure_does() -> None:
    assert [format_literal(v) for v in (True, False, 3, 0.1, "x y")] == ["True", "False", "3", "0.1", "x y"]


def test_hash_changes_with_one_byte_of_code(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "run.py").write_text("print(1)\n")
    (tmp_path / "pipeline.yml").write_text("type: pipeline\njobs:\n  a:\n    code: src\n    command: python run.py\n")
    before = load_pipeline(tmp_path / "pipeline.yml")
    assert load_pipeline(tmp_path / "pipeline.yml").content_hash == before.content_hash
    (tmp_path / "src" / "__pycache__").mkdir()
    (tmp_path / "src" / "__pycache__" / "run.cpython-311.pyc").write_bytes(b"\0")
    assert load_pipeline(tmp_path / "pipeline.yml").content_hash == before.content_hash  # caches do not count
    (tmp_path / "src" / "run.py").write_text("print(2)\n")
    after = load_pipeline(tmp_path / "pipeline.yml")
    assert after.content_hash != before.content_hash
    assert after.content_hash.startswith("sha256:")
    assert [f.name for f in after.files] == ["pipeline.yml", "run.py"]
