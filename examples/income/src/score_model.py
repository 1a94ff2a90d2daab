"""Score Model: predicted label and probability for each test row, next to the true label."""

import argparse
import pickle
from pathlib import Path

import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--test", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

with (Path(args.model) / "model.pkl").open("rb") as f:
    saved = pickle.load(f)
df = pd.read_csv(Path(args.test) / "data.csv")
truth = df.pop(saved["label"]).astype(str).str.strip().str.rstrip(".")
X = df[saved["columns"]].copy()
for column, categories in saved["categories"].items():
    X[column] = pd.Categorical(X[column], categories=categories)  # unseen values become missing
probability = saved["model"].predict_proba(X)[:, 1]
scored = pd.DataFrame({"label": (truth == saved["positive"]).astype(int),
                       "scored_label": (probability >= 0.5).astype(int), "scored_probability": probability})
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
scored.to_csv(out / "scored.csv", index=False)
print(f"scored {len(scored)} rows")
