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
4. ``predict`` returns the top topic per row as scikit-learn classifiers do; ``predict_proba``
   the smoothed probabilities; ``predict_tags`` the thresholded tags (an empty list is an
   abstention); ``tag_table`` all of it as one table (``topic``, ``tags``, ``p_<topic>``).

``smoothing`` and ``threshold`` are chosen on the validation split (``newsclean.train.topic``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from newsclean.config import TOPICS
from newsclean.ml.features import CharTfidf, WordTfidf
from newsclean.ml.metrics import tag_utility

UNKNOWN = "unknown"


SHARED_TOPICS = ("world", "business", "sci_tech", "sports")  # BBC News ∩ AG News


# The thresholds the tagger's abstention curve is drawn over (and chosen from, on validation).
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

    def predict_tags(self, X: pd.DataFrame) -> list[list[str]]:
        """Up to ``max_tags`` topics per paragraph, most likely first; [] is an abstention
        (no topic is probable enough)."""
        return self.tags_from_proba(self.predict_proba(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The most probable topic per paragraph (labels, as scikit-learn classifiers give;
        ``predict_tags`` for the thresholded tags with abstention)."""
        return np.asarray(TOPICS, dtype=object)[self.predict_proba(X).argmax(axis=1)]

    def tag_table(self, X: pd.DataFrame) -> pd.DataFrame:
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


def top_topic(proba: np.ndarray) -> np.ndarray:
    return np.array(TOPICS, dtype=object)[proba.argmax(axis=1)]


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
