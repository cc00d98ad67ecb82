"""The PyTorch wrapper on a small real network over scikit-learn's digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.datasets import load_digits  # noqa: E402

import driftline  # noqa: E402
from driftline.errors import ConfigError  # noqa: E402
from driftline.integrations.torch import MonitoredModule  # noqa: E402

CLASSES = [str(d) for d in range(10)]


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(64, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 10),
    )
    digits = load_digits()
    x = torch.tensor(digits.data / 16, dtype=torch.float32)
    y = torch.tensor(digits.target)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net.eval()


def _spec() -> dict[str, object]:
    return {
        "scores": {"column": "scores", "classes": CLASSES},
        "embedding": "embedding",
        "cohorts": ["camera"],
        "features": {"numeric": ["brightness"]},
    }


def test_outputs_bit_identical_rows_and_embedding_dim(tmp_path: Path) -> None:
    net = _net()
    x = torch.tensor(load_digits().data[:300] / 16, dtype=torch.float32)
    with torch.no_grad():
        expected = net(x)
    with driftline.connect(tmp_path / "s.duckdb", _spec()) as mon:
        wrapped = MonitoredModule(
            net,
            mon,
            classes=CLASSES,
            layer="3",
            features=lambda batch: {"brightness": batch.mean(dim=1).numpy()},
            cohorts={"camera": "north"},
        )
        with torch.no_grad():
            outs = [wrapped(x[i : i + 100]) for i in range(0, 300, 100)]
        assert torch.equal(torch.cat(outs), expected)
        # with gradients on, the output still carries them exactly as the bare module's
        y = wrapped(x[:5])
        assert y.requires_grad
        assert torch.equal(y, net(x[:5]))
        assert wrapped.logged == 305
        rows = mon.store.con.execute(
            "SELECT count(*), min(len(embedding)), max(len(embedding)), "
            "count(DISTINCT camera) FROM predictions"
        ).fetchone()
        preds = [
            r[0]
            for r in mon.store.con.execute(
                "SELECT prediction FROM predictions ORDER BY rowid LIMIT 300"
            ).fetchall()
        ]
        emb = mon.store.con.execute(
            "SELECT embedding FROM predictions ORDER BY rowid LIMIT 1"
        ).fetchone()[0]
    assert rows == (305, 16, 16, 1)
    assert preds == [str(c) for c in expected.argmax(dim=1).tolist()]
    hidden = net[3](net[2](net[1](net[0](x[:1]))))
    np.testing.assert_allclose(emb, hidden[0].detach().numpy(), rtol=1e-6)
    wrapped.remove()


def test_bad_layer_and_missing_embedding_column(tmp_path: Path) -> None:
    net = _net()
    with driftline.connect(tmp_path / "s.duckdb", _spec()) as mon:
        with pytest.raises(
            ConfigError, match=r"layer 'fc9' is not a submodule.*its layers are '0'"
        ):
            MonitoredModule(net, mon, classes=CLASSES, layer="fc9")
        with pytest.raises(ConfigError, match="not the spec's classes"):
            MonitoredModule(net, mon, classes=CLASSES[:9])
    spec = {k: v for k, v in _spec().items() if k != "embedding"}
    with (
        driftline.connect(tmp_path / "t.duckdb", spec) as mon,
        pytest.raises(ConfigError, match="spec has no embedding column"),
    ):
        MonitoredModule(net, mon, classes=CLASSES, layer="3")
