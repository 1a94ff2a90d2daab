"""Evaluate Model: AUC, accuracy, precision, recall and F1 on the held-out rows.

Metrics are logged with MLflow, as Azure ML components do (there, MLflow is set up for the job; the
local backend sets MLFLOW_TRACKING_URI to a file store in the step's folder). Without MLflow installed
the same numbers go to metrics.json in the output folder.
"""

import argparse
import json
from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

parser = argparse.ArgumentParser()
parser.add_argument("--scored", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

df = pd.read_csv(Path(args.scored) / "scored.csv")
metrics = {
    "auc": roc_auc_score(df["label"], df["scored_probability"]),
    "accuracy": accuracy_score(df["label"], df["scored_label"]),
    "precision": precision_score(df["label"], df["scored_label"], zero_division=0),
    "recall": recall_score(df["label"], df["scored_label"], zero_division=0),
    "f1": f1_score(df["label"], df["scored_label"], zero_division=0),
}
metrics = {k: round(float(v), 6) for k, v in metrics.items()}
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
(out / "evaluation.json").write_text(json.dumps(metrics, indent=2))
try:
    import mlflow
except ImportError:
    (out / "metrics.json").write_text(json.dumps(metrics))
else:
    mlflow.log_metrics(metrics)
print("  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
