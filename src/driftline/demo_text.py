"""``driftline demo --text``: a support-ticket classifier, 60 days of traffic, two incidents.

The corpus is built here, offline and seeded: support tickets about ``billing``,
``shipping`` and ``technical`` problems, written from each topic's words and phrases, some
mixing two topics (so the model is not perfect). Most users *paste* a ticket from an
e-mail (capitalised sentences, punctuation, order and invoice numbers); some type one. A
TF-IDF + logistic-regression model is trained on 2,400 tickets; 1,200 more, scored by it,
are the reference. The model's embedding of a ticket (the TF-IDF vector reduced to 16
dimensions by truncated SVD, fitted on the training tickets) is logged with each
prediction. Serving traffic arrives through two channels, ``web`` and ``app``.

Incidents, each starting on a known day and lasting five days:

- day 20, ``app`` only: **users type instead of pasting** - a release of the mobile app
  drops the paste button: short lower-case tickets without punctuation, with typos;
- day 40, both channels: **a new topic** - an account-security scare: tickets about
  passwords, logins and hacked accounts, words the model never saw.

The report shows the text-style shifts, and, per class, the words LIME finds the model
relies on, and how often typing noise flips a prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftline.demo import START, DemoResult, Incident
from driftline.errors import ConfigError, missing_extra
from driftline.robustness import perturb_text

__all__ = ["TEXT_INCIDENTS", "TextDemoData", "make_text_demo_data", "run_text_demo"]

CHANNELS = ("web", "app")
CLASSES = ("billing", "shipping", "technical")
INCIDENT_DAYS = 5

TEXT_INCIDENTS = (
    Incident("users type instead of pasting (app)", 20, "text_drift", "channel", "app", None),
    Incident("a new topic (account security)", 40, "text_drift", None, None, "message:oov"),
)

_WORDS = {
    "billing": [
        "invoice",
        "charged",
        "twice",
        "refund",
        "payment",
        "card",
        "bill",
        "subscription",
        "price",
        "discount",
        "receipt",
        "overcharged",
        "plan",
        "renewal",
        "fee",
        "credit",
        "statement",
        "vat",
    ],
    "shipping": [
        "package",
        "delivery",
        "parcel",
        "courier",
        "tracking",
        "shipped",
        "arrived",
        "late",
        "address",
        "box",
        "warehouse",
        "customs",
        "dispatch",
        "postage",
        "lost",
        "damaged",
        "doorstep",
    ],
    "technical": [
        "error",
        "crash",
        "app",
        "screen",
        "update",
        "install",
        "bug",
        "loading",
        "slow",
        "freeze",
        "settings",
        "sync",
        "battery",
        "version",
        "reboot",
        "printer",
        "wifi",
    ],
}
_NEW_TOPIC = [
    "password",
    "login",
    "hacked",
    "account",
    "locked",
    "phishing",
    "twofactor",
    "reset",
    "suspicious",
    "email",
    "verification",
    "breach",
    "unauthorised",
    "security",
    "code",
]
_FILLER = [
    "the",
    "my",
    "a",
    "and",
    "it",
    "is",
    "was",
    "not",
    "for",
    "with",
    "this",
    "on",
    "again",
    "since",
]
_OPENINGS = ("Hello,", "Hi team,", "Dear support,", "Good morning,")
_CLOSINGS = ("Thanks,", "Kind regards,", "Best wishes,", "Thank you.")
_NAMES = ("Maria", "Ahmed", "Li", "Sven", "Priya", "Tom", "Ana", "Kofi")


@dataclass
class TextDemoData:
    reference: pd.DataFrame
    days: list[pd.DataFrame]
    spec: dict[str, Any]
    accuracy: float
    model: Any


def _ticket(rng: np.random.Generator, *, typed: bool, words: list[str]) -> str:
    n = int(rng.integers(5, 9))
    body = [str(w) for w in rng.choice(words, n)]
    body += [str(w) for w in rng.choice(_FILLER, int(rng.integers(2, 5)))]
    rng.shuffle(body)
    if typed:
        text = " ".join(body[: int(rng.integers(3, 6))])
        return perturb_text(text, "typos", 0.08, rng)
    sentence = " ".join(body)
    ref = f"#{int(rng.integers(10000, 99999))}"
    return (
        f"{rng.choice(_OPENINGS)} {sentence[0].upper()}{sentence[1:]}, regarding case {ref}. "
        f"Could you look into it? {rng.choice(_CLOSINGS)} {rng.choice(_NAMES)}"
    )


def _tickets(
    rng: np.random.Generator, n: int, *, typed_share: float, new_topic: float = 0.0
) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for _ in range(n):
        topic = str(rng.choice(CLASSES))
        words = list(_WORDS[topic])
        if rng.random() < 0.25:  # a ticket that also mentions another topic
            other = str(rng.choice([c for c in CLASSES if c != topic]))
            words += list(rng.choice(_WORDS[other], 6))
        if rng.random() < new_topic:
            words = list(_NEW_TOPIC) + list(rng.choice(_WORDS[topic], 3))
        texts.append(_ticket(rng, typed=rng.random() < typed_share, words=words))
        labels.append(topic)
    return texts, labels


def make_text_demo_data(days: int = 60, seed: int = 0, rows_per_channel: int = 150) -> TextDemoData:
    """Build the corpus, train the model, and build the reference and the daily traffic."""
    if days < 60:
        raise ConfigError(
            f"the text demo needs at least 60 days to show every incident; got --days {days}."
        )
    try:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
    except ImportError as exc:
        raise missing_extra("the text demo", "scikit-learn", "demo") from exc
    rng = np.random.default_rng(seed)
    train_x, train_y = _tickets(rng, 2400, typed_share=0.1)
    model = make_pipeline(TfidfVectorizer(min_df=2), LogisticRegression(max_iter=2000, C=2.0))
    model.fit(train_x, train_y)
    tfidf = model.steps[0][1]
    svd = TruncatedSVD(16, random_state=seed).fit(tfidf.transform(train_x))
    classes = [str(c) for c in model.classes_]

    def frame(texts: list[str], labels: list[str], ids: list[str], ts: Any) -> pd.DataFrame:
        proba = model.predict_proba(texts)
        df = pd.DataFrame({"id": ids, "ts": ts, "message": texts})
        df["prediction"] = np.asarray(classes)[proba.argmax(axis=1)]
        for i, c in enumerate(classes):
            df[f"score_{c}"] = proba[:, i]
        df["embedding"] = list(svd.transform(tfidf.transform(texts)))
        df["label"] = labels
        return df

    ref_x, ref_y = _tickets(rng, 1200, typed_share=0.1)
    reference = frame(ref_x, ref_y, [f"ref-{i}" for i in range(len(ref_x))], pd.NaT)
    reference = reference.drop(columns=["ts"])
    reference["channel"] = rng.choice(CHANNELS, len(reference))
    accuracy = float((reference["prediction"] == reference["label"]).mean())

    out = []
    for day in range(days):
        parts = []
        for channel in CHANNELS:
            n = int(rng.poisson(rows_per_channel))
            typing = channel == "app" and 20 <= day < 20 + INCIDENT_DAYS
            new_topic = 0.4 if 40 <= day < 40 + INCIDENT_DAYS else 0.0
            texts, labels = _tickets(
                rng, n, typed_share=0.85 if typing else 0.1, new_topic=new_topic
            )
            secs = np.sort(rng.uniform(0, 86400, n))
            ts = pd.to_datetime(START + timedelta(days=day)) + pd.to_timedelta(secs, unit="s")
            df = frame(texts, labels, [f"d{day:03d}-{channel}-{i:04d}" for i in range(n)], ts)
            df["channel"] = channel
            parts.append(df)
        out.append(pd.concat(parts, ignore_index=True).drop(columns=["label"]))
    spec = {
        "id": "id",
        "timestamp": "ts",
        "prediction": "prediction",
        "scores": {"columns": {c: f"score_{c}" for c in classes}},
        "label": "label",
        "cohorts": ["channel"],
        "features": {"text": ["message"]},
        "embedding": "embedding",
        "window": "1d",
    }
    return TextDemoData(reference, out, spec, accuracy, model)


def run_text_demo(
    directory: str | Path = "driftline-demo-text",
    *,
    days: int = 60,
    seed: int = 0,
    console: Any = None,
) -> DemoResult:
    """Write the text demo's files, log everything, check, explain, and say what was
    caught when."""
    from driftline.demo import report_caught
    from driftline.monitor import connect
    from driftline.spec import load_spec

    say = console.print if console is not None else (lambda *a, **k: None)
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    data = make_text_demo_data(days=days, seed=seed)
    spec = load_spec(data.spec)
    spec_path = spec.save(root / "driftline.yaml")
    data.reference.to_parquet(root / "reference.parquet", index=False)
    store_path = root / "driftline.duckdb"
    for stale in (store_path, root / "driftline.duckdb.wal"):
        stale.unlink(missing_ok=True)
    say(
        f"support tickets: model accuracy on the holdout {data.accuracy:.1%}; "
        f"{sum(len(d) for d in data.days):,} predictions over {days} days in "
        f"{len(CHANNELS)} channels"
    )
    with connect(store_path, spec_path) as mon:
        mon.log_reference(root / "reference.parquet")
        for day, df in enumerate(data.days):
            mon.log_predictions(df, batch_id=f"day-{day:03d}")
        report = mon.check()
        explanations = mon.explain(data.model, n=15, num_samples=300, seed=seed)
        robustness = mon.robustness(data.model, n=300, rate=0.1, seed=seed)
    return report_caught(
        report,
        root,
        TEXT_INCIDENTS,
        say,
        store_path=store_path,
        spec_path=spec_path,
        explanations=explanations,
        robustness=robustness,
    )
