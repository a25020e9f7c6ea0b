"""The adversarial page's pieces: one test example attacked on models A and B, and robust accuracy
against ε. Each model is attacked with its own gradient; ε is in pixel units of images in [0, 1]."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch

from explorer.app import cache
from explorer.core.config import AttackConfig
from explorer.core.data import subset_indices
from explorer.core.errors import ArgumentError
from explorer.figures import accuracy_vs, image_row, latent_scatter, probability_bars
from explorer.measure.attacks import latent_path
from explorer.measure.inference import predict

ATTACK_NAMES = {"fgsm": "FGSM", "pgd": "PGD"}
EXAMPLE_SOURCES = {"random": "random (from the seed)", "index": "by index"}
EPS_MAX = 0.5  # the slider's end: beyond this an L∞ perturbation can repaint most digits
EPS_VALUES = "0, 0.05, 0.1, 0.15, 0.2, 0.3"
ROBUST_N = 500
BACKGROUND_POINTS = 1000
PATH_COLOR = "#444444"
EPS_AXIS = "ε (pixel units, images in [0, 1])"
TEXT_NOTE = ("These attacks move pixels; a document is a sequence of discrete words, so they do not apply to "
             "text models, and this page attacks none.")


@dataclass(frozen=True)
class ExampleAttack:
    """One example attacked on one model. Images (C, H, W) in [0, 1]; probabilities (K,) float64;
    ``path`` (T + 1, d): the clean latent, then the latent after each of the T attack steps."""

    x: np.ndarray
    x_adv: np.ndarray
    probs: np.ndarray
    probs_adv: np.ndarray
    path: np.ndarray


def example_index(source: str, n_test: int, seed: int, index: int) -> int:
    """The example to attack: drawn with ``seed`` (source "random") or ``index`` in [0, n_test)."""
    if source not in EXAMPLE_SOURCES:
        raise ArgumentError(f"unknown example source {source!r}; allowed: {', '.join(EXAMPLE_SOURCES)}")
    if source == "random":
        return int(np.random.default_rng(seed).integers(n_test))
    if not 0 <= index < n_test:
        raise ArgumentError(f"example index must be in [0, {n_test}) for this test split, got {index}")
    return int(index)


def parse_eps(text: str) -> tuple[float, ...]:
    """ε values from text such as "0, 0.05, 0.1": sorted, distinct, each in [0, 1]."""
    items = [item for item in re.split(r"[,\s;]+", text.strip()) if item]
    if not items:
        raise ArgumentError("give at least one ε value, e.g. 0, 0.05, 0.1")
    values = []
    for item in items:
        try:
            value = float(item)
        except ValueError:
            raise ArgumentError(f"ε value {item!r} is not a number") from None
        if not 0 <= value <= 1:
            raise ArgumentError(f"ε values must be in [0, 1] (pixel units), got {item}")
        values.append(value)
    return tuple(sorted(set(values)))


def attack_example(path: Path, dataset: str, index: int, config: AttackConfig) -> ExampleAttack:
    """Attack test example ``index`` on the model at ``path`` with its own gradient, as ``config`` says."""
    net, _ = cache.model(path)
    data = cache.test_split(dataset)
    device = next(net.parameters()).device
    x, y = data.x[index: index + 1].to(device), data.y[index: index + 1].to(device)
    x_adv, latents = latent_path(net, x, y, config)
    logits, _ = predict(net, torch.cat([x, x_adv]))
    probs = torch.softmax(logits.double(), dim=1).numpy()
    return ExampleAttack(x=x[0].cpu().numpy(), x_adv=x_adv[0].cpu().numpy(), probs=probs[0],
                         probs_adv=probs[1], path=latents[:, 0].cpu().double().numpy())


def _displayable(image: np.ndarray) -> np.ndarray:
    """(C, H, W) → (H, W) for one channel, (H, W, 3) for three."""
    return image[0] if image.shape[0] == 1 else np.transpose(image, (1, 2, 0))


def amplification(eps: float) -> float:
    """Display gain of the perturbation: ±ε becomes ±0.5 around mid-grey, i.e. black to white."""
    return 0.5 / eps if eps > 0 else 1.0


def images_figure(result: ExampleAttack, eps: float, class_names: Sequence[str], title: str) -> go.Figure:
    """Clean image, perturbation (x_adv − x, amplified so that ±ε spans [0, 1], grey = 0), adversarial."""
    gain = amplification(eps)
    delta = np.clip(0.5 + gain * (result.x_adv - result.x), 0, 1)
    before, after = (class_names[int(p.argmax())] for p in (result.probs, result.probs_adv))
    titles = [f"clean → {before}", f"perturbation ×{gain:.3g}", f"adversarial → {after}"]
    return image_row([_displayable(a) for a in (result.x, delta, result.x_adv)], titles,
                     title=f"{title}: predicted {before} → {after}")


def probabilities_figure(result: ExampleAttack, class_names: Sequence[str], title: str) -> go.Figure:
    return probability_bars({"before": result.probs, "after": result.probs_adv}, class_names, title=title)


def path_figure(path: Path, dataset: str, result: ExampleAttack, seed: int, title: str) -> go.Figure:
    """Test latents (a faint sample drawn with ``seed``) and the attacked example's latent path.

    d = 2: the latents themselves. d > 2: a PCA fitted on all test latents, and the path placed by
    the same linear map (exact; the path takes no part in the fit).
    """
    _, meta = cache.model(path)
    out = cache.outputs(path, dataset)
    n, d = out["latents"].shape
    keep = subset_indices(n, BACKGROUND_POINTS, seed)
    if d == 2:
        points, trail, axes = out["latents"][keep], result.path, ("z₁", "z₂")
        note = f"The latents themselves (d = 2): {len(keep)} test latents, drawn with seed {seed}."
    else:
        pca = cache.latent_pca(path, dataset, seed)
        points, trail, axes = pca.points[keep], pca.transform(result.path), ("PC 1", "PC 2")
        note = (f"d = {d}: {pca.note}; the attack path is placed by the same linear map<br>"
                f"(not part of the fit). {len(keep)} of them drawn, with seed {seed}.")
    fig = latent_scatter(points, out["labels"][keep], meta["class_names"], note=note, title=title,
                         axis_titles=axes, hover_text=[f"#{i}" for i in keep])
    fig.update_traces(marker=dict(size=5, opacity=0.2))  # the background stays faint under the path
    steps = len(trail) - 1
    fig.add_trace(go.Scatter(x=trail[:, 0], y=trail[:, 1], mode="lines+markers", name="attack path",
                             text=[f"step {t}" for t in range(len(trail))], hovertemplate="%{text}<extra></extra>",
                             line=dict(color=PATH_COLOR, width=3), marker=dict(size=7, color=PATH_COLOR)))
    for t, name, symbol in ((0, "clean latent", "circle"), (steps, "adversarial latent", "x")):
        fig.add_trace(go.Scatter(x=trail[t: t + 1, 0], y=trail[t: t + 1, 1], mode="markers", name=name,
                                 hovertemplate=f"{name}<extra></extra>",
                                 marker=dict(size=18, symbol=symbol, color="white" if t == 0 else PATH_COLOR,
                                             line=dict(color=PATH_COLOR, width=3))))
    return fig


def robust_curves(models: Sequence[tuple[str, Path]], dataset: str, config: AttackConfig,
                  eps_values: Sequence[float], n: int, seed: int,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, list[float]]:
    """Robust accuracy of each (name, checkpoint) at each ε on n test images drawn with ``seed``.

    Each (model, ε) value is cached; ``progress(done, total)`` follows every one of them.
    """
    configs = [dataclasses.replace(config, eps=eps) for eps in eps_values]  # validates every ε first
    total, done, curves = len(models) * len(configs), 0, {}
    for name, path in models:
        curves[name] = []
        for eps_config in configs:
            curves[name].append(cache.robust_accuracy(path, dataset, eps_config, n, seed))
            done += 1
            if progress:
                progress(done, total)
    return curves


def robust_figure(eps_values: Sequence[float], curves: dict[str, list[float]], attack: str, n: int,
                  seed: int) -> go.Figure:
    return accuracy_vs(list(eps_values), curves, EPS_AXIS, y_title="robust accuracy",
                       title=f"{ATTACK_NAMES[attack]} robust accuracy on {n} test images (seed {seed})")
