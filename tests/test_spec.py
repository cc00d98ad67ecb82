"""The spec: YAML loading with unknown keys refused, windows, roles, drift methods, inference."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from driftline import ConfigError, Spec, infer_spec, load_spec
from driftline.methods import available_methods
from driftline.spec import RESERVED_COLUMNS, DriftConfig, Window, parse_window

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _yaml(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "driftline.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


# -- unknown keys, at every level ------------------------------------------------------------
@pytest.mark.parametrize(
    ("patch", "key", "value"),
    [
        ({"windw": "1d"}, "windw", "'1d'"),
        ({"features": {"numerc": ["x"]}}, "features.numerc", "['x']"),
        ({"checks": {"foo": 1}}, "checks.foo", "1"),
        (
            {"scores": {"colums": {"a": "score_a", "b": "score_b"}}},
            "scores.colums",
            "{'a': 'score_a', 'b': 'score_b'}",
        ),
        ({"drift": {"method": "psi"}}, "drift.method", "'psi'"),
    ],
    ids=["top-level", "features", "checks", "scores", "drift"],
)
def test_unknown_key_in_yaml_is_named(
    tmp_path: Path, make_spec: Any, patch: dict[str, Any], key: str, value: str
) -> None:
    path = _yaml(tmp_path, {**make_spec(), **patch})
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    msg = str(info.value)
    assert f"unknown key {key!r} in {path}" in msg
    assert f"(value {value})" in msg
    assert "remove it or check its spelling" in msg


def test_unknown_key_in_a_mapping_is_named(make_spec: Any) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'features\.numerc' in the spec"):
        load_spec({**make_spec(), "features": {"numerc": ["x"]}})


def test_missing_spec_file_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    assert f"spec file {str(path)!r} does not exist" in str(info.value)
    assert "driftline init --reference FILE" in str(info.value)


def test_yaml_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "driftline.yaml"
    path.write_text("- id\n- ts\n")
    with pytest.raises(ConfigError, match="must hold a mapping of roles; got list"):
        load_spec(path)


def test_invalid_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "driftline.yaml"
    path.write_text("id: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_spec(path)


def test_load_spec_passes_a_spec_through(make_spec: Any) -> None:
    spec = load_spec(make_spec())
    assert load_spec(spec) is spec
    assert spec.classes == ["a", "b", "c"]
    assert spec.score_columns == ["score_a", "score_b", "score_c"]
    assert spec.required_columns() == ["id", "ts", "pred", "score_a", "score_b", "score_c"]
    assert spec.feature_kinds == {"x": "numeric", "y": "numeric", "color": "categorical"}


# -- windows ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("1d", Window(seconds=86400)),
        ("6h", Window(seconds=21600)),
        ("30m", Window(seconds=1800)),
        ("45s", Window(seconds=45)),
        ("2w", Window(seconds=14 * 86400)),
        (" 7 d ", Window(seconds=7 * 86400)),
        ("10000 rows", Window(rows=10000)),
        ("1 row", Window(rows=1)),
        ("500rows", Window(rows=500)),
    ],
)
def test_parse_window(text: str, window: Window) -> None:
    assert parse_window(text) == window


@pytest.mark.parametrize(("seconds", "label"), [(86400, "1d"), (90, "90s"), (7200, "2h")])
def test_window_label(seconds: int, label: str) -> None:
    assert Window(seconds=seconds).label == label
    assert parse_window(label).seconds == seconds
    assert Window(rows=300).label == "300 rows"


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("0d", "use a positive size such as '1d'"),
        ("0 rows", "use a positive row count"),
        ("1x", "use a number and a unit (s, m, h, d, w)"),
        ("daily", "use a number and a unit (s, m, h, d, w)"),
        ("1.5d", "use a number and a unit (s, m, h, d, w)"),
        ("-1d", "use a number and a unit (s, m, h, d, w)"),
        ("", "use a number and a unit (s, m, h, d, w)"),
    ],
)
def test_bad_window_is_refused(text: str, fix: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_window(text)
    assert f"window {text!r}" in str(info.value)
    assert fix in str(info.value)


@pytest.mark.parametrize("value", [5, 1.5, None, ["1d"]])
def test_window_that_is_not_a_string_is_refused(value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        parse_window(value)
    assert f"got {value!r}" in str(info.value)
    assert "window must be a string such as '1d'" in str(info.value)


@pytest.mark.parametrize("value", ["daily", 5])
def test_bad_window_in_the_spec_is_refused(make_spec: Any, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(make_spec(window=value))
    msg = str(info.value)
    assert msg.startswith("window: ")
    assert f"got {value!r}" in msg
    assert "'1d'" in msg  # the example of a valid window is the fix


@given(n=st.integers(min_value=1, max_value=10**12), unit=st.sampled_from(sorted(UNITS)))
def test_any_positive_count_and_unit_parses(n: int, unit: str) -> None:
    assert parse_window(f"{n}{unit}") == Window(seconds=n * UNITS[unit])
    assert parse_window(f" {n} {unit} ") == Window(seconds=n * UNITS[unit])
    assert parse_window(f"{n} rows") == Window(rows=n)


@given(
    text=st.one_of(
        st.text(),
        st.text(alphabet=string.digits + "smhdwrows .-+xyD"),
        st.from_regex(r"-?[0-9]*\.?[0-9]*\s*[a-zA-Z]{0,5}", fullmatch=True),
    )
)
def test_garbage_window_raises_config_error_only(text: str) -> None:
    outcome: Window | ConfigError
    try:
        outcome = parse_window(text)
    except ConfigError as exc:  # any other exception type fails the test
        outcome = exc
    if isinstance(outcome, ConfigError):
        assert repr(text) in str(outcome)
    else:  # whatever parses is a positive duration or row count, never both
        assert (outcome.seconds is None) != (outcome.rows is None)
        assert (outcome.seconds or outcome.rows or 0) > 0


@given(value=st.one_of(st.integers(), st.floats(), st.none(), st.binary(), st.lists(st.text())))
def test_non_string_window_raises_config_error(value: Any) -> None:
    with pytest.raises(ConfigError, match="window must be a string"):
        parse_window(value)


# -- roles --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(RESERVED_COLUMNS))
def test_reserved_column_name_is_refused(make_spec: Any, name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(make_spec(features={"numeric": [name]}))
    msg = str(info.value)
    assert f"column {name!r} (feature (numeric)) is the store's own column {name!r}" in msg
    assert "rename the column, in the data and in the spec" in msg


def test_reserved_name_as_a_role_is_refused(make_spec: Any) -> None:
    with pytest.raises(ConfigError, match=r"column 'confidence' \(id\) is the store's own"):
        load_spec(make_spec(id="confidence"))


@pytest.mark.parametrize(
    ("patch", "column", "roles"),
    [
        ({"label": "pred"}, "pred", "prediction and label"),
        ({"cohorts": ["x"]}, "x", "cohort and feature (numeric)"),
        (
            {"features": {"numeric": ["x"], "categorical": ["x"]}},
            "x",
            "feature (numeric) and feature (categorical)",
        ),
        ({"features": {"text": ["ts"]}}, "ts", "timestamp and feature (text)"),
        ({"embedding": "score_a"}, "score_a", "scores and embedding"),
    ],
    ids=["label-is-prediction", "cohort-numeric", "numeric-and-categorical", "ts-text", "emb"],
)
def test_column_with_two_roles_is_refused(
    make_spec: Any, patch: dict[str, Any], column: str, roles: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(make_spec(**patch))
    msg = str(info.value)
    assert f"column {column!r} is given two roles, {roles}" in msg
    assert "each column has one role" in msg


def test_column_listed_twice_is_refused(make_spec: Any) -> None:
    with pytest.raises(ConfigError, match="column 'x' is listed twice as feature"):
        load_spec(make_spec(features={"numeric": ["x", "x"]}))


def test_cohort_may_also_be_a_categorical_feature(make_spec: Any) -> None:
    spec = load_spec(make_spec(features={"categorical": ["segment", "color"]}))
    assert spec.cohorts == ["segment"]
    assert spec.feature_kinds == {"segment": "categorical", "color": "categorical"}


@pytest.mark.parametrize(
    ("scores", "fix"),
    [
        ({"columns": {"a": "s_a", "b": "s_b"}, "column": "p"}, "give either 'columns'"),
        ({"column": "p"}, "needs 'classes'"),
        ({"columns": {"a": "s_a"}}, "at least two classes"),
        ({}, "give either 'columns'"),
    ],
    ids=["both-forms", "list-without-classes", "one-class", "neither"],
)
def test_bad_scores_are_refused(scores: dict[str, Any], fix: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_spec({"scores": scores})
    assert str(info.value).startswith("scores: ")
    assert fix in str(info.value)


def test_numeric_class_names_become_strings() -> None:
    spec = load_spec({"scores": {"column": "probs", "classes": [0, 1, 2]}})
    assert spec.classes == ["0", "1", "2"]
    spec = load_spec({"scores": {"columns": {0: "p0", 1: "p1"}}})
    assert spec.classes == ["0", "1"]


# -- drift methods ------------------------------------------------------------------------------
def test_drift_config_defaults_and_overrides() -> None:
    config = DriftConfig(numeric="ks", by_column={"age": "wasserstein"})
    assert config.method_for("age", "numeric") == "wasserstein"
    assert config.method_for("income", "numeric") == "ks"
    assert config.method_for("city", "categorical") == "jensen_shannon"


@pytest.mark.parametrize(
    ("drift", "where"),
    [
        ({"numeric": "pis"}, "did you mean 'psi'?"),
        ({"categorical": "nope"}, "unknown drift method 'nope'"),
        ({"by_column": {"x": "kss"}}, "unknown drift method 'kss'"),
    ],
    ids=["numeric", "categorical", "by-column"],
)
def test_unknown_drift_method_is_refused(make_spec: Any, drift: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(make_spec(drift=drift))
    msg = str(info.value)
    assert where in msg
    assert f"available: {', '.join(available_methods())}" in msg


def test_unknown_drift_method_in_python_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown drift method 'pis'; available: chi2"):
        DriftConfig(numeric="pis")


@pytest.mark.parametrize(
    ("drift", "where", "kind"),
    [
        ({"categorical": "ks"}, "drift.categorical: method 'ks'", "categorical"),
        ({"categorical": "wasserstein"}, "drift.categorical: method 'wasserstein'", "categorical"),
        ({"by_column": {"color": "ks"}}, "drift.by_column.color: method 'ks'", "categorical"),
    ],
    ids=["categorical-ks", "categorical-wasserstein", "by-column"],
)
def test_drift_method_of_the_wrong_kind_is_refused(
    make_spec: Any, drift: dict[str, Any], where: str, kind: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(make_spec(drift=drift))
    msg = str(info.value)
    assert f"{where} does not apply to {kind} columns" in msg
    assert f"use one of {', '.join(available_methods(kind))}" in msg


def test_drift_override_for_an_unknown_column_is_refused(make_spec: Any) -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(make_spec(drift={"by_column": {"agee": "ks"}}))
    msg = str(info.value)
    assert "drift.by_column names 'agee', which is not a feature of the spec" in msg
    assert "(features: 'x', 'y', 'color')" in msg
    assert "add it to features or remove the override" in msg


def test_text_columns_take_numeric_methods(make_spec: Any) -> None:
    spec = load_spec(
        make_spec(features={"text": ["review"]}, drift={"by_column": {"review": "wasserstein"}})
    )
    assert spec.drift.method_for("review", "text") == "wasserstein"
    assert spec.drift.method_for("x", "numeric") == "psi"


# -- inference ------------------------------------------------------------------------------------
def _reference(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    phrases = ["the parcel arrived late and damaged", "great service, would order again"]
    return pd.DataFrame(
        {
            "ID": np.arange(n),
            "ts": pd.date_range("2024-01-01", periods=n, freq="h"),
            "pred": rng.choice(["cat", "dog"], n),
            "proba_cat": rng.random(n),
            "proba_dog": rng.random(n),
            "target": rng.choice(["cat", "dog"], n),
            "segment": rng.choice(["web", "app"], n),
            "age": rng.normal(40, 10, n),
            "visits": rng.integers(0, 9, n),
            "city": rng.choice(["paris", "rome", "oslo"], n),
            "review": [f"{phrases[i % 2]} (order {i})" for i in range(n)],
            "member": rng.random(n) > 0.5,
            "embedding": [list(rng.random(4)) for _ in range(n)],
        }
    )


def test_infer_spec_recognises_common_names() -> None:
    spec = infer_spec(_reference())
    assert (spec.id, spec.timestamp, spec.prediction, spec.label) == ("ID", "ts", "pred", "target")
    assert spec.scores.columns == {"cat": "proba_cat", "dog": "proba_dog"}
    assert spec.cohorts == ["segment"]
    assert spec.features.numeric == ["age", "visits"]
    assert spec.features.categorical == ["city", "member"]
    assert spec.features.text == ["review"]
    assert spec.embedding == "embedding"
    assert spec.window == "1d"


def test_infer_spec_recognises_the_other_common_names() -> None:
    renamed = _reference().rename(
        columns={
            "ID": "id",
            "ts": "timestamp",
            "pred": "prediction",
            "proba_cat": "score_cat",
            "proba_dog": "score_dog",
            "target": "label",
            "segment": "cohort",
        }
    )
    spec = infer_spec(renamed)
    assert (spec.id, spec.timestamp, spec.prediction, spec.label) == (
        "id",
        "timestamp",
        "prediction",
        "label",
    )
    assert spec.scores.columns == {"cat": "score_cat", "dog": "score_dog"}
    assert spec.cohorts == ["cohort"]


def test_infer_spec_finds_a_list_score_column() -> None:
    df = _reference().drop(columns=["proba_cat", "proba_dog"])
    df["probs"] = [[0.4, 0.6]] * len(df)
    spec = infer_spec(df)
    assert spec.scores.column == "probs"
    assert spec.classes == ["cat", "dog"]
    assert "probs" not in spec.feature_kinds


def test_infer_spec_overrides() -> None:
    spec = infer_spec(
        _reference(),
        id="visits",
        label="city",
        cohorts=[],
        numeric=["member"],
        categorical=["age"],
        text=["target"],
        window="6h",
    )
    assert (spec.id, spec.label, spec.cohorts, spec.window) == ("visits", "city", [], "6h")
    assert spec.features.numeric == ["member", "ID"]  # given first, then inferred
    assert spec.features.categorical == ["age", "segment"]
    assert spec.features.text == ["target", "review"]


def test_infer_spec_scores_override() -> None:
    spec = infer_spec(_reference(), scores=["proba_dog", "proba_cat"])
    assert spec.classes == ["dog", "cat"]


def test_explicit_label_wins_over_an_inferred_cohort() -> None:
    spec = infer_spec(_reference(), label="segment")
    assert spec.label == "segment"
    assert spec.cohorts == []
    assert "target" in spec.features.categorical


def test_explicit_numeric_feature_wins_over_an_inferred_cohort() -> None:
    df = _reference().assign(segment=np.arange(40) % 3)
    spec = infer_spec(df, numeric=["segment"])
    assert spec.cohorts == []
    assert spec.features.numeric == ["segment", "age", "visits"]


def test_infer_spec_text_versus_categorical() -> None:
    n = 30
    df = _reference(n).assign(
        short_words=[f"tag {i % 3}" for i in range(n)],  # spaces but few distinct values
        many_words=[f"word{i} word{i + 1} word{i + 2}" for i in range(n)],
        long_code=["X" * 40] * n,
        code=["AB-12", "CD-34", "EF-56"] * 10,
    )
    spec = infer_spec(df)
    assert spec.feature_kinds["short_words"] == "categorical"
    assert spec.feature_kinds["many_words"] == "text"
    assert spec.feature_kinds["long_code"] == "text"
    assert spec.feature_kinds["code"] == "categorical"


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"id": "nope"}, "--id 'nope' is not a column of the reference"),
        ({"scores": ["nope"]}, "--scores column 'nope' is not in the reference"),
        ({"numeric": ["nope"]}, "feature 'nope' is not a column of the reference"),
        ({"cohorts": ["nope"]}, "--cohort 'nope' is not a column of the reference"),
    ],
)
def test_infer_spec_override_naming_no_column_is_refused(kwargs: dict[str, Any], fix: str) -> None:
    with pytest.raises(ConfigError) as info:
        infer_spec(_reference(), **kwargs)
    assert fix in str(info.value)
    assert "columns are 'ID', 'ts', 'pred', 'proba_cat', 'proba_dog' and 8 more" in str(info.value)


def test_infer_spec_without_scores_names_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"name them score_<class> .* or pass --scores"):
        infer_spec(_reference().drop(columns=["proba_cat", "proba_dog"]))


def test_infer_spec_without_timestamp_names_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"could not find the timestamp column .* --timestamp"):
        infer_spec(_reference().drop(columns=["ts"]))


# -- YAML round trip -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "patch",
    [
        {},
        {"window": "6h", "checks": {"seed": 7, "min_rows": 5}},
        {"drift": {"numeric": "ks", "by_column": {"color": "chi2"}, "bins": 12}},
        {"label": None, "cohorts": [], "features": {"text": ["review"]}, "embedding": "emb"},
        {"scores": {"column": "probs", "classes": ["a", "b", "c"]}, "window": "5000 rows"},
    ],
    ids=["defaults", "window-checks", "drift", "sparse", "list-scores"],
)
def test_to_yaml_round_trip(tmp_path: Path, make_spec: Any, patch: dict[str, Any]) -> None:
    spec = load_spec(make_spec(**patch))
    assert load_spec(yaml.safe_load(spec.to_yaml())) == spec
    path = spec.save(tmp_path / "driftline.yaml")
    assert load_spec(path) == spec
    assert load_spec(path).fingerprint() == spec.fingerprint()


def test_inferred_spec_round_trips(tmp_path: Path) -> None:
    spec = infer_spec(_reference())
    assert load_spec(spec.save(tmp_path / "s.yaml")) == spec


def test_to_yaml_leaves_out_empty_sections(make_spec: Any) -> None:
    data = yaml.safe_load(load_spec(make_spec(label=None)).to_yaml())
    assert "label" not in data
    assert "checks" not in data
    assert "drift" not in data
    assert data["features"] == {"numeric": ["x", "y"], "categorical": ["color"]}


def test_fingerprint_ignores_window_and_checks_but_not_roles(make_spec: Any) -> None:
    base = load_spec(make_spec())
    assert load_spec(make_spec(window="1h")).fingerprint() == base.fingerprint()
    assert load_spec(make_spec(checks={"seed": 3})).fingerprint() == base.fingerprint()
    assert load_spec(make_spec(cohorts=[])).fingerprint() != base.fingerprint()
    assert load_spec(make_spec(drift={"bins": 7})).fingerprint() != base.fingerprint()


def test_spec_is_frozen(make_spec: Any) -> None:
    spec: Spec = load_spec(make_spec())
    with pytest.raises(ValueError, match="frozen"):
        spec.window = "1h"  # type: ignore[misc]


# -- checks.cohort_baseline_min_rows ---------------------------------------------------------------
def test_cohort_baseline_min_rows_defaults_and_needs_no_refit(make_spec: Any) -> None:
    base = load_spec(make_spec())
    assert base.checks.cohort_baseline_min_rows == 200
    changed = load_spec(make_spec(checks={"cohort_baseline_min_rows": 50}))
    assert changed.checks.cohort_baseline_min_rows == 50
    assert changed.fingerprint() == base.fingerprint()  # read when checks run


@pytest.mark.parametrize("value", [0, -5])
def test_cohort_baseline_min_rows_below_one_names_the_fix(make_spec: Any, value: int) -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(make_spec(checks={"cohort_baseline_min_rows": value}))
    msg = str(info.value)
    assert msg.startswith("checks.cohort_baseline_min_rows: the reference rows a cohort value")
    assert "whole number of 1 or more, e.g. 200" in msg
    assert f"(got '{value}')" in msg


def test_cohort_baseline_min_rows_is_a_whole_number(make_spec: Any) -> None:
    with pytest.raises(ConfigError, match=r"checks\.cohort_baseline_min_rows: Input should be"):
        load_spec(make_spec(checks={"cohort_baseline_min_rows": 2.5}))


@pytest.mark.parametrize("scores", ["columns", "list", "binary"])
def test_infer_spec_of_a_parquet_file_reads_what_it_needs_and_infers_the_same(
    tmp_path: Path, scores: str
) -> None:
    """A Parquet reference is inferred from its schema, its first rows and the columns
    whose every value a role needs (the classes of a list of scores or of a binary
    model): the spec is the one inferred from the whole table, also when a class, or a
    text, appears only after the first rows."""
    rng = np.random.default_rng(5)
    n = 6000
    pred = np.where(np.arange(n) < 5000, "cat", "dog")  # "dog" only after the first rows
    df = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "ts": pd.date_range("2024-01-01", periods=n, freq="min", tz="UTC"),
            "prediction": pred,
            "amount": rng.normal(size=n),
            "visits": rng.integers(0, 9, n),
            "color": rng.choice(["red", "blue"], n),
        }
    )
    p = rng.uniform(0.0, 0.4, n)
    p[pred == "dog"] = 0.8
    if scores == "columns":
        df["proba_cat"], df["proba_dog"] = 1 - p, p
    elif scores == "list":
        df["probs"] = [[1 - v, v] for v in p]
    else:
        df["y_pred_proba"] = p
    path = tmp_path / "reference.parquet"
    df.to_parquet(path)
    from_file = infer_spec(path)
    assert from_file.to_yaml() == infer_spec(df).to_yaml()
    assert from_file.classes == ["cat", "dog"]
