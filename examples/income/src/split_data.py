"""Split Data: a stratified random split into training and test rows, reproducible with the seed."""

import argparse
from pathlib import Path

import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--dataset", required=True)
parser.add_argument("--test-fraction", type=float, required=True)
parser.add_argument("--label", required=True)
parser.add_argument("--seed", type=int, required=True)
parser.add_argument("--train", required=True)
parser.add_argument("--test", required=True)
args = parser.parse_args()

df = pd.read_csv(Path(args.dataset) / "data.csv")
# Stratify on the label so both sets keep the same share of >50K earners.
test = df.groupby(args.label, group_keys=False).sample(frac=args.test_fraction, random_state=args.seed)
train = df.drop(test.index)
for folder, part in ((args.train, train), (args.test, test)):
    Path(folder).mkdir(parents=True, exist_ok=True)
    part.to_csv(Path(folder) / "data.csv", index=False)
print(f"train {len(train)} rows, test {len(test)} rows")
