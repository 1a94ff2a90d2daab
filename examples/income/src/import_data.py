"""Import Data: read the census CSV named by the pipeline parameter and check it before anything trains."""

import argparse
import csv
import shutil
import sys
from pathlib import Path

EXPECTED = {"age", "workclass", "education", "education-num", "marital-status", "occupation", "relationship",
            "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country"}

parser = argparse.ArgumentParser()
parser.add_argument("--source", required=True)
parser.add_argument("--label", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

source = Path(args.source)
if not source.is_file():
    sys.exit(f"import_data: {source} does not exist; check the training_data parameter.")
with source.open(newline="") as f:
    reader = csv.reader(f)
    header = next(reader)
    rows = sum(1 for _ in reader)
missing = (EXPECTED | {args.label}) - set(header)
if missing:
    sys.exit(f"import_data: {source} lacks the columns {', '.join(sorted(missing))}.")
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
shutil.copyfile(source, out / "data.csv")
print(f"imported {rows} rows, {len(header)} columns from {source.name}")
