"""``driftline demo --torch``: a PyTorch network monitored as it is, through the wrapper.

A small network (64 pixels -> 32 -> 16 -> 10 classes) is trained on 40 % of
scikit-learn's bundled digits (8x8 images; nothing is downloaded). It is wrapped, with no
change to it, in :class:`driftline.integrations.torch.MonitoredModule`, hooked on its
penultimate layer: every forward pass logs the softmax scores, the predicted digit, the
16-dimensional embedding and each image's 4x4 ink features, for 60 days of traffic in
three regions. The reference (30 % of the images, labelled) is scored through the same
wrapper into a scratch store and logged as the reference.

Incident: from day 30 for five days, ``apac`` gets a **noisy camera**: Gaussian pixel
noise on every image. The network's confidence drops there, and its penultimate-layer
embeddings move (``embedding_drift`` in ``apac`` from day 30; the report's embedding
section ranks the classes that moved most and draws each class's reference-vs-serving
view).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftline.demo import FEATURES, REGIONS, START, DemoResult, Incident, _features
from driftline.errors import ConfigError, missing_extra

__all__ = ["TORCH_INCIDENTS", "run_torch_demo"]

INCIDENT_DAYS = 5
TORCH_INCIDENTS = (
    Incident("noisy camera (apac)", 30, "confidence_shift", "region", "apac", None),
    Incident("noisy camera: embeddings (apac)", 30, "embedding_drift", "region", "apac", None),
)


def _network(x: Any, y: Any, seed: int) -> Any:
    import torch

    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(64, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 10),
    )
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    xt = torch.tensor(x, dtype=torch.float32)
    yt = torch.tensor(y)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()  # type: ignore[no-untyped-call]
        opt.step()
    return net.eval()


def run_torch_demo(
    directory: str | Path = "driftline-demo-torch",
    *,
    days: int = 60,
    seed: int = 0,
    rows_per_region: int = 300,
    console: Any = None,
) -> DemoResult:
    """Train the network, serve 60 days of traffic through the wrapper, check, report."""
    if days < 60:
        raise ConfigError(
            f"the torch demo needs at least 60 days to show its incident; got --days {days}."
        )
    try:
        import torch
    except ImportError as exc:
        raise missing_extra("the torch demo", "torch", "torch") from exc
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as exc:
        raise missing_extra("the torch demo", "scikit-learn", "demo") from exc
    from driftline.demo import report_caught
    from driftline.integrations.torch import MonitoredModule
    from driftline.monitor import connect
    from driftline.spec import load_spec

    say = console.print if console is not None else (lambda *a, **k: None)
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    digits = load_digits()
    pixels = digits.data / 16.0
    y = digits.target
    x_train, x_rest, y_train, y_rest = train_test_split(
        pixels, y, train_size=0.4, stratify=y, random_state=seed
    )
    x_ref, x_pool, y_ref, _ = train_test_split(
        x_rest, y_rest, train_size=0.5, stratify=y_rest, random_state=seed
    )
    net = _network(x_train, y_train, seed)
    classes = [str(d) for d in range(10)]
    spec = load_spec(
        {
            "id": "id",
            "timestamp": "ts",
            "prediction": "prediction",
            "scores": {"column": "scores", "classes": classes},
            "label": "label",
            "cohorts": ["region"],
            "features": {"numeric": FEATURES},
            "embedding": "embedding",
            "window": "1d",
        }
    )
    spec_path = spec.save(root / "driftline.yaml")
    store_path = root / "driftline.duckdb"
    scratch = root / "reference-scoring.duckdb"
    for stale in (store_path, scratch, root / "driftline.duckdb.wal"):
        stale.unlink(missing_ok=True)

    def ink(batch: Any) -> dict[str, Any]:
        feats = _features(batch.numpy().reshape(-1, 8, 8) * 16.0)
        return {name: feats[:, k] for k, name in enumerate(FEATURES)}

    # the reference: the holdout scored through the same wrapper, with its labels
    with connect(scratch, spec_path) as scoring:
        wrapped = MonitoredModule(net, scoring, classes=classes, layer="3", features=ink)
        ids = [f"ref-{i}" for i in range(len(x_ref))]
        regions = rng.choice(REGIONS, len(x_ref))
        with torch.no_grad():
            for region in REGIONS:
                rows = np.flatnonzero(regions == region)
                wrapped(
                    torch.tensor(x_ref[rows], dtype=torch.float32),
                    ids=[ids[i] for i in rows],
                    cohorts={"region": region},
                    timestamps=[START.replace(tzinfo=None)] * len(rows),
                )
        reference = scoring.store.con.execute("SELECT * FROM predictions").fetch_df()
    scratch.unlink(missing_ok=True)
    labels = dict(zip(ids, (str(v) for v in y_ref), strict=True))
    reference["label"] = reference["id"].map(labels)
    own = ["ts", "confidence", "ingested_at", "_batch", "_seq", "_skew"]
    reference = reference.drop(
        columns=[c for c in reference.columns if c in own or c.startswith("_")]
    )
    accuracy = float((reference["prediction"] == reference["label"]).mean())
    reference.to_parquet(root / "reference.parquet", index=False)

    pool = np.concatenate([x_ref, x_pool])
    served = 0
    with connect(store_path, spec_path) as mon:
        mon.log_reference(root / "reference.parquet")
        wrapped = MonitoredModule(net, mon, classes=classes, layer="3", features=ink, buffer=10_000)
        with torch.no_grad():
            for day in range(days):
                for region in REGIONS:
                    n = int(rng.poisson(rows_per_region))
                    images = pool[rng.integers(0, len(pool), n)].copy()
                    if region == "apac" and 30 <= day < 30 + INCIDENT_DAYS:
                        images = np.clip(images + rng.normal(0, 0.3, images.shape), 0, 1)
                    secs = np.sort(rng.uniform(0, 86400, n))
                    when = pd.to_datetime(START + timedelta(days=day)) + pd.to_timedelta(
                        secs, unit="s"
                    )
                    wrapped(
                        torch.tensor(images, dtype=torch.float32),
                        ids=[f"d{day:03d}-{region}-{i:05d}" for i in range(n)],
                        cohorts={"region": region},
                        timestamps=list(when),
                    )
                    served += n
        wrapped.remove()
        say(
            f"digits through a PyTorch network: accuracy on the holdout {accuracy:.1%}; "
            f"{served:,} predictions over {days} days in {len(REGIONS)} regions, logged "
            "by the wrapper with 16-dimensional embeddings"
        )
        report = mon.check()
    return report_caught(
        report, root, TORCH_INCIDENTS, say, store_path=store_path, spec_path=spec_path
    )
