from __future__ import annotations

import pytest

from retrain.config.globs import BadGlob, compile_glob


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("data/**/*.csv", "data/a.csv", True),
        ("data/**/*.csv", "data/2026/11/a.csv", True),
        ("data/**/*.csv", "data/a.parquet", False),
        ("data/**/*.csv", "old/data/a.csv", False),  # anchored at the start, like on.push.paths
        ("data/*.csv", "data/sub/a.csv", False),  # one * stays inside a folder
        ("**", "anything/at/all.txt", True),
        ("data/adult-?s.csv", "data/adult-us.csv", True),
        ("data/[ab].csv", "data/b.csv", True),
        ("data/[!ab].csv", "data/b.csv", False),
        ("data/a+b.csv", "data/a+b.csv", True),  # regex characters are literal
    ],
)
def test_matches_like_github_paths(pattern: str, path: str, expected: bool) -> None:
    assert compile_glob(pattern).matches(path) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "an empty pattern matches nothing; write a path such as data/**/*.csv."),
        ("/data/*.csv", "'/data/*.csv' is absolute; patterns are relative to the parameter file's folder, e.g. data/**/*.csv."),
        ("../data/*.csv", "'../data/*.csv' leaves the parameter file's folder with '..'; move the rule or the file."),
        ("data/[abc", "'data/[abc': the '[' at position 6 is never closed; add ']' or escape it as [[]."),
        ("data/x**.csv", "'data/x**.csv': '**' must be a whole path segment, as in data/**/*.csv."),
    ],
)
def test_bad_patterns_say_how_to_write_them(pattern: str, message: str) -> None:
    with pytest.raises(BadGlob) as e:
        compile_glob(pattern)
    assert str(e.value) == message
