"""Workflow files the dispatch-form tests write: one as someone writes it by hand, and where it goes."""

from __future__ import annotations

from pathlib import Path

# A workflow as someone writes it by hand: a stale form (epochs typed as text, a removed parameter, flavour
# missing), a version input that feeds the action's version:, comments everywhere.
BY_HAND = """\
# Retrain by hand.
name: retrain by hand
on:
  workflow_dispatch:
    # the form
    inputs:
      training_data:
        description: Training data
        default: data/train.csv
      epochs:
        type: string   # should be a number
        default: "3"
      dropout:
        type: number
      version:
        description: Endpoint version to run (a number, default or latest)
        default: default
    # after the form
permissions:
  contents: read
  checks: write
jobs:
  retrain:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v7
      - uses: retrain/retrain@v1
        with:
          version: ${{ inputs.version }}
          parameters: |
            label=fixed
            training_data=${{ inputs.training_data }}
            epochs=${{ inputs.epochs }}
            dropout=${{ inputs.dropout }}
          wait: "true"   # keep
"""


def put(project: Path, text: str, name: str = "retrain.yml") -> Path:
    path = project / ".github" / "workflows" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())
    return path
