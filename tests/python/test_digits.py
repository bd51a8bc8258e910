"""Class-conditional sampling of scikit-learn's 8×8 digits (issue 15): the samples must be
recognisable. A small model and few steps so that it runs in CI in well under a minute; the
documented numbers (docs/digits.md) come from examples/python/digits.py's full run."""
import importlib.util
import os
import time

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="python3-sklearn is not installed (tools/bootstrap.sh test installs it)")

import pathint as pi  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _example():
    spec = importlib.util.spec_from_file_location("digits_example", os.path.join(ROOT, "examples", "python", "digits.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_guided_digits_are_recognisable():
    ex = _example()
    t0 = time.time()
    x_tr, y_tr, x_te, y_te = ex.load()
    clf = ex.classifier(x_tr, y_tr)
    assert clf.score(x_te, y_te) > 0.9  # the judge itself
    model, _ = ex.train_model(x_tr, y_tr, steps=1500, width=128, layers=2, copies=4, quiet=True)
    x, labels = ex.sample_classes(model, 20, w=2.0, hbar=0.0, steps=25)
    acc = np.mean(clf.predict(ex.to_pixels(x)) == labels)
    assert acc >= 0.8, acc
    # guidance sharpens the classes: w = 0 (unconditional) is far from the labels
    x0, _ = ex.sample_classes(model, 20, w=0.0, hbar=0.0, steps=25)
    assert np.mean(clf.predict(ex.to_pixels(x0)) == labels) < 0.5
    assert time.time() - t0 < 120
