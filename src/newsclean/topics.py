"""The topic tagger: tags news and teaser paragraphs with topics, abstaining when unsure.

``TopicTagger`` is one scikit-learn estimator that takes a paragraph table and does four
things in order:

1. paragraph probabilities over ``config.TOPICS`` (in that fixed order) from a linear model on
   TF-IDF features, calibrated by temperature scaling (cross-validated on the training rows),
   or, given ``members``, the mean of several such taggers' probabilities;
2. document smoothing: a paragraph borrows evidence from its article. When the input has a
   ``doc_id`` column, each news paragraph's distribution is mixed with its document's average,
   ``(1 - smoothing) * p + smoothing * mean_doc(p)``. Teasers point to *other* stories, so when a
   ``kind`` column is given only ``kind == "news"`` rows give or take evidence; without ``kind``
   every row of a document does. Without ``doc_id`` each row is its own document;
3. tags: every topic whose probability reaches ``threshold``, at most ``max_tags``, highest
   first; no tag at all ("unknown") when none does;
4. ``predict`` returns a table a cleaner can use directly (``topic``, ``tags``, ``p_<topic>``).

``smoothing`` and ``threshold`` are chosen on the validation split (``tune``); candidates are
chosen on validation macro-F1; the test split is only reported. ``train_topic`` is the MLflow
flow ``newsclean train --task topic`` runs: one parent run, one child run per candidate, a
cross-source check (BBC → AG News and back), a report, and the champion rule.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from newsclean.config import TOPICS, Config
from newsclean.features import CharTfidf, WordTfidf

UNKNOWN = "unknown"
SHARED_TOPICS = ("world", "business", "sci_tech", "sports")  # BBC News ∩ AG News
# Every right tag earns 1, every wrong tag costs WRONG_TAG_COST, no tag earns nothing. The
# threshold that maximises this utility on validation is the one the tagger uses.
WRONG_TAG_COST = 1.0
SMOOTHING_GRID = tuple(round(a, 2) for a in np.arange(0.0, 1.0001, 0.1))
THRESHOLD_GRID = tuple(round(t, 2) for t in np.arange(0.20, 0.951, 0.05))
MODEL_INPUT = ["text", "doc_id", "kind"]


def _texts(frame: pd.DataFrame | pd.Series | list[str]) -> list[str]:
    column = frame["text"] if isinstance(frame, pd.DataFrame) else pd.Series(list(frame))
    return column.fillna("").astype(str).tolist()


class NBLogisticRegression(ClassifierMixin, BaseEstimator):
    """NB-LR (Wang & Manning 2012): one logistic regression per topic, one topic against the
    rest, on features scaled by the topic's naive-Bayes log-count ratio. The ratio lifts the
    words typical of a topic, which helps short AG News titles and descriptions most."""

    def __init__(self, C: float = 4.0, class_weight=None, max_iter: int = 1000, seed: int = 13):
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, X, y):
        y = np.asarray(y, dtype=object)
        self.classes_ = np.array(sorted(set(y)), dtype=object)
        present = (X > 0).astype(np.float64)
        self.ratios_, self.models_ = [], []
        for topic in self.classes_:
            mine = y == topic
            p = np.asarray(present[mine].sum(axis=0)).ravel() + 1
            q = np.asarray(present[~mine].sum(axis=0)).ravel() + 1
            ratio = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
            model = LogisticRegression(
                C=self.C,
                class_weight=self.class_weight,
                max_iter=self.max_iter,
                random_state=self.seed,
            )
            self.ratios_.append(ratio)
            self.models_.append(model.fit(X.multiply(ratio).tocsr(), mine))
        return self

    def decision_function(self, X):
        columns = [
            m.decision_function(X.multiply(r).tocsr())
            for r, m in zip(self.ratios_, self.models_, strict=True)
        ]
        return np.column_stack(columns)

    def predict_proba(self, X):
        scores = self.decision_function(X)
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.classes_[self.decision_function(X).argmax(axis=1)]


class TopicTagger(BaseEstimator):
    """Calibrated topic probabilities, document smoothing and thresholded tags (see module)."""

    def __init__(
        self,
        features: str = "word",
        classifier: str = "logreg",
        C: float = 4.0,
        calibration: str = "temperature",
        ngram_max: int = 2,
        max_features: int = 200_000,
        char_max_features: int = 300_000,
        min_df: int = 2,
        max_iter: int = 1000,
        class_weight: str | None = "balanced",
        seed: int = 13,
        smoothing: float = 0.0,
        threshold: float = 0.5,
        max_tags: int = 2,
        members: tuple[dict, ...] = (),
    ):
        self.features = features
        self.classifier = classifier
        self.C = C
        self.calibration = calibration
        self.ngram_max = ngram_max
        self.max_features = max_features
        self.char_max_features = char_max_features
        self.min_df = min_df
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.seed = seed
        self.smoothing = smoothing
        self.threshold = threshold
        self.max_tags = max_tags
        self.members = members

    # -- building and fitting ------------------------------------------------------------
    def _vectorizer(self):
        word = WordTfidf(  # scikit-learn's TfidfVectorizer, transforming faster
            lowercase=True,
            ngram_range=(1, self.ngram_max),
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=True,
            dtype=np.float32,
        )
        if self.features == "word":
            return word
        if self.features == "word+char":
            char = CharTfidf(  # scikit-learn's TfidfVectorizer, transforming faster
                lowercase=True,
                analyzer="char_wb",
                ngram_range=(2, 5),
                min_df=max(self.min_df, 2),
                max_features=self.char_max_features,
                sublinear_tf=True,
                dtype=np.float32,
            )
            return FeatureUnion([("word", word), ("char", char)])
        raise ValueError(f"unknown feature set {self.features!r}")

    def _classifier(self, n_rows: int, n_min: int):
        if self.classifier == "logreg":
            base = LogisticRegression(
                C=self.C,
                max_iter=self.max_iter,
                class_weight=self.class_weight,
                random_state=self.seed,
            )
        elif self.classifier == "linearsvc":
            base = LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.seed)
        elif self.classifier == "nb-logreg":
            base = NBLogisticRegression(
                C=self.C, class_weight=self.class_weight, max_iter=self.max_iter, seed=self.seed
            )
        else:
            raise ValueError(f"unknown classifier {self.classifier!r}")
        folds = min(3, n_min)
        if self.calibration == "none" and hasattr(base, "predict_proba"):
            return base
        if folds < 2:
            raise ValueError("calibration needs at least two training rows per topic")
        method = "sigmoid" if self.calibration == "none" else self.calibration
        return CalibratedClassifierCV(base, method=method, cv=folds, ensemble=False)

    def fit(self, X: pd.DataFrame, y) -> TopicTagger:
        texts = _texts(X)
        labels = np.asarray(y, dtype=object)
        unknown = sorted(set(labels) - set(TOPICS))
        if unknown:
            raise ValueError(f"labels outside TOPICS: {unknown}")
        if self.members:
            return self._fit_members(texts, labels)
        return self._fit_single(texts, labels, {})

    def _fit_single(self, texts: list[str], labels: np.ndarray, shared: dict) -> TopicTagger:
        """Fit the vectorizer(s), then the classifier on their matrix. ``shared`` maps a
        vectorizer's settings to (fitted vectorizer, training matrix): ensemble members with
        the same settings share one fit (the same texts give the same vocabulary)."""
        counts = pd.Series(labels).value_counts()
        features = self._vectorizer()
        parts = _vectorizer_parts(features)
        matrices = []
        for position, part in enumerate(parts):
            key = (type(part).__name__, repr(sorted(part.get_params().items())))
            if key not in shared:
                shared[key] = (part, part.fit_transform(texts))
            parts[position], matrix = shared[key]
            matrices.append(matrix)
        if isinstance(features, FeatureUnion):
            names = [name for name, _ in features.transformer_list]
            features.transformer_list = list(zip(names, parts, strict=True))
        else:
            features = parts[0]
        matrix = matrices[0] if len(matrices) == 1 else sparse.hstack(matrices).tocsr()
        classifier = self._classifier(len(texts), int(counts.min())).fit(matrix, labels)
        self.pipeline_ = Pipeline([("features", features), ("classifier", classifier)])
        fitted = list(classifier.classes_)
        # Topics never seen in training (e.g. a BBC-only model has no lifestyle) get p = 0.
        self.column_index_ = np.array([TOPICS.index(c) for c in fitted])
        self.classes_ = np.array(TOPICS, dtype=object)
        self.trained_topics_ = tuple(t for t in TOPICS if t in fitted)
        return self

    def _fit_members(self, texts: list[str], labels: np.ndarray) -> TopicTagger:
        """An ensemble: one tagger per parameter dict in ``members``, each fitted on its own.
        Their errors differ (an SVC on word+char n-grams, a logistic regression on words), so
        the mean of their calibrated probabilities is a little better than either alone."""
        self.__dict__.pop("vectorizer_owners_", None)  # worked out again for the new members
        shared: dict = {}  # vectorizers fitted once for all members with the same settings
        self.members_ = [
            TopicTagger(seed=self.seed, **params)._fit_single(texts, labels, shared)
            for params in self.members
        ]
        self.classes_ = np.array(TOPICS, dtype=object)
        self.trained_topics_ = tuple(
            t for t in TOPICS if any(t in m.trained_topics_ for m in self.members_)
        )
        return self

    # -- probabilities -------------------------------------------------------------------
    def paragraph_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Each paragraph on its own: calibrated probabilities over TOPICS (fixed order); for
        an ensemble, the mean over its members."""
        texts = _texts(X)
        if not self.members:
            return self._proba_of(self.pipeline_.steps[0][1].transform(texts))
        # Members mostly share vectorizers (same settings, fitted on the same texts): each
        # distinct one transforms the texts once, and every member reuses its matrix.
        owners = self._vectorizer_owners()
        matrices: dict[tuple[int, int], object] = {}
        probas = []
        for index, member in enumerate(self.members_):
            parts = []
            for part, owner in zip(
                _vectorizer_parts(member.pipeline_.steps[0][1]), owners[index], strict=True
            ):
                if owner not in matrices:
                    matrices[owner] = part.transform(texts)
                parts.append(matrices[owner])
            features = parts[0] if len(parts) == 1 else sparse.hstack(parts).tocsr()
            probas.append(member._proba_of(features))
        return np.mean(probas, axis=0)

    def _proba_of(self, features) -> np.ndarray:
        """The fitted classifier's probabilities, placed in the TOPICS columns."""
        fitted = self.pipeline_.steps[-1][1].predict_proba(features)
        proba = np.zeros((len(fitted), len(TOPICS)), dtype=np.float64)
        proba[:, self.column_index_] = fitted
        return proba

    def _vectorizer_owners(self) -> list[tuple[tuple[int, int], ...]]:
        """For each member, for each of its vectorizers, the (member, part) of the first
        vectorizer with the same fitted state: equal transforms, so the matrix is shared.
        Worked out once per fitted ensemble (positions, not object ids, so it pickles)."""
        owners = getattr(self, "vectorizer_owners_", None)
        if owners is None:
            seen: list[tuple[tuple[int, int], object]] = []
            owners = []
            for index, member in enumerate(self.members_):
                found = []
                vectorizers = _vectorizer_parts(member.pipeline_.steps[0][1])
                for part_index, part in enumerate(vectorizers):
                    owner = next((k for k, v in seen if _same_fitted(v, part)), None)
                    if owner is None:
                        owner = (index, part_index)
                        seen.append((owner, part))
                    found.append(owner)
                owners.append(tuple(found))
            self.vectorizer_owners_ = owners
        return owners

    def smooth(self, proba: np.ndarray, X: pd.DataFrame, smoothing: float | None = None):
        """Mix each news paragraph's distribution with its document's average (see module)."""
        alpha = self.smoothing if smoothing is None else smoothing
        if alpha <= 0 or not isinstance(X, pd.DataFrame) or "doc_id" not in X.columns:
            return proba
        documents = document_keys(X)
        joins = (
            X["kind"].astype(object).eq("news").to_numpy()
            if "kind" in X.columns
            else np.ones(len(X), dtype=bool)
        )
        if not joins.any():
            return proba
        codes, _ = pd.factorize(documents[joins])
        sums = np.zeros((codes.max() + 1, proba.shape[1]))
        np.add.at(sums, codes, proba[joins])
        means = sums / np.bincount(codes)[:, None]
        out = proba.copy()
        out[joins] = (1 - alpha) * proba[joins] + alpha * means[codes]
        return out

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Smoothed probabilities over ``TOPICS`` in its fixed order (rows sum to 1)."""
        return self.smooth(self.paragraph_proba(X), X)

    # -- tags ----------------------------------------------------------------------------
    def tags_from_proba(self, proba: np.ndarray, threshold: float | None = None) -> list[list[str]]:
        return tags_from_proba(
            proba, self.threshold if threshold is None else threshold, self.max_tags
        )

    def tag(self, X: pd.DataFrame) -> list[list[str]]:
        """Up to ``max_tags`` topics per paragraph, most likely first; [] means unknown."""
        return self.tags_from_proba(self.predict_proba(X))

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """One row per paragraph: ``topic`` (first tag or "unknown"), ``tags`` (comma-joined,
        "" when unknown), ``n_tags`` and ``p_<topic>`` for every topic in TOPICS order."""
        proba = self.predict_proba(X)
        tags = self.tags_from_proba(proba)
        out = pd.DataFrame(
            {
                "topic": [t[0] if t else UNKNOWN for t in tags],
                "tags": [",".join(t) for t in tags],
                "n_tags": np.array([len(t) for t in tags], dtype=np.int64),
            }
        )
        for index, topic in enumerate(TOPICS):
            out[f"p_{topic}"] = proba[:, index]
        return out


def _vectorizer_parts(features) -> list:
    """The vectorizers of a tagger's feature step (``TopicTagger._vectorizer``: one, or an
    unweighted FeatureUnion), in the order their matrices are stacked."""
    if isinstance(features, FeatureUnion):
        return [transformer for _, transformer in features.transformer_list]
    return [features]


def _same_fitted(a, b) -> bool:
    """Whether two fitted TF-IDF vectorizers transform every text the same way."""
    return a is b or (
        type(a) is type(b)
        and a.get_params() == b.get_params()
        and a.vocabulary_ == b.vocabulary_
        and np.array_equal(a.idf_, b.idf_)
    )


def document_keys(X: pd.DataFrame) -> np.ndarray:
    """One key per row: (source, doc_id) when both are given; a row without doc_id is alone."""
    doc = X["doc_id"].astype(object)
    alone = doc.isna().to_numpy()
    keys = doc.astype(str)
    if "source" in X.columns:
        keys = X["source"].astype(str) + "\x1f" + keys
    keys = keys.to_numpy(dtype=object)
    keys[alone] = [f"\x1frow-{i}" for i in np.flatnonzero(alone)]
    return keys


def tags_from_proba(proba: np.ndarray, threshold: float, max_tags: int = 2) -> list[list[str]]:
    order = np.argsort(-proba, axis=1, kind="stable")[:, :max_tags]
    tags = []
    for row, columns in zip(proba, order, strict=True):
        tags.append([TOPICS[c] for c in columns if row[c] >= threshold])
    return tags


# -- scoring ---------------------------------------------------------------------------------
def macro_f1(y_true, y_pred) -> float:
    """Macro-F1 over the topics present in the truth (as ``evaluation`` does)."""
    present = [t for t in TOPICS if t in set(y_true)]
    return float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))


def top_topic(proba: np.ndarray) -> np.ndarray:
    return np.array(TOPICS, dtype=object)[proba.argmax(axis=1)]


def tag_utility(y_true, tags: list[list[str]]) -> float:
    """Mean per paragraph of (right tags − WRONG_TAG_COST × wrong tags); no tag scores 0.

    With one true topic per paragraph a tag is worth giving when it is right more often than
    not, so a second tag only pays where the data really has two topics."""
    total = 0.0
    for truth, predicted in zip(y_true, tags, strict=True):
        right = truth in predicted
        total += right - WRONG_TAG_COST * (len(predicted) - right)
    return total / max(len(tags), 1)


def abstention_curve(y_true, proba: np.ndarray, max_tags: int = 2) -> pd.DataFrame:
    """For each threshold: abstention rate, accuracy of the first tag on the tagged part,
    share of tagged rows whose tags include the truth, two-tag rate and utility."""
    y_true = np.asarray(y_true, dtype=object)
    first = top_topic(proba)
    rows = []
    for threshold in THRESHOLD_GRID:
        tags = tags_from_proba(proba, threshold, max_tags)
        tagged = np.array([bool(t) for t in tags])
        hit = np.array([y in t for y, t in zip(y_true, tags, strict=True)])
        rows.append(
            {
                "threshold": threshold,
                "abstention_rate": float(1 - tagged.mean()) if len(tags) else 0.0,
                "accuracy_on_tagged": float((first[tagged] == y_true[tagged]).mean())
                if tagged.any()
                else float("nan"),
                "any_tag_right_on_tagged": float(hit[tagged].mean())
                if tagged.any()
                else float("nan"),
                "two_tag_rate": float(np.mean([len(t) == 2 for t in tags])) if tags else 0.0,
                "utility": tag_utility(y_true, tags),
            }
        )
    return pd.DataFrame(rows)


def expected_calibration_error(y_true, proba: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-1 probability (equal-width bins)."""
    y_true = np.asarray(y_true, dtype=object)
    confidence = proba.max(axis=1)
    correct = top_topic(proba) == y_true
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total)


def mean_log_loss(y_true, proba: np.ndarray) -> float:
    """Mean negative log-probability of the true topic (columns in TOPICS order)."""
    index = np.array([TOPICS.index(t) for t in y_true])
    picked = proba[np.arange(len(index)), index]
    return float(-np.log(np.clip(picked, 1e-12, 1)).mean())


def tune(model: TopicTagger, validation: pd.DataFrame) -> dict[str, float]:
    """Choose ``smoothing`` (validation macro-F1) then ``threshold`` (validation utility) and set
    them on the model. Returns what was chosen and the unsmoothed score for comparison."""
    y = validation["topic"].to_numpy(dtype=object)
    raw = model.paragraph_proba(validation)
    scores = {a: macro_f1(y, top_topic(model.smooth(raw, validation, a))) for a in SMOOTHING_GRID}
    # Ties go to the smaller amount of smoothing.
    alpha = max(SMOOTHING_GRID, key=lambda a: (round(scores[a], 6), -a))
    proba = model.smooth(raw, validation, alpha)
    curve = abstention_curve(y, proba, model.max_tags)
    best = curve.loc[curve["utility"].idxmax()]
    model.set_params(smoothing=float(alpha), threshold=float(best["threshold"]))
    return {
        "smoothing": float(alpha),
        "threshold": float(best["threshold"]),
        "val_macro_f1_unsmoothed": scores[0.0],
    }


def score_split(model: TopicTagger, part: pd.DataFrame, prefix: str) -> tuple[dict, pd.DataFrame]:
    """Metrics of one split, named as everywhere in newsclean, plus the tagging metrics."""
    from newsclean.evaluation import classification_metrics

    y = part["topic"].to_numpy(dtype=object)
    raw = model.paragraph_proba(part)
    proba = model.smooth(raw, part)
    predicted = top_topic(proba)
    metrics = classification_metrics(y, predicted, TOPICS, prefix)
    unsmoothed = top_topic(raw)
    metrics[f"{prefix}_macro_f1_unsmoothed"] = macro_f1(y, unsmoothed)
    metrics[f"{prefix}_accuracy_unsmoothed"] = float(accuracy_score(y, unsmoothed))
    metrics[f"{prefix}_smoothing_gain_macro_f1"] = (
        metrics[f"{prefix}_macro_f1"] - metrics[f"{prefix}_macro_f1_unsmoothed"]
    )
    metrics[f"{prefix}_log_loss"] = mean_log_loss(y, proba)
    metrics[f"{prefix}_ece"] = expected_calibration_error(y, proba)
    tags = model.tags_from_proba(proba)
    tagged = np.array([bool(t) for t in tags])
    metrics[f"{prefix}_abstention_rate"] = float(1 - tagged.mean())
    metrics[f"{prefix}_tagged_accuracy"] = (
        float((predicted[tagged] == y[tagged]).mean()) if tagged.any() else float("nan")
    )
    metrics[f"{prefix}_two_tag_rate"] = float(np.mean([len(t) == 2 for t in tags]))
    metrics[f"{prefix}_tag_utility"] = tag_utility(y, tags)
    sources = part["source"].to_numpy(dtype=object)
    news_sources = np.isin(sources, ["bbc-news", "ag-news"])
    if news_sources.any():
        metrics[f"{prefix}_macro_f1_bbc_ag"] = macro_f1(y[news_sources], predicted[news_sources])
        metrics[f"{prefix}_macro_f1_bbc_ag_unsmoothed"] = macro_f1(
            y[news_sources], unsmoothed[news_sources]
        )
    for source in sorted(set(sources)):
        mask = sources == source
        name = source.replace("-", "_")
        metrics[f"{prefix}_accuracy_{name}"] = float(accuracy_score(y[mask], predicted[mask]))
        metrics[f"{prefix}_macro_f1_{name}"] = macro_f1(y[mask], predicted[mask])
    teasers = (part["kind"] == "teaser").to_numpy()
    if teasers.any():
        metrics[f"{prefix}_teaser_accuracy"] = float((predicted[teasers] == y[teasers]).mean())
        # What a cleaner without kind labels would get: every row of a page smoothed together.
        blind = model.smooth(raw, part.drop(columns=["kind"]))
        metrics[f"{prefix}_teaser_accuracy_without_kind"] = float(
            (top_topic(blind)[teasers] == y[teasers]).mean()
        )
        metrics[f"{prefix}_teaser_rows"] = float(teasers.sum())
    evaluated = part.assign(
        predicted=predicted,
        predicted_unsmoothed=unsmoothed,
        tags=[",".join(t) for t in tags],
        confidence=proba.max(axis=1),
    )
    return metrics, evaluated


# -- candidates ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TopicCandidate:
    run_name: str  # model + feature set, as the UI shows it
    params: dict[str, object]  # TopicTagger parameters

    def build(self, config: Config) -> TopicTagger:
        return TopicTagger(seed=config.data.seed, **self.params)


def topic_candidates(config: Config) -> list[TopicCandidate]:
    model = config.model
    word = {
        "ngram_max": model.ngram_max,
        "max_features": model.max_features,
        "min_df": model.min_df,
        "max_iter": max(model.max_iter, 1000),
    }
    logreg = {"features": "word", "classifier": "logreg", "C": model.C, **word}
    svc = {"features": "word+char", "classifier": "linearsvc", "C": 0.5, **word}
    nb_logreg = {**logreg, "classifier": "nb-logreg"}
    return [
        TopicCandidate(
            f"logreg + word-tfidf-1-{model.ngram_max}g",
            {
                "features": "word",
                "classifier": "logreg",
                "C": model.C,
                "calibration": "none",
                **word,
            },
        ),
        TopicCandidate(f"calibrated-logreg + word-tfidf-1-{model.ngram_max}g", logreg),
        TopicCandidate(f"calibrated-linearsvc + word-1-{model.ngram_max}g+char-2-5g-tfidf", svc),
        # Ensembles: the SVC with a calibrated NB-LR on words (which errs differently on AG
        # News), and with the calibrated logreg too. Each fits its members again (about the sum
        # of their fit times) and predicts at about the speed of the SVC, the slowest member.
        TopicCandidate(
            f"mean(calibrated-linearsvc word+char, calibrated-nb-logreg word-1-{model.ngram_max}g)",
            {"members": (svc, nb_logreg)},
        ),
        TopicCandidate(
            "mean(calibrated-linearsvc word+char, calibrated-nb-logreg word, calibrated-logreg "
            f"word-1-{model.ngram_max}g)",
            {"members": (svc, nb_logreg, logreg)},
        ),
        # The SVC plus NB-LR on words and on word+char n-grams: the best mix of a validation
        # sweep over members (0.9386 vs 0.9368 for the SVC + NB-LR pair). The word+char NB-LR
        # is the slowest member to fit (about 3 min on 2 busy CPUs).
        TopicCandidate(
            "mean(calibrated-linearsvc word+char, calibrated-nb-logreg word, calibrated-nb-logreg "
            f"word-1-{model.ngram_max}g+char)",
            {"members": (svc, nb_logreg, {**nb_logreg, "features": "word+char"})},
        ),
    ]


# -- the training flow -----------------------------------------------------------------------
def topic_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """News and teaser paragraphs that carry a topic label."""
    return frame[frame["topic"].notna() & frame["kind"].isin(["news", "teaser"])]


def _cap(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    if not limit or len(frame) <= limit:
        return frame
    return frame.sample(n=limit, random_state=seed).sort_index()


def model_input(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns the logged model takes: ``text`` (required), ``doc_id`` and ``kind``."""
    out = frame[[c for c in MODEL_INPUT if c in frame.columns]].reset_index(drop=True)
    return out.astype({c: object for c in out.columns})


def model_signature(example: pd.DataFrame, output: pd.DataFrame):
    """``text`` required; ``doc_id`` and ``kind`` optional, so a bare text table works too."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import ColSpec, Schema

    inputs = Schema(
        [
            ColSpec("string", "text"),
            ColSpec("string", "doc_id", required=False),
            ColSpec("string", "kind", required=False),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=infer_signature(example, output).outputs)


def _log_datasets(parts: dict[str, pd.DataFrame], digest: str, config: Config) -> None:
    from newsclean import tracking
    from newsclean.dataset import paragraphs_path

    tracking.log_split_datasets(
        parts,
        ["source", "doc_id", "kind", "text", "topic"],
        "topic",
        "newsclean-paragraphs-topic",
        digest,
        str(paragraphs_path(config.paths.processed_dir)),
    )


def per_topic_table(evaluated: pd.DataFrame) -> pd.DataFrame:
    from sklearn.metrics import precision_recall_fscore_support

    y, p = evaluated["topic"].to_numpy(object), evaluated["predicted"].to_numpy(object)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, p, labels=list(TOPICS), zero_division=0
    )
    return pd.DataFrame(
        {"topic": TOPICS, "precision": precision, "recall": recall, "f1": f1, "rows": support}
    ).round(4)


def per_source_table(evaluated: pd.DataFrame) -> pd.DataFrame:
    """Rows, accuracy and macro-F1 per source, with and without document smoothing."""
    rows = []
    groups = [(s, g) for s, g in evaluated.groupby("source")]
    news = evaluated[evaluated["source"].isin(["bbc-news", "ag-news"])]
    if news["source"].nunique() == 2:
        groups.append(("bbc-news + ag-news", news))
    groups.append(("all", evaluated))
    for source, part in groups:
        y = part["topic"].to_numpy(object)
        rows.append(
            {
                "source": source,
                "rows": len(part),
                "accuracy": accuracy_score(y, part["predicted"]),
                "macro_f1": macro_f1(y, part["predicted"].to_numpy(object)),
                "accuracy_unsmoothed": accuracy_score(y, part["predicted_unsmoothed"]),
                "macro_f1_unsmoothed": macro_f1(y, part["predicted_unsmoothed"].to_numpy(object)),
            }
        )
    return pd.DataFrame(rows).round(4)


def _curve_figure(curves: dict[str, pd.DataFrame], chosen: float, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        axis.plot(curve["abstention_rate"], curve["accuracy_on_tagged"], marker=".", label=name)
    axis.set_xlabel("abstention rate")
    axis.set_ylabel("accuracy on tagged paragraphs")
    axis.set_title(f"{title} (threshold {chosen:.2f})")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    return figure


def _run_candidate(
    candidate: TopicCandidate,
    config: Config,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    test: pd.DataFrame,
    digest: str,
    card_summary: str,
) -> dict:
    import mlflow

    from newsclean import tracking
    from newsclean.evaluation import confusion_figure, log_figure, worst_errors

    with tracking.tagged_run(
        candidate.run_name, digest, card_summary, "candidate", "topic", nested=True
    ) as run:
        mlflow.log_params(
            {
                **candidate.params,
                "task": "topic",
                "seed": config.data.seed,
                "n_train": len(train),
                "max_tags": 2,
                "wrong_tag_cost": WRONG_TAG_COST,
            }
        )
        model = candidate.build(config)
        started = time.perf_counter()
        model.fit(model_input(train), train["topic"])
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        chosen = tune(model, validation)
        tune_seconds = time.perf_counter() - started
        mlflow.log_params({"smoothing": chosen["smoothing"], "threshold": chosen["threshold"]})

        started = time.perf_counter()
        model.predict_proba(model_input(validation))
        speed = len(validation) / (time.perf_counter() - started)
        metrics = {
            "train_seconds": fit_seconds + tune_seconds,
            "fit_seconds": fit_seconds,
            "tune_seconds": tune_seconds,
            "predict_paragraphs_per_s": speed,
        }
        val_metrics, val_eval = score_split(model, validation, "val")
        metrics.update(val_metrics)
        test_eval = None
        if len(test):
            test_metrics, test_eval = score_split(model, test, "test")
            metrics.update(test_metrics)
        metrics.setdefault("test_macro_f1", float("nan"))
        _log_datasets({"train": train, "validation": validation, "test": test}, digest, config)

        val_proba = model.predict_proba(validation)
        curves = {"validation": abstention_curve(validation["topic"], val_proba)}
        if test_eval is not None:
            curves["test"] = abstention_curve(test["topic"], model.predict_proba(test))
        tables = {
            "per_source_validation": per_source_table(val_eval),
            "per_topic_validation": per_topic_table(val_eval),
            "abstention_curve_validation": curves["validation"],
            "worst_errors_validation": worst_errors(
                val_eval, "topic", "predicted", val_proba, list(TOPICS)
            ),
        }
        if test_eval is not None:
            tables["per_source_test"] = per_source_table(test_eval)
            tables["per_topic_test"] = per_topic_table(test_eval)
            tables["abstention_curve_test"] = curves["test"]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            for name, table in tables.items():
                table.to_csv(out / f"{name}.csv", index=False)
            (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
            mlflow.log_artifacts(tmp, artifact_path="reports")
        log_figure(
            confusion_figure(
                validation["topic"],
                val_eval["predicted"],
                TOPICS,
                f"topic: {candidate.run_name} (validation)",
            ),
            "confusion_matrix_validation.png",
        )
        log_figure(
            _curve_figure(curves, chosen["threshold"], "abstention vs accuracy"),
            "abstention_curve.png",
        )
        example = model_input(validation.head(5))
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=example,
            signature=model_signature(example, model.predict(example)),
            pip_requirements=tracking.pinned_requirements(),
            serialization_format="cloudpickle",
            code_paths=tracking.code_paths(),
        )
        # On the run and on the LoggedModel (the Models tab, ``search_logged_models``).
        mlflow.log_metrics(metrics, model_id=logged.model_id)
    return {
        "run_id": run.info.run_id,
        "run_name": candidate.run_name,
        "candidate": candidate,
        "model_uri": logged.model_uri,
        "metrics": metrics,
        "chosen": chosen,
        "tables": tables,
    }


def cross_source(
    candidate: TopicCandidate, config: Config, train: pd.DataFrame, test: pd.DataFrame, alpha: float
) -> pd.DataFrame:
    """Train on one news corpus, test on the other, on the topics they share (train split →
    the other corpus's test split), with the document smoothing chosen in domain."""
    rows = []
    for source, target in (("bbc-news", "ag-news"), ("ag-news", "bbc-news")):
        fit_rows = train[(train["source"] == source) & train["topic"].isin(SHARED_TOPICS)]
        own = test[(test["source"] == source) & test["topic"].isin(SHARED_TOPICS)]
        other = test[(test["source"] == target) & test["topic"].isin(SHARED_TOPICS)]
        if fit_rows.empty or other.empty or fit_rows["topic"].nunique() < 2:
            continue
        model = candidate.build(config).set_params(smoothing=alpha)
        started = time.perf_counter()
        model.fit(model_input(fit_rows), fit_rows["topic"])
        seconds = time.perf_counter() - started
        for name, part in (("in-domain", own), ("cross", other)):
            if part.empty:
                continue
            y = part["topic"].to_numpy(object)
            raw = model.paragraph_proba(part)
            smoothed = top_topic(model.smooth(raw, part))
            rows.append(
                {
                    "train": source,
                    "test": part["source"].iloc[0],
                    "check": name,
                    "train_rows": len(fit_rows),
                    "test_rows": len(part),
                    "accuracy": accuracy_score(y, smoothed),
                    "macro_f1": macro_f1(y, smoothed),
                    "accuracy_unsmoothed": accuracy_score(y, top_topic(raw)),
                    "fit_seconds": seconds,
                }
            )
    return pd.DataFrame(rows).round(4)


def _markdown(table: pd.DataFrame) -> str:
    columns = list(table.columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in table.itertuples(index=False):
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(results: list[dict], best: dict, cross: pd.DataFrame, seconds: float) -> str:
    """The topic tagger's note: candidates, per-source, per-topic, cross-source, abstention."""
    m = best["metrics"]
    candidates_table = pd.DataFrame(
        [
            {
                "candidate": r["run_name"],
                "val_macro_f1": r["metrics"]["val_macro_f1"],
                "val_macro_f1_unsmoothed": r["metrics"]["val_macro_f1_unsmoothed"],
                "test_macro_f1": r["metrics"]["test_macro_f1"],
                "test_macro_f1_bbc_ag": r["metrics"].get("test_macro_f1_bbc_ag", float("nan")),
                "val_ece": r["metrics"]["val_ece"],
                "smoothing": r["chosen"]["smoothing"],
                "threshold": r["chosen"]["threshold"],
                "train_seconds": r["metrics"]["train_seconds"],
                "paragraphs_per_s": r["metrics"]["predict_paragraphs_per_s"],
            }
            for r in results
        ]
    )
    parts = [
        "# Topic tagger report",
        "",
        f"Best candidate (validation macro-F1): **{best['run_name']}**; document smoothing "
        f"{best['chosen']['smoothing']:.2f}, tag threshold {best['chosen']['threshold']:.2f}. "
        f"Topic flow took {seconds:.0f} s.",
        "",
        "## Candidates",
        _markdown(candidates_table),
    ]
    tables = best["tables"]
    for split in ("test", "validation"):
        if f"per_source_{split}" in tables:
            parts += ["", f"## Per source ({split})", _markdown(tables[f"per_source_{split}"])]
    if "per_topic_test" in tables:
        parts += ["", "## Per topic (test)", _markdown(tables["per_topic_test"])]
    if not cross.empty:
        parts += ["", "## Cross-source (4 shared topics)", _markdown(cross)]
    for split in ("validation", "test"):
        if f"abstention_curve_{split}" in tables:
            parts += [
                "",
                f"## Abstention curve ({split})",
                _markdown(tables[f"abstention_curve_{split}"]),
            ]
    teaser_keys = [k for k in m if "teaser" in k]
    if teaser_keys:
        parts += ["", "## Teasers", *[f"- {k}: {m[k]:.4f}" for k in sorted(teaser_keys)]]
    return "\n".join(parts) + "\n"


def train_topic(frame: pd.DataFrame, config: Config, digest: str, card: dict) -> dict:
    """Train every topic candidate, pick one on validation, check across sources, promote."""
    import mlflow

    from newsclean import tracking
    from newsclean.datacard import summary

    flow_started = time.perf_counter()
    rows = topic_rows(frame)
    train = _cap(rows[rows["split"] == "train"], config.model.max_train_rows, config.data.seed)
    validation = rows[rows["split"] == "validation"].reset_index(drop=True)
    test = rows[rows["split"] == "test"].reset_index(drop=True)
    train = train.reset_index(drop=True)
    if train.empty or validation.empty:
        raise ValueError("task topic: no topic labels in train or validation")
    card_summary = summary(card) if card else "no data card"
    tracking.experiment(config, config.tracking.topic_experiment)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with tracking.tagged_run(f"train-topic-{stamp}", digest, card_summary, "parent") as parent:
        mlflow.log_params(
            {
                "task": "topic",
                "seed": config.data.seed,
                "n_train": len(train),
                "n_validation": len(validation),
                "n_test": len(test),
                "max_tags": 2,
                "wrong_tag_cost": WRONG_TAG_COST,
            }
        )
        _log_datasets({"train": train, "validation": validation, "test": test}, digest, config)
        results = [
            _run_candidate(candidate, config, train, validation, test, digest, card_summary)
            for candidate in topic_candidates(config)
        ]
        best = max(results, key=lambda r: r["metrics"]["val_macro_f1"])
        cross = cross_source(best["candidate"], config, train, test, best["chosen"]["smoothing"])
        promoted, reason = tracking.promote(
            "newsclean-topic",
            tracking.Challenger(
                best["model_uri"],
                best["run_id"],
                digest,
                tracking.data_kind(frame["source"].unique()),
                "val_macro_f1",
                best["metrics"]["val_macro_f1"],
            ),
            lambda uri: score_split(mlflow.sklearn.load_model(uri), validation, "val")[0][
                "val_macro_f1"
            ],
            config.tracking.promote,
        )
        client = mlflow.MlflowClient()
        for result in results:
            champion = result is best and promoted
            client.set_tag(result["run_id"], "champion", str(champion).lower())
        parent_metrics = {
            f"best_{k}": v
            for k, v in best["metrics"].items()
            if k
            in {
                "val_macro_f1",
                "test_macro_f1",
                "test_accuracy",
                "test_macro_f1_bbc_ag",
                "test_smoothing_gain_macro_f1",
                "test_abstention_rate",
                "test_tagged_accuracy",
                "test_teaser_accuracy",
            }
        }
        for row in cross[cross["check"] == "cross"].itertuples() if not cross.empty else []:
            direction = f"cross_{row.train.split('-')[0]}_to_{row.test.split('-')[0]}"
            parent_metrics[f"{direction}_accuracy"] = row.accuracy
            parent_metrics[f"{direction}_accuracy_unsmoothed"] = row.accuracy_unsmoothed
        seconds = time.perf_counter() - flow_started
        parent_metrics["train_seconds"] = seconds
        mlflow.log_metrics(parent_metrics)
        text = report(results, best, cross, seconds)
        mlflow.log_text(text, "topic_report.md")
        if not cross.empty:
            mlflow.log_text(cross.to_csv(index=False), "cross_source.csv")
        config.paths.reports_dir.mkdir(parents=True, exist_ok=True)
        (config.paths.reports_dir / "topic_report.md").write_text(text)
        m = best["metrics"]
        cross_text = (
            ", ".join(
                f"{k.removeprefix('cross_').removesuffix('_accuracy')} {v:.3f}"
                for k, v in parent_metrics.items()
                if k.startswith("cross_") and k.endswith("_accuracy")
            )
            or "not run (needs bbc-news and ag-news)"
        )
        description = (
            f"topic: best candidate {best['run_name']} (val macro-F1 {m['val_macro_f1']:.4f}, "
            f"test macro-F1 {m['test_macro_f1']:.4f}, "
            f"unsmoothed {m.get('test_macro_f1_unsmoothed', float('nan')):.4f}; "
            f"smoothing {best['chosen']['smoothing']:.2f}, threshold "
            f"{best['chosen']['threshold']:.2f}, test abstention "
            f"{m.get('test_abstention_rate', float('nan')):.3f}). Cross-source accuracy: "
            f"{cross_text}. Champion: {'yes' if promoted else 'no'}: {reason}. "
            f"Data: {card_summary}."
        )
        mlflow.set_tags(
            {"mlflow.note.content": description, "best_run": best["run_name"], "promotion": reason}
        )
    return {
        "task": "topic",
        "parent_run_id": parent.info.run_id,
        "best": best["run_name"],
        "promoted": promoted,
        "reason": reason,
        "val_macro_f1": best["metrics"]["val_macro_f1"],
        "test_macro_f1": best["metrics"]["test_macro_f1"],
        "test_macro_f1_bbc_ag": best["metrics"].get("test_macro_f1_bbc_ag", float("nan")),
        "cross_source": cross,
    }
