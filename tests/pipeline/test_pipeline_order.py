"""Step ordering without recursion: long chains in any order, cycles named, ties in file order."""

from __future__ import annotations

from pathlib import Path

from retrain.pipeline.load import load_pipeline
from retrain.pipeline.order import dependency_order


def chain_file(folder: Path, n: int, *, reverse: bool) -> Path:
    jobs = []
    for i in range(n):
        job = f"  s{i}:\n"
        if i:
            job += f"    inputs: {{x: '${{{{parent.jobs.s{i - 1}.outputs.o}}}}'}}\n"
        jobs.append(job + "    outputs: {o: }\n    command: 'true'\n")
    if reverse:
        jobs.reverse()
    (folder / "pipeline.yml").write_text("type: pipeline\njobs:\n" + "".join(jobs))
    return folder / "pipeline.yml"


def test_a_thousand_step_chain_listed_in_reverse_validates_in_order(tmp_path: Path) -> None:
    pipeline = load_pipeline(chain_file(tmp_path, 1000, reverse=True))
    assert list(pipeline.steps) == [f"s{i}" for i in range(1000)]


def test_ties_keep_file_order_and_each_step_follows_its_upstream() -> None:
    order, cycles = dependency_order(["c", "a", "b", "d"], {"c": ["b"], "a": [], "b": ["a", "missing"], "d": []})
    assert (order, cycles) == (["a", "b", "c", "d"], [])


def test_cycles_are_returned_along_their_steps() -> None:
    order, cycles = dependency_order(["a", "b", "c"], {"a": ["b"], "b": ["c"], "c": ["a"]})
    assert cycles == [["a", "b", "c", "a"]]
    assert sorted(order) == ["a", "b", "c"]
