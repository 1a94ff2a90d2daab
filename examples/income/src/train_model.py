"""Train a two-class boosted decision tree (the designer's Two-Class Boosted Decision Tree) with
scikit-learn's histogram gradient boosting, which handles the categorical columns natively."""

import argparse
import json
import pickle
from pathlib import Path

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

parser = argparse.ArgumentParser()
parser.add_argument("--train", required=True)
parser.add_argument("--label", required=True)
parser.add_argument("--learning-rate", type=float, required=True)
parser.add_argument("--max-iter", type=int, required=True)
parser.add_argument("--max-leaf-nodes", type=int, required=True)
parser.add_argument("--min-samples-leaf", type=int, default=20)
parser.add_argument("--seed", type=int, required=True)
parser.add_argument("--model", required=True)
args = parser.parse_args()

df = pd.read_csv(Path(args.train) / "data.csv")
y = df.pop(args.label).astype(str).str.strip().str.rstrip(".")
positive = ">50K"
categorical = list(df.select_dtypes(exclude="number").columns)
X = df.astype({c: "category" for c in categorical})
model = HistGradientBoostingClassifier(
    learning_rate=args.learning_rate, max_iter=args.max_iter, max_leaf_nodes=args.max_leaf_nodes,
    min_samples_leaf=args.min_samples_leaf, categorical_features="from_dtype", random_state=args.seed,
)
model.fit(X, (y == positive).astype(int))
out = Path(args.model)
out.mkdir(parents=True, exist_ok=True)
with (out / "model.pkl").open("wb") as f:
    pickle.dump({"model": model, "categories": {c: list(X[c].cat.categories) for c in categorical},
                 "columns": list(X.columns), "label": args.label, "positive": positive}, f)
(out / "params.json").write_text(json.dumps(vars(args), indent=2))
print(f"trained on {len(X)} rows, {len(X.columns)} features, {model.n_iter_} boosting iterations")
