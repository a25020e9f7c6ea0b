"""Shared fixtures: small configs for every method, a writable copy of the offline MNIST files, the
one way the app tests open a page with AppTest (:func:`open_page`), and a checkpoint and a predictions
bundle made once for the command-line tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from explorer.app import guide
from explorer.core.config import METHODS, default_configs

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HOME = Path(__file__).resolve().parents[1] / "explorer" / "Home.py"
os.environ.setdefault("EXPLORER_UMAP_WARM_UP", "0")  # no minute of numba compilation in every app test
APP_TIMEOUT = 180  # seconds: torch and the first model load take longer than AppTest's 3 s default


@pytest.fixture(scope="session")
def data_copy(tmp_path_factory) -> Path:
    """A writable copy of ``../shared/data`` (torchvision unpacks archives next to themselves)."""
    if not (SHARED_DATA / "MNIST" / "raw").is_dir():
        pytest.skip(f"offline MNIST files not found in {SHARED_DATA}")
    root = tmp_path_factory.mktemp("data")
    for name in ("MNIST", "FashionMNIST"):
        shutil.copytree(SHARED_DATA / name / "raw", root / name / "raw")
    for name in ("20newsgroups", "reuters-r8"):  # text: read in place, copied for the same rule
        if (SHARED_DATA / name).is_dir():
            shutil.copytree(SHARED_DATA / name, root / name)
    return root


def tiny_text(n: int = 60, classes: int = 3, seed: int = 0, max_tokens: int = 12):
    """A TextData of ``n`` made-up documents whose words tell their class (class k: words "wk*")."""
    import random

    import torch

    from explorer.core.data import TextData, Vocabulary

    rng = random.Random(seed)
    y = [i % classes for i in range(n)]
    texts = tuple(" ".join(rng.choice([f"w{k}a", f"w{k}b", "the", "of", "and"]) for _ in range(rng.randint(3, 20)))
                  for k in y)
    vocabulary = Vocabulary.build(texts, min_count=1)
    return TextData("20newsgroups", vocabulary.encode(texts, max_tokens), torch.tensor(y), tuple(map(str, range(classes))),
                    texts, vocabulary)


def text_configs(method: str, data, **overrides):
    """Configs of a small bag-of-words model for :func:`tiny_text` data, trained in a second."""
    from explorer.core.config import ModelConfig, TrainConfig, field_names

    model = {"method": method, "encoder": "bag", "latent_dim": 2, "num_classes": len(data.class_names),
             "input_shape": (data.x.shape[1],), "mean": (), "std": (), "hidden": 16, "embedding_dim": 8,
             "ngram_buckets": 50}
    train = {"epochs": 3, "batch_size": 16, "lr": 1e-2, "snapshot_points": 4}
    model.update({k: v for k, v in overrides.items() if k in field_names(ModelConfig)})
    train.update({k: v for k, v in overrides.items() if k not in field_names(ModelConfig)})
    return ModelConfig(**model), TrainConfig(**train)


def wait_for(condition, what: str, timeout: float = 300.0) -> None:
    """Return once ``condition()`` holds (asked every 20 ms); fail naming ``what`` after ``timeout`` seconds."""
    import threading
    import time

    deadline, pause = time.monotonic() + timeout, threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never {what} in {timeout:.0f} s")
        pause.wait(0.02)


def quick_configs(method: str, **overrides):
    """Digits configs that train in about a second: d = 2, two epochs."""
    settings = {"latent_dim": 2, "epochs": 2, "hidden": 32, "snapshot_points": 16, **overrides}
    return default_configs("digits", method, **settings)


@pytest.fixture(params=METHODS)
def method(request) -> str:
    return request.param


@pytest.fixture
def fresh_app(tmp_path, monkeypatch):
    """App tests see only the shipped checkpoints and start with empty caches (caches are process-wide)."""
    import streamlit as st

    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def open_page(fresh_app):
    """Open the app in AppTest as a browser would: Home first, then the page named by the app's guide.

    ``open_page(name, query=..., state=...)``: ``query`` are URL query parameters (``dataset``),
    ``state`` session keys set after Home's first run (models A and B: selectboxes with a
    ``format_func`` cannot be set by value in AppTest). Returns the AppTest after the page's run,
    which raised no exception.
    """
    from streamlit.testing.v1 import AppTest

    def open_(name: str = "", query: dict | None = None, state: dict | None = None) -> AppTest:
        app = AppTest.from_file(str(HOME), default_timeout=APP_TIMEOUT)
        for key, value in (query or {}).items():
            app.query_params[key] = value
        app.run()
        if state:
            for key, value in state.items():
                app.session_state[key] = value
            app.run()
        if name:
            app.switch_page(guide.page(name).script_from_home)
            app.run()
        assert not app.exception, app.exception
        return app

    return open_


@pytest.fixture(scope="session")
def vc_checkpoint(tmp_path_factory) -> Path:
    """A small digits vc model (d = 2, 10 epochs) trained and saved through the command line."""
    from explorer.cli import main

    path = tmp_path_factory.mktemp("cli") / "vc.pt"
    assert main(["train", "--dataset", "digits", "--method", "vc", "--out", str(path), "--quiet", "--latent-dim", "2",
                 "--epochs", "10", "--hidden", "64"]) == 0
    return path


@pytest.fixture(scope="session")
def logistic_bundle(tmp_path_factory):
    """A scikit-learn logistic regression on digits' pixels as a bundle: logits = decision_function, latents =
    the pixels, weight and bias its coefficients; validation outputs from training images it did not fit."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from explorer.core.bundles import save_bundle
    from explorer.core.data import load_dataset

    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    x_train, x_test = train.x.flatten(1).double().numpy(), test.x.flatten(1).double().numpy()
    fit = LogisticRegression(C=0.05, max_iter=2000).fit(x_train[:1000], train.y[:1000].numpy())
    arrays = {"logits": fit.decision_function(x_test), "labels": test.y.numpy(), "latents": x_test,
              "weight": fit.coef_, "bias": fit.intercept_, "dataset": np.asarray("digits"),
              "val_logits": fit.decision_function(x_train[1000:]), "val_labels": train.y[1000:].numpy()}
    folder = tmp_path_factory.mktemp("bundles")
    save_bundle(folder / "full.npz", **arrays)
    save_bundle(folder / "bare.npz", logits=arrays["logits"], labels=arrays["labels"])
    return folder, arrays
