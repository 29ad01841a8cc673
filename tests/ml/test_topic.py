"""The topic tagger: probabilities, smoothing, tags, behaviour tests and the MLflow flow.

The behaviour tests (minimum functionality, invariance, directional) use short lists written
for them (tests/fixtures/topics_*.txt) and a tagger trained on the bundled sample only.
"""

from __future__ import annotations

import copy
import itertools
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from newsclean.config import TOPICS, load_config
from newsclean.ml.features import CharTfidf, WordTfidf
from newsclean.ml.metrics import tag_utility
from newsclean.ml.topic import (
    THRESHOLD_GRID,
    UNKNOWN,
    TopicTagger,
    abstention_curve,
    tags_from_proba,
)
from newsclean.train.topic import SMOOTHING_GRID, topic_rows, tune

FIXTURES = Path(__file__).parents[1] / "fixtures"
# Names and places the sample does not use: a sample-trained tagger does learn its own places
# (it ties "Santa Veria", the setting of a travel story, to lifestyle), which is a fact about
# a few hundred paragraphs of training text, not about the tagger.
NAMES = ["Maria Okonkwo", "John Smith", "Aiko Tanaka", "Pieter van Dijk", "Fatima Haddad"]
PLACES = ["Brookfield", "Norrholm", "East Tarrow", "Villamar", "Ostmark"]
NUMBERS = ["3", "12", "250", "4,800", "1.5"]


def read_fixture(name: str) -> list[list[str]]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def with_params(tagger: TopicTagger, **params) -> TopicTagger:
    """A copy of a fitted tagger with other smoothing/threshold settings."""
    return copy.deepcopy(tagger).set_params(**params)


def frame_of(texts: list[str], **columns) -> pd.DataFrame:
    return pd.DataFrame({"text": texts, **columns})


@pytest.fixture(scope="module")
def sample_topics(sample_build) -> pd.DataFrame:
    return topic_rows(sample_build[1]).reset_index(drop=True)


def balanced_documents(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of at most as many documents per topic as the rarest topic has (first by id)."""
    topic_of_doc = rows.groupby("doc_id")["topic"].agg(lambda t: t.mode().iloc[0])
    per_topic = topic_of_doc.value_counts().min()
    keep = topic_of_doc.groupby(topic_of_doc).head(per_topic).index
    return rows[rows["doc_id"].isin(keep)]


@pytest.fixture(scope="module")
def tagger(sample_topics) -> TopicTagger:
    """A tagger trained on the sample's training split (a few hundred paragraphs), smoothing
    and threshold chosen on its validation split as training does. Uncalibrated: temperature
    scaling takes seconds even here, and these tests are about behaviour, not calibration.

    The sample holds as many lifestyle articles as all other topics together (it is the real
    tagger's only lifestyle source), so this tagger trains on a topic-balanced part of it:
    otherwise the lifestyle prior, not the words, decides a short unseen sentence."""
    train = balanced_documents(sample_topics[sample_topics["split"] == "train"])
    validation = sample_topics[sample_topics["split"] == "validation"]
    model = TopicTagger(min_df=1, calibration="none").fit(train, train["topic"])
    tune(model, validation)
    return model


# ------------------------------------------------------------------------ probabilities, tags
def test_probabilities_follow_the_fixed_topic_order(tagger):
    proba = tagger.predict_proba(frame_of(["The striker scored twice.", "Profits rose."]))
    assert list(tagger.classes_) == list(TOPICS)
    assert proba.shape == (2, len(TOPICS))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert proba[0].argmax() == TOPICS.index("sports")


def test_topics_unseen_in_training_get_zero_probability():
    texts = ["goal match striker league"] * 3 + ["bank shares profits"] * 3
    model = TopicTagger(min_df=1, calibration="none").fit(
        frame_of(texts), ["sports"] * 3 + ["business"] * 3
    )
    proba = model.predict_proba(frame_of(["the striker scored a goal"]))
    assert proba.shape == (1, len(TOPICS))
    assert proba[0, TOPICS.index("lifestyle")] == 0
    assert model.trained_topics_ == ("business", "sports")


def test_tags_are_at_most_two_highest_first_and_empty_when_unsure():
    proba = np.array(
        [
            [0.46, 0.44, 0.04, 0.03, 0.02, 0.01],  # two topics clear 0.4
            [0.05, 0.90, 0.02, 0.01, 0.01, 0.01],  # one clear winner
            [0.2, 0.2, 0.15, 0.15, 0.15, 0.15],  # nothing clears: unknown
            [0.34, 0.33, 0.33, 0.0, 0.0, 0.0],  # three clear 0.3: only two are kept
        ]
    )
    assert tags_from_proba(proba, 0.4) == [["world", "business"], ["business"], [], []]
    assert tags_from_proba(proba, 0.3)[3] == ["world", "business"]


def test_predict_gives_labels_and_tags_abstain_on_their_own(tagger):
    texts = ["The striker scored twice in the final.", "zzz qqq"]
    tagger_copy = with_params(tagger, threshold=0.99)  # so high that every tag abstains
    labels = tagger_copy.predict(frame_of(texts))
    assert labels.shape == (2,) and set(labels) <= set(TOPICS)  # labels, as sklearn gives
    assert labels[0] == "sports"
    assert tagger_copy.predict_tags(frame_of(texts)) == [[], []]
    table = tagger_copy.tag_table(frame_of(texts))
    assert list(table.columns[:3]) == ["topic", "tags", "n_tags"]
    assert [c for c in table.columns if c.startswith("p_")] == [f"p_{t}" for t in TOPICS]
    assert (table["topic"] == UNKNOWN).all() and (table["tags"] == "").all()
    assert tagger.predict_tags(frame_of(texts[:1]))[0][0] == "sports"


# ------------------------------------------------------------------------ document smoothing
def test_without_doc_id_each_row_is_its_own_document(tagger):
    texts = [
        "The striker scored twice as Rovers won the league match in front of the home fans.",
        "He said afterwards that it had been a long week.",
    ]
    smoothed = with_params(tagger, smoothing=1.0)
    np.testing.assert_allclose(
        smoothed.predict_proba(frame_of(texts)), tagger.paragraph_proba(frame_of(texts))
    )
    # With a shared doc_id the vague paragraph borrows the article's topic.
    proba = smoothed.predict_proba(frame_of(texts, doc_id=["d1", "d1"]))
    np.testing.assert_allclose(proba[0], proba[1])
    assert proba[1].argmax() == TOPICS.index("sports")


def test_teasers_keep_their_own_topic_when_kind_is_given(tagger):
    texts = [
        "The striker scored twice as Rovers won the league match.",
        "The goalkeeper saved a penalty in the second half.",
        "Read more: Bank raises interest rates as inflation climbs",
    ]
    frame = frame_of(texts, doc_id=["d1"] * 3, kind=["news", "news", "teaser"])
    model = with_params(tagger, smoothing=1.0)
    raw = model.paragraph_proba(frame)
    proba = model.predict_proba(frame)
    np.testing.assert_allclose(proba[2], raw[2])  # the teaser neither gives nor takes
    np.testing.assert_allclose(proba[0], raw[:2].mean(axis=0))
    assert proba[2].argmax() == TOPICS.index("business")


def test_rows_without_doc_id_value_are_alone(tagger):
    model = with_params(tagger, smoothing=1.0)
    frame = frame_of(["The striker scored.", "Profits rose at the bank."], doc_id=[None, None])
    np.testing.assert_allclose(model.predict_proba(frame), model.paragraph_proba(frame))


# ------------------------------------------------------------------------ choosing on validation
def test_tune_picks_values_from_the_grids_and_smoothing_does_not_hurt(tagger, sample_topics):
    validation = sample_topics[sample_topics["split"] == "validation"]
    model = copy.deepcopy(tagger)
    chosen = tune(model, validation)
    assert chosen["smoothing"] in SMOOTHING_GRID and chosen["threshold"] in THRESHOLD_GRID
    assert model.smoothing == chosen["smoothing"] and model.threshold == chosen["threshold"]
    from newsclean.ml.metrics import macro_f1
    from newsclean.ml.topic import top_topic

    tuned = macro_f1(validation["topic"], top_topic(model.predict_proba(validation)))
    assert tuned >= chosen["val_macro_f1_unsmoothed"]


def test_abstention_grows_with_the_threshold(tagger, sample_topics):
    validation = sample_topics[sample_topics["split"] == "validation"]
    curve = abstention_curve(validation["topic"], tagger.predict_proba(validation))
    assert list(curve["threshold"]) == list(THRESHOLD_GRID)
    assert curve["abstention_rate"].is_monotonic_increasing
    assert curve["abstention_rate"].between(0, 1).all()


def test_tag_utility_rewards_right_tags_and_punishes_wrong_ones():
    truth = ["world", "world", "world", "world"]
    assert tag_utility(truth, [["world"], [], ["business"], ["world", "business"]]) == 0.0
    assert tag_utility(truth[:1], [["world"]]) == 1.0
    assert tag_utility(truth[:1], [[]]) == 0.0


# ------------------------------------------------------------------------ behaviour
def test_minimum_functionality_on_short_paragraphs(tagger):
    rows = read_fixture("topics_minimum.txt")
    truth = [topic for topic, _ in rows]
    predicted = tagger.predict(frame_of([text for _, text in rows]))
    # A few hundred sample paragraphs are little to learn from; the real model does better.
    right = predicted == np.array(truth)
    wrong = [
        (t, p, text) for (t, text), p, ok in zip(rows, predicted, right, strict=True) if not ok
    ]
    assert right.mean() >= 0.8, wrong
    for topic in TOPICS:  # and no topic is lost altogether
        assert right[np.array(truth) == topic].sum() >= 3, (topic, wrong)


def test_invariance_to_names_places_and_numbers(tagger):
    for topic, template in read_fixture("topics_invariance.txt"):
        fills = list(itertools.islice(zip(NAMES, PLACES, NUMBERS, strict=True), 5))
        texts = [template.format(NAME=n, PLACE=p, NUMBER=x) for n, p, x in fills]
        # Swap each slot on its own too, against the first fill.
        texts += [template.format(NAME=n, PLACE=PLACES[0], NUMBER=NUMBERS[0]) for n in NAMES]
        texts += [template.format(NAME=NAMES[0], PLACE=PLACES[0], NUMBER=x) for x in NUMBERS]
        proba = tagger.predict_proba(frame_of(texts))
        assert set(proba.argmax(axis=1)) == {TOPICS.index(topic)}, (topic, texts)
        spread = proba[:, TOPICS.index(topic)].max() - proba[:, TOPICS.index(topic)].min()
        assert spread < 0.2, (topic, spread)


def test_quarterly_earnings_pulls_towards_business(tagger):
    business = TOPICS.index("business")
    for (text,) in read_fixture("topics_directional.txt"):
        before, after = tagger.predict_proba(frame_of([text, f"{text} Quarterly earnings rose."]))
        assert after[business] > before[business], text


# ------------------------------------------------------------------------ the MLflow flow
@pytest.mark.slow
def test_train_topic_logs_runs_and_moves_the_champion_only_for_a_better_model(tmp_path):
    import mlflow

    from conftest import config_overrides
    from newsclean import tracking
    from newsclean.data import dataset
    from newsclean.train import topic as topics

    config = load_config(overrides=config_overrides(tmp_path), environ={})
    frame, card = dataset.build(config)
    tracking.configure(config)
    digest = dataset.load_digest(config.paths.processed_dir)
    first = topics.train_topic(frame, config, digest, card)
    assert {"task", "parent_run_id", "best", "promoted", "reason"} <= set(first)
    assert first["task"] == "topic" and first["promoted"] is True
    assert 0 < first["val_macro_f1"] <= 1 and 0 < first["test_macro_f1"] <= 1

    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("newsclean-topic")
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if r.info.run_id == first["parent_run_id"])
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.data.tags["role"] == "parent"
    assert "mlflow.note.content" in parent.data.tags
    assert len(children) == len(topics.topic_candidates(config))
    for child in children:
        metrics = child.data.metrics
        for name in ("val_macro_f1", "test_macro_f1", "val_accuracy", "test_accuracy"):
            assert name in metrics
        for name in ("train_seconds", "predict_paragraphs_per_s", "test_abstention_rate"):
            assert name in metrics
        assert all(f"test_f1_{t}" in metrics for t in TOPICS)
        assert {"git_commit", "dataset_digest", "data_card"} <= set(child.data.tags)
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"confusion_matrix_validation.png", "abstention_curve.png"} <= artifacts
        reports = {a.path for a in client.list_artifacts(child.info.run_id, "reports")}
        assert "reports/worst_errors_validation.csv" in reports
        assert "reports/abstention_curve_test.csv" in reports
    logged = mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id], output_format="list"
    )
    assert {c.info.run_id for c in children} <= {m.source_run_id for m in logged}
    assert (config.paths.reports_dir / "topic_report.md").exists()

    # The champion serves through pyfunc, with or without doc_id.
    model = mlflow.pyfunc.load_model("models:/newsclean-topic@champion")
    out = model.predict(pd.DataFrame({"text": ["The striker scored twice.", "Profits rose."]}))
    assert len(out) == 2 and set(out) <= set(TOPICS)
    sklearn_model = mlflow.sklearn.load_model("models:/newsclean-topic@champion")
    tags = sklearn_model.predict_tags(pd.DataFrame({"text": ["The striker scored twice."]}))
    assert len(tags[0]) <= 2

    # Same data, same seed: the same score does not beat the champion.
    second = topics.train_topic(frame, config, digest, card)
    assert second["promoted"] is False and "champion kept" in second["reason"], second["reason"]
    version = client.get_model_version_by_alias("newsclean-topic", "champion")
    assert version.tags["run_id"] != second["parent_run_id"]


# ------------------------------------------------------------------------ ensemble
ENSEMBLE_TEXTS = {
    "sports": ["goal match striker league", "the striker scored in the match", "league title race"],
    "business": ["bank shares profits rose", "shares fell as profits slid", "the bank cut rates"],
    "world": ["minister election parliament vote", "the election vote in parliament", "minister"],
}


def ensemble_data() -> tuple[pd.DataFrame, list[str]]:
    texts = [t for topic in ENSEMBLE_TEXTS for t in ENSEMBLE_TEXTS[topic] * 2]
    labels = [topic for topic in ENSEMBLE_TEXTS for _ in range(6)]
    return frame_of(texts), labels


def test_an_ensemble_averages_its_members_probabilities():
    frame, labels = ensemble_data()
    word = {"features": "word", "classifier": "logreg", "min_df": 1, "calibration": "none"}
    svc = {"features": "word+char", "classifier": "linearsvc", "C": 0.5, "min_df": 1}
    model = TopicTagger(members=(word, svc)).fit(frame, labels)
    alone = [TopicTagger(**params).fit(frame, labels) for params in (word, svc)]
    new = frame_of(["the striker scored a late goal", "profits at the bank rose"])
    expected = (alone[0].paragraph_proba(new) + alone[1].paragraph_proba(new)) / 2
    np.testing.assert_allclose(model.paragraph_proba(new), expected)
    assert list(model.classes_) == list(TOPICS)
    assert model.trained_topics_ == ("world", "business", "sports")
    assert model.predict(new).tolist() == ["sports", "business"]
    # Smoothing and tags work on the mean as on a single tagger.
    smoothed = with_params(model, smoothing=1.0).predict_proba(
        frame_of(new["text"].tolist(), doc_id=["d", "d"])
    )
    np.testing.assert_allclose(smoothed[0], expected.mean(axis=0))


def test_an_ensemble_fits_and_transforms_once_per_distinct_vectorizer(monkeypatch):
    frame, labels = ensemble_data()
    word = {"features": "word", "classifier": "logreg", "min_df": 1, "calibration": "none"}
    svc = {"features": "word+char", "classifier": "linearsvc", "C": 0.5, "min_df": 1}
    nblr = {"features": "word+char", "classifier": "nb-logreg", "min_df": 1}
    bigram_only = {**word, "ngram_max": 1}  # a different word vectorizer: not shared
    members = (word, svc, nblr, bigram_only)
    model = pickle.loads(pickle.dumps(TopicTagger(members=members).fit(frame, labels)))
    new = frame_of(["the striker scored a late goal", "profits at the bank rose"])
    # Members with the same vectorizer settings were fitted with one shared vectorizer.
    word_of = [m.pipeline_.steps[0][1] for m in model.members_]
    assert word_of[0] is word_of[1].transformer_list[0][1] is word_of[2].transformer_list[0][1]
    assert word_of[1].transformer_list[1][1] is word_of[2].transformer_list[1][1]
    assert word_of[3] is not word_of[0]
    alone = [m.paragraph_proba(new) for m in model.members_]  # each member on its own
    calls = {"WordTfidf": 0, "CharTfidf": 0}
    for cls in (WordTfidf, CharTfidf):
        original = cls.transform

        def counted(self, texts, _original=original):
            calls[type(self).__name__] += 1
            return _original(self, texts)

        monkeypatch.setattr(cls, "transform", counted)
    np.testing.assert_array_equal(model.paragraph_proba(new), np.mean(alone, axis=0))
    assert calls == {"WordTfidf": 2, "CharTfidf": 1}
    assert model.vectorizer_owners_ == [((0, 0),), ((0, 0), (1, 1)), ((0, 0), (1, 1)), ((3, 0),)]
    # Pickled after use, the owners are positions, still right for the unpickled copy.
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.paragraph_proba(new), np.mean(alone, axis=0))


def test_nb_logreg_scales_words_by_their_topic_ratio_and_calibrates():
    frame, labels = ensemble_data()
    model = TopicTagger(features="word", classifier="nb-logreg", min_df=1).fit(frame, labels)
    new = frame_of(["the striker scored in the league", "the minister won the vote"])
    proba = model.predict_proba(new)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert model.predict(new).tolist() == ["sports", "world"]
    nb = model.pipeline_.named_steps["classifier"].calibrated_classifiers_[0].estimator
    words = model.pipeline_.named_steps["features"].vocabulary_
    # The calibration wrapper fits it on encoded labels, in the pipeline's class order.
    ratios = dict(zip(model.pipeline_.classes_, nb.ratios_, strict=True))
    # "striker" is a sports word: its log-count ratio is positive for sports only.
    assert ratios["sports"][words["striker"]] > 0 > ratios["business"][words["striker"]]


def test_ensemble_candidates_combine_the_single_candidates_taggers():
    from newsclean.train.topic import topic_candidates

    config = load_config(environ={})
    candidates = topic_candidates(config)
    ensembles = [c for c in candidates if "members" in c.params]
    assert len(ensembles) == 3 and len({c.run_name for c in candidates}) == len(candidates)
    singles = [c.params for c in candidates if "members" not in c.params]
    for candidate in ensembles:
        members = candidate.params["members"]
        assert members[0] in singles and members[0]["classifier"] == "linearsvc"
        assert "nb-logreg" in {m["classifier"] for m in members}
        assert candidate.build(config).members == members
