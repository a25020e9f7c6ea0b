"""Split conformal prediction sets of ``explorer.measure.conformal`` against MAPIE and crepes, on shipped
checkpoints' held-out outputs, printed (not asserted): run

    pip install --no-deps --target DIR mapie==1.6.0 crepes==0.9.1
    EXPLORER_DATA_DIR=/path/to/data PYTHONPATH=DIR python benchmarks/crosscheck_conformal.py

Both libraries are pure Python over numpy, scipy, scikit-learn and pandas, which the project already
installs; ``--no-deps`` keeps them from replacing those. Each predictor is calibrated on the checkpoint's
validation split (the one its training held out) and its sets measured on the test split, at ``--alpha``.

Printed per checkpoint: for LAC, the (example, class) cells where our sets and MAPIE's
``SplitConformalClassifier(conformity_score="lac")`` differ, and where ours and crepes'
``ConformalClassifier`` (``hinge`` scores, ``smoothing=False``) differ, marginal and Mondrian (crepes
calibrated per class); for randomised APS, whose draws differ between libraries, coverage and mean set
size of both (MAPIE ``include_last_label="randomized"``). RAPS is not compared: MAPIE's tunes λ and
k_reg on part of the calibration set, ours takes them fixed.

Where (n + 1)(1 − α) is a whole number (n = 5999 or 59 at α = 0.1), crepes admits one calibration score
more: it compares a p-value with 1 − confidence, and 1 − 0.9 is 0.09999999999999998 in floats, so a
p-value of exactly α passes. The cells that differ from crepes are those (printed).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.special import softmax

from explorer.core._io import PROJECT_DIR
from explorer.core.checkpoints import checkpoint_validation_split, load_checkpoint
from explorer.core.data import load_dataset, readable_by
from explorer.measure.conformal import prediction_sets, set_coverage
from explorer.measure.inference import predict

DEFAULT = ("mnist-cnn-d16-softmax", "mnist-cnn-d16-vc", "20newsgroups-bag-d16-softmax", "20newsgroups-bag-d16-vc")


def outputs(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(validation probs, validation labels, test probs, test labels) of a shipped checkpoint."""
    model, meta = load_checkpoint(PROJECT_DIR / "checkpoints" / f"{name}.pt")
    held_out = checkpoint_validation_split(model, meta, load_dataset(meta["dataset"], "train"))
    test = readable_by(load_dataset(meta["dataset"], "test"), model)
    val_logits, _ = predict(model, held_out.x)
    test_logits, _ = predict(model, test.x)
    return (softmax(val_logits.numpy(), axis=1), held_out.y.numpy(), softmax(test_logits.numpy(), axis=1),
            test.y.numpy())


class _Fixed:
    """A fitted scikit-learn classifier whose probabilities for row i of X (X[i, 0] = i) are probs[i]."""

    def __init__(self, probs: np.ndarray):
        self.probs, self.classes_, self.n_features_in_ = probs, np.arange(probs.shape[1]), 1

    def fit(self, x, y):
        return self

    def predict_proba(self, x):
        return self.probs[np.asarray(x)[:, 0].astype(int)]

    def predict(self, x):
        return self.predict_proba(x).argmax(axis=1)

    def get_params(self, deep=True):
        return {"probs": self.probs}

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, Tags

        return Tags(estimator_type="classifier", classifier_tags=ClassifierTags(), target_tags=None)


def mapie_sets(cal, cal_y, test, alpha, score, last=True):
    from mapie.classification import SplitConformalClassifier

    probs = np.concatenate([cal, test])
    x = np.arange(len(probs))[:, None]
    mapie = SplitConformalClassifier(_Fixed(probs), confidence_level=1 - alpha, conformity_score=score, prefit=True,
                                     random_state=0)
    mapie.conformalize(x[:len(cal)], cal_y)
    params = {"include_last_label": last} if score != "lac" else None
    return mapie.predict_set(x[len(cal):], conformity_score_params=params)[1][:, :, 0]


def crepes_sets(cal, cal_y, test, alpha, mondrian):
    from crepes import ConformalClassifier
    from crepes.extras import hinge

    cal_scores, test_scores = hinge(cal, np.arange(cal.shape[1]), cal_y), hinge(test)
    if not mondrian:
        return ConformalClassifier().fit(cal_scores).predict_set(test_scores, confidence=1 - alpha,
                                                                 smoothing=False).astype(bool)
    sets = np.zeros(test.shape, dtype=bool)
    for y in range(test.shape[1]):  # class-conditional: each candidate label against its own class
        one = ConformalClassifier().fit(cal_scores[cal_y == y])
        sets[:, y] = one.predict_set(test_scores[:, [y]], confidence=1 - alpha, smoothing=False)[:, 0] == 1
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*", default=DEFAULT, help="shipped checkpoint names")
    parser.add_argument("--alpha", type=float, default=0.1)
    args = parser.parse_args()
    for name in args.checkpoints:
        start = time.perf_counter()
        cal, cal_y, test, test_y = outputs(name)
        print(f"{name}: calibration n = {len(cal_y)}, test n = {len(test_y)}, alpha = {args.alpha}")
        ours = prediction_sets(cal, cal_y, test, args.alpha, "lac")
        mapie = (ours != mapie_sets(cal, cal_y, test, args.alpha, "lac")).sum()
        crepes = (ours != crepes_sets(cal, cal_y, test, args.alpha, False)).sum()
        print(f"  lac       cells differing from MAPIE: {mapie}, from crepes: {crepes}  (of {ours.size}; coverage "
              f"{set_coverage(ours, test_y).coverage:.4f}; (n + 1)(1 - alpha) = {(len(cal_y) + 1) * (1 - args.alpha):.9g})")
        ours = prediction_sets(cal, cal_y, test, args.alpha, "lac", mondrian=True)
        crepes = ours != crepes_sets(cal, cal_y, test, args.alpha, True)
        ranks = (np.bincount(cal_y, minlength=ours.shape[1]) + 1) * (1 - args.alpha)
        whole = np.flatnonzero(np.abs(ranks - np.round(ranks)) < 1e-9).tolist()
        print(f"  mondrian  cells differing from crepes: {crepes.sum()}, in classes "
              f"{np.flatnonzero(crepes.any(0)).tolist()}; classes where (n_y + 1)(1 - alpha) is whole: {whole}")
        ours = set_coverage(prediction_sets(cal, cal_y, test, args.alpha, "aps"), test_y)
        theirs = set_coverage(mapie_sets(cal, cal_y, test, args.alpha, "aps", "randomized"), test_y)
        print(f"  aps (randomised) coverage {ours.coverage:.4f} ± {ours.se:.4f}, mean size {ours.mean_size:.3f}; "
              f"MAPIE {theirs.coverage:.4f} ± {theirs.se:.4f}, {theirs.mean_size:.3f}")
        print(f"  ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
