"""LIME for 100 rows per class: seconds per class and per row, text and tabular.

Text: the text demo's TF-IDF + logistic-regression ticket classifier (3 classes), 100
rows per class from its reference, LIME's default 5,000 perturbed samples per row and
the report's 1,000. Tabular: the digits demo's logistic regression on 16 ink features
plus a categorical column (10 classes), reference as LIME's training data.

    python benchmarks/bench_lime.py --json benchmarks/results/lime.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def _time(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100, help="rows explained per class")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from driftline.demo import make_demo_data
    from driftline.demo_text import make_text_demo_data
    from driftline.explain import explain_class

    results = []
    text = make_text_demo_data()
    texts = text.reference["message"].tolist()
    for samples in (1000, 5000):
        for klass in ("billing", "shipping", "technical"):
            secs = _time(
                lambda k=klass, s=samples: explain_class(
                    text.model, texts, k, n=args.rows, num_samples=s
                ),
                args.repeat,
            )
            results.append(
                {
                    "model": "text (TF-IDF + LR)",
                    "class": klass,
                    "num_samples": samples,
                    "rows": args.rows,
                    "seconds": float(np.median(secs)),
                }
            )
            print(results[-1], flush=True)

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    digits = make_demo_data()
    ref = digits.reference
    feats = [c for c in ref.columns if c.startswith("ink_")] + ["device"]
    frame = ref[feats].reset_index(drop=True)

    class Tabular:
        def __init__(self) -> None:
            x = frame.drop(columns=["device"])
            self.model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
            self.model.fit(x, ref["label"])
            self.classes_ = self.model.classes_

        def predict_proba(self, rows):  # type: ignore[no-untyped-def]
            return self.model.predict_proba(rows.drop(columns=["device"]))

    model = Tabular()
    for klass in ("0", "1", "7"):
        secs = _time(
            lambda k=klass: explain_class(
                model, frame, k, reference=frame, n=args.rows, num_samples=1000
            ),
            args.repeat,
        )
        results.append(
            {
                "model": "tabular (LR, 17 columns)",
                "class": klass,
                "num_samples": 1000,
                "rows": min(
                    args.rows,
                    int((model.model.predict(frame.drop(columns=["device"])) == klass).sum()),
                ),
                "seconds": float(np.median(secs)),
            }
        )
        print(results[-1], flush=True)
    out = {"load_average": os.getloadavg(), "results": results}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
