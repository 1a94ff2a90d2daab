"""Clean Missing Data: the census marks unknown values with '?'; replace them with the column's mode."""

import argparse
from pathlib import Path

import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--dataset", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

df = pd.read_csv(Path(args.dataset) / "data.csv", na_values=["?"], skipinitialspace=True)
missing = int(df.isna().sum().sum())
for column in df.columns[df.isna().any()]:
    df[column] = df[column].fillna(df[column].mode().iloc[0])
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
df.to_csv(out / "data.csv", index=False)
print(f"replaced {missing} missing values in {len(df)} rows")
