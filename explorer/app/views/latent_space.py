"""The Latent space page's figures (Home draws the first one too), composed from the library and the caches.

A click on a map's point picks a test example (:func:`state.choose_example`); a box or lasso drawn on a
map picks a region (:func:`state.choose_region`), measured on both models by :func:`region_reports`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from explorer.app import cache, sources, state
from explorer.core.config import DEFAULT_COVARIANCE, N_BINS, ProjectionConfig
from explorer.core.data import OWN_DATA, domain_of, subset_indices
from explorer.core.errors import BundleError
from explorer.figures import (chi2_histogram, image_row, latent_scatter, norm_histogram, probability_bars,
                              reliability_diagram)
from explorer.figures.latents import WEBGL_FROM
from explorer.measure.calibration import accuracy, expected_calibration_error, reliability_bins
from explorer.measure.conformal import ALPHA, DEFAULT_SCORE
from explorer.measure.latent_map import MAX_MARKERS, MAX_POINTS, latent_map
from explorer.measure.latents import gaussian_ellipse, ks_critical_value
from explorer.measure.local_calibration import SIGNIFICANCE_WORDS
from explorer.measure.recalibration import apply_temperature
from explorer.measure.selective import answered

COLOR_BY = {"class": "true label", "prediction": "prediction", "confidence": "confidence",
            "correct": "correctness", "miscalibration": "local miscalibration",
            "gaussian gap": "confidence gap to the Gaussians", "set size": "prediction-set size"}
SIGNED = ("miscalibration", "gaussian gap")
"""Colourings of a signed value, drawn on a diverging scale centred on 0."""


@cache.shared_figure_of_file
def latent_figure(path: Path, color_by: str, projection: ProjectionConfig, seed: int,
                  title_prefix: str, zoom_to_gaussians: bool = False,
                  points: int | None = MAX_POINTS, highlight: np.ndarray | None = None,
                  highlight_label: str = "highlighted", implied: str = DEFAULT_COVARIANCE,
                  coverage: float = 1.0) -> tuple[go.Figure, np.ndarray]:
    """The model's test latents (at most ``points``, drawn with ``seed``; None: all; the note says how
    many of how many) against its class Gaussians. More than ``MAX_MARKERS`` are drawn as a density
    image under a seeded sample of that many markers.

    d = 2: the latents themselves with the 1σ and 2σ ellipses of each p(z|y), on axes that fit the
    latents or, with ``zoom_to_gaussians``, the ellipses; the note says how far, in σ. A softmax
    model's Gaussians are the member of its implied family that ``implied`` names
    (:func:`explorer.app.cache.gaussians`: by default fitted to its validation latents). d > 2: latents and
    prior samples placed by one projection fitted on both (:func:`explorer.measure.latent_map.latent_map`),
    the samples drawn faint. A bundle without ``weight`` and ``bias`` has no Gaussians: its latents are
    drawn alone, and the note says so. Also returns the indices of the drawn points among the test
    examples (a point's ``customdata`` indexes this array).

    ``highlight``: (H,) test-split indices to ring on the map, the other points faded
    (:func:`explorer.figures.latent_scatter`); those the map does not draw (a sample) are counted in
    the legend entry, ``"{highlight_label}: H test points"`` and how many of them are drawn.

    ``color_by`` "miscalibration" colours each point by the local gap between confidence and correctness
    around its latent (:func:`explorer.app.cache.local_gap`), faded where it is not told apart from 0;
    "gaussian gap" by its confidence minus its class Gaussians' (:func:`explorer.app.cache.gaussian_gap`).
    ``coverage`` < 1 greys out the points the model abstains on, :func:`explorer.measure.selective.answered`
    on the whole test split; the note says how many and the accuracy on the rest.
    """
    chosen = sources.source(path)
    out = cache.outputs(path, chosen.dataset)
    if out["latents"] is None:
        raise BundleError(f"{path.name} has no latents: there is nothing to draw (the Calibration page "
                          "needs its logits alone)")
    d = chosen.latent_dim
    head = cache.gaussians(path, implied)
    total = len(out["labels"])
    if d == 2:
        keep = subset_indices(total, points, seed)
    else:
        placed = latent_map(head, out["latents"], cache.digest(path), projection, seed,
                            fit=cache.fit_projection_elsewhere, points=points)
        keep = placed.keep
    drawn = (f"All {total:,} test points drawn. " if len(keep) == total else
             f"{len(keep):,} of the {total:,} test points drawn (a random sample, seed {seed}). ")
    values, faded, colouring = _colouring(path, chosen.dataset, color_by, out, implied)
    abstained, abstaining = _abstentions(out, coverage)
    drawn += colouring + abstaining
    placed_points = placed.projection.points if d != 2 else out["latents"][keep]
    density = {}
    if len(keep) > MAX_MARKERS:  # every placed point in the image, a sample of them as markers
        density = {"density_points": placed_points, "density_labels": out["labels"][keep],
                   "density_values": None if values is None else _unfaded(values, faded)[keep],
                   "density_abstained": None if abstained is None else abstained[keep]}
        markers = subset_indices(len(keep), MAX_MARKERS, seed)
        of = "true classes" if values is None else f"{COLOR_BY[color_by]} values" + (
            "" if faded is None else ", 0 (white) for a faded one")
        of += "" if abstained is None else " (grey for an abstention)"
        drawn += (f"The image shows the density of all {len(keep):,} (each pixel in the mean colour of the {of} "
                  f"of its points, opaquer where they are many); {MAX_MARKERS:,} of them, a random sample, "
                  "are markers to hover and click. ")
        keep, placed_points = keep[markers], placed_points[markers]
    labels, probs = out["labels"][keep], out["probs"][keep]
    predicted = probs.argmax(1)
    color = predicted == labels if color_by == "correct" else None if values is None else values[keep]
    shown = predicted if color_by == "prediction" else labels
    names = chosen.class_names
    hover = None if len(keep) >= WEBGL_FROM else [  # larger maps hover with one template (figures/latents.py)
        f"#{i}: label {names[y]}, predicted {names[p]}" for i, y, p in zip(keep, labels, predicted)]
    common = {"class_names": list(names), "color": color, "color_label": COLOR_BY[color_by],
              "hover_text": hover, "title": chosen.name(title_prefix), "diverging": color_by in SIGNED,
              "faded": None if faded is None else faded[keep],
              "abstained": None if abstained is None else abstained[keep], **density}
    if highlight is not None:
        wanted = np.unique(np.asarray(highlight, dtype=np.int64))
        rows = np.flatnonzero(np.isin(keep, wanted))
        shown_of = "" if len(rows) == len(wanted) else f"<br>({len(rows):,} of them drawn)"
        common |= {"highlight": rows, "highlight_name": f"{highlight_label}: {len(wanted):,} test points{shown_of}"}
    if d != 2:
        note = drawn + placed.projection.note + ("" if head is not None else
                                                 ". No weight and bias in this bundle: no class Gaussians to draw")
        return latent_scatter(placed_points, shown, prior_points=placed.projection.extra_points,
                              prior_labels=placed.prior_labels, note=note, **common), keep
    if head is None:
        note = drawn + "The latents themselves (d = 2). This bundle has no weight and bias: no class Gaussians to draw."
        return latent_scatter(placed_points, shown, note=note, **common), keep
    with torch.no_grad():
        means = head.class_means().double().numpy()
        covariances = head.covariances().double().numpy()
    ellipses = [(k, s, gaussian_ellipse(means[k], covariances[k], s)) for k in range(len(means)) for s in (1.0, 2.0)]
    kind = gaussians_in_words(head)
    fit = cache.fit(path, chosen.dataset, implied)
    family = "Gaussian" if fit.gaussian else f"Student-t (ν = {fit.law.args[1]:g}; σ: its scale)"
    note = (f"{drawn}The latents themselves (d = 2). Ellipses: 1σ and 2σ of each class {family} {kind}. "
            f"A test latent lies a median {np.median(np.sqrt(fit.r2)):.3g} σ from its class mean "
            f"({np.sqrt(fit.law.median()):.2f} σ if the latents followed their prior).")
    box = np.vstack([e for _, _, e in ellipses])
    pad = 0.15 * (box.max(0) - box.min(0))
    zoom = tuple(zip(box.min(0) - pad, box.max(0) + pad)) if zoom_to_gaussians else None
    return latent_scatter(placed_points, shown, ellipses=ellipses, note=note, axis_range=zoom,
                          **common), keep


def _colouring(path: Path, dataset: str, color_by: str, out: dict, implied: str
               ) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """A continuous colouring's values on the whole test split (N,) (None when the colours are classes
    or correctness), the points to fade (N,) bool or None, and what the colour means, for the note."""
    if color_by == "confidence":
        return out["probs"].max(1), None, ""
    if color_by == "miscalibration":
        local = cache.local_gap(path, dataset)
        told = local.significant
        return local.gap, ~told, (
            "Colour: local miscalibration, the mean of confidence − correct (1 or 0) over the point's "
            f"{local.rule}: red over-confident, blue under-confident, faded where {SIGNIFICANCE_WORDS} "
            f"({int((~told).sum()):,} of {len(told):,}). It describes this test split, whose labels it reads. ")
    if color_by == "gaussian gap":
        gap = cache.gaussian_gap(path, dataset, implied)
        _, counted_on = cache.class_frequencies(path, dataset)
        return gap, None, (
            "Colour: confidence − the confidence the class Gaussians give at the latent (red: the model is surer), "
            f"their class prior held to {counted_on} class frequencies (under the head's own prior the two agree "
            f"by construction); |gap| at most {np.abs(gap).max():.3g}, median {np.median(np.abs(gap)):.3g}. ")
    if color_by == "set size":
        sizes = cache.set_sizes(path, dataset, ALPHA, DEFAULT_SCORE)
        return sizes.astype(np.float64), None, (
            f"Colour: how many classes the point's conformal prediction set holds at {1 - ALPHA:.0%} coverage "
            f"({DEFAULT_SCORE.upper()}, randomised, calibrated on the validation split; 0: an empty set), a mean "
            f"of {sizes.mean():.2f}. The Calibration page's Prediction sets measure their coverage. ")
    return None, None, ""


def _unfaded(values: np.ndarray, faded: np.ndarray | None) -> np.ndarray:
    """(N,) the values with the faded ones at 0: markers fade by opacity, but the density image averages
    colours, so a value not told apart from 0 enters it as 0 (white on the diverging scale)."""
    return values if faded is None else np.where(faded, 0.0, values)


def _abstentions(out: dict, coverage: float) -> tuple[np.ndarray | None, str]:
    """(N,) True where the model abstains at ``coverage`` (None at full coverage), and the note's words."""
    if coverage >= 1.0:
        return None, ""
    probs, labels = out["probs"], out["labels"]
    answers = answered(probs.max(1), coverage)
    right = probs.argmax(1) == labels
    return ~answers, (f"Coverage {coverage:.0%}: abstains on the {int((~answers).sum()):,} least confident of "
                      f"{len(labels):,} (grey); accuracy on the {int(answers.sum()):,} answered "
                      f"{right[answers].mean():.3f} (all: {right.mean():.3f}). ")


def class_names(path: Path) -> list[str]:
    return list(sources.source(path).class_names)


def gaussians_in_words(head: torch.nn.Module) -> str:
    """Which Gaussians a head's latents are read against, to follow "each class Gaussian": "it learns",
    or for a softmax layer the member of its implied family ("its linear layer implies (fitted, diagonal
    Σ, on 136 validation latents)")."""
    description = getattr(head, "description", None)
    return "it learns" if description is None else f"its linear layer implies ({description})"


@cache.shared_figure_of_file
def chi2_figure(path: Path, class_index: int, implied: str = DEFAULT_COVARIANCE) -> tuple[go.Figure, float]:
    """Histogram of one class's squared Mahalanobis distances against the law they follow under the
    prior (χ²_d for Gaussians, d·F(d, ν) for a Student-t); also the mean KS. A softmax model's r² is
    to the ``implied`` member of its family."""
    chosen = sources.source(path)
    fit = cache.fit(path, chosen.dataset, implied)
    r2 = fit.r2[fit.labels == class_index]
    law = {} if fit.gaussian else {"law": fit.law, "law_name": fit.law_name}
    figure = chi2_histogram(r2, fit.d, ks=float(fit.ks[class_index]), ks_critical=ks_critical_value(len(r2)),
                            title=f"{chosen.label}: class {chosen.class_names[class_index]}, "
                                  f"r² against {fit.law_name}", **law)
    return figure, fit.mean_ks


@cache.shared_figure_of_file
def norm_figure(path: Path, class_index: int) -> go.Figure:
    """Histogram of latent norms ‖z‖ on the test split: one class against all classes."""
    chosen = sources.source(path)
    fit = cache.fit(path, chosen.dataset, DEFAULT_COVARIANCE)  # the norms do not depend on the Gaussians
    name = chosen.class_names[class_index]
    return norm_histogram({"all classes": fit.norms, f"class {name}": fit.norms[fit.labels == class_index]},
                          title=f"{chosen.label}: latent norms ‖z‖")


def clicked_index(event, keep: np.ndarray) -> int | None:
    """The test-split index of the point a chart selection event picked, if any (the event as
    ``st.plotly_chart`` returns it, or as session state holds it: a mapping)."""
    def field(value, name):
        return value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)

    points = field(field(event, "selection"), "points") or []
    for point in points:
        row = customdata_index(point)
        if row is not None:  # prior samples and ellipses carry none
            return int(keep[row])
    return None


def customdata_index(point: Mapping) -> int | None:
    """The integer a selected point carries first in its ``customdata`` (a map's row, a diagram's bin),
    or None without one. A point of a trace whose customdata is a 2-D array arrives with its row as a
    mapping {"0": ..., "1": ...}; of a 1-D one, as a number or a one-element list."""
    data = point.get("customdata")
    if isinstance(data, Mapping):
        data = data.get("0")
    elif isinstance(data, (list, tuple)):
        data = data[0] if data else None
    return None if data is None else int(round(float(data)))


def region_of(selection: Mapping | None, keep: np.ndarray, side: str) -> dict | None:
    """The region a box or lasso selection drew on side's map, as :data:`state.LATENT_REGION` holds
    it; None for a click (no box, no lasso) or no selection.

    Its ``indices`` are the test-split indices (sorted, unique) of the drawn points inside it: prior
    samples and ellipses carry no ``customdata`` and are left out, and a map that draws a sample
    contributes only the points it draws.
    """
    selection = selection or {}
    how = " and ".join(shape for shape in ("box", "lasso") if selection.get(shape))
    if not how:
        return None
    rows = {customdata_index(point) for point in selection.get("points") or []} - {None}
    return {"map": side, "how": how, "indices": sorted(int(keep[r]) for r in rows)}


def on_map_select(side: str, keep: np.ndarray, models: tuple[str, ...] = (), dataset: str | None = None) -> None:
    """``on_select`` callback of side's map (``keep``: its drawn points' test indices; ``models``: the
    paths of models A and B it was drawn beside, :attr:`state.Selection.pair`; ``dataset``: the
    sidebar's dataset they belong to): a box or lasso stores a region, a click the clicked example;
    an emptied selection changes neither."""
    event = st.session_state[state.latent_map_key(side)]
    region = region_of(event["selection"], keep, side)
    if region is not None:
        state.choose_region(region, models)
    elif (clicked := clicked_index(event, keep)) is not None:
        state.choose_example(dataset, clicked)


@dataclass(frozen=True)
class RegionReport:
    """One model on a region's test examples: the reliability diagram, accuracy, ECE and their values
    on the whole test split; or, with ``figure`` None, a message saying why not. ``name``: "Model A: vc, d = 2"."""

    name: str
    n: int
    figure: go.Figure | None = None
    accuracy: float = float("nan")
    ece: float = float("nan")
    whole_accuracy: float = float("nan")
    whole_ece: float = float("nan")
    message: str | None = None


def region_reports(paths: dict[str, Path], region: dict) -> list[RegionReport] | None:
    """Each model's calibration (clean test logits, :data:`N_BINS` bins) on exactly the region's test
    examples; None when the region does not fit the test split of the map it was drawn on (a region
    kept from another dataset).

    The region's indices are rows of its map's model's test split; another model shares them when
    its labels are the same array (models of one project dataset), and otherwise (a bundle of other
    data) gets a message rather than other examples' rows. An empty region gets a message too; a
    region of a few points is measured all the same (most of its bins are empty).
    """
    rows = np.asarray(region["indices"], dtype=np.int64)
    logits = {side: cache.test_logits(path, sources.source(path).dataset) for side, path in paths.items()}
    own = logits[region["map"]]["labels"]
    if rows.size and not (rows.min() >= 0 and rows.max() < len(own)):
        return None
    reports = []
    for side, path in paths.items():
        name = sources.source(path).name(side)
        labels = logits[side]["labels"]
        if not np.array_equal(labels, own):
            reports.append(RegionReport(name, 0, message=f"{name}: its test rows are other examples than those "
                                                         f"of {region['map']}'s map (the labels differ), so the "
                                                         "region is not measured on it."))
            continue
        if not rows.size:
            reports.append(RegionReport(name, 0, message=f"{name}: the region holds no test points."))
            continue
        probs = apply_temperature(logits[side]["logits"], 1.0)
        part, y = probs[rows], labels[rows]
        figure = reliability_diagram(reliability_bins(part, y, N_BINS),
                                     title=f"{name}<br>on the region: {len(rows):,} points, {N_BINS} bins")
        reports.append(RegionReport(name, len(rows), figure, accuracy(part, y), expected_calibration_error(part, y),
                                    accuracy(probs, labels), expected_calibration_error(probs, labels)))
    return reports


def region_elsewhere(region: dict | None, side: str, paths: dict[str, Path]) -> np.ndarray | None:
    """The test indices of a region drawn on another map than side's, to ring on side's map; None for
    no region, the region's own map (ringing it would redraw the chart and drop its box) or a model
    whose test rows are other examples."""
    if region is None or region["map"] == side:
        return None
    labels = [cache.test_logits(paths[s], sources.source(paths[s]).dataset)["labels"] for s in (side, region["map"])]
    rows = np.asarray(region["indices"], dtype=np.int64)
    if not np.array_equal(*labels) or (rows.size and rows.max() >= len(labels[0])):
        return None
    return rows


def describe_region(region: dict, paths: dict[str, Path]) -> str:
    """How a region was chosen, for the caption over its measurements."""
    path = paths[region["map"]]
    n, total = len(region["indices"]), len(cache.test_logits(path, sources.source(path).dataset)["labels"])
    return (f"{n:,} of the {total:,} test examples: the drawn points inside the {region['how']} drawn on "
            f"{region['map']}'s map (a map drawing a sample contributes only the points it draws). Both models "
            f"are measured on exactly these examples, on the clean test split, with {N_BINS} bins; the deltas "
            "compare with the whole test split. The other map rings the same examples; a box or lasso on "
            "either map replaces the region.")


DOCUMENT_WORDS = 80
"""Words of a clicked document the page shows."""


def example_figures(paths: dict[str, Path], index: int
                    ) -> tuple[go.Figure | None, go.Figure, str, str | None] | None:
    """One test example: its image (None for a document, or when a bundle of other data has none), the
    class probabilities of every model that predicted it, a caption, and a document's first
    :data:`DOCUMENT_WORDS` words (None for an image); None if the first model has no example ``index``
    (an index clicked on another dataset).

    Models of a project dataset share its test split; a bundle of other data shares its rows with
    another file only if their labels agree.
    """
    chosen = {side: sources.source(path) for side, path in paths.items()}
    first = next(iter(chosen.values()))
    outputs = {side: cache.outputs(c.path, c.dataset) for side, c in chosen.items()}
    labels = next(iter(outputs.values()))["labels"]
    if not 0 <= index < len(labels):
        return None
    same = {side for side, out in outputs.items() if np.array_equal(out["labels"], labels)}
    label = first.class_names[int(labels[index])]
    probs = {c.name(side): outputs[side]["probs"][index] for side, c in chosen.items() if side in same}
    caption = f"Test example #{index}, label {label}."
    if len(same) < len(chosen):
        caption += " The other model's rows are other examples: its probabilities are left out."
    if domain_of(first.dataset) == "text":
        words = cache.test_split(first.dataset).texts[index].split()
        more = f" … ({len(words) - DOCUMENT_WORDS} more words)" if len(words) > DOCUMENT_WORDS else ""
        caption += " The document as the models read it: lowercased, letters only."
        return None, probability_bars(probs, list(first.class_names)), caption, \
            " ".join(words[:DOCUMENT_WORDS]) + more
    if first.dataset != OWN_DATA:
        image = cache.test_split(first.dataset).x[index].permute(1, 2, 0).squeeze(-1).numpy()
    else:
        images = next(iter(outputs.values()))["images"]
        image = None if images is None else _channels_last(images[index])
    row = None if image is None else image_row([image], [f"#{index}: {label}"])
    return row, probability_bars(probs, list(first.class_names)), caption, None


def _channels_last(image: np.ndarray) -> np.ndarray:
    """A bundle's image, (H, W) or (C, H, W), as the figures take it: (H, W) or (H, W, 3)."""
    if image.ndim == 2:
        return image
    return image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
