"""Latent space: models A and B side by side, against the class Gaussians their last layers assume.

The maps and the χ² check are two fragments: a display option of one redraws that part alone. A click
on a map picks an example; a box or lasso picks a region, whose calibration is shown for both models.
"""

from functools import partial

import streamlit as st

from explorer.app import state
from explorer.app.views import latent_space as views
from explorer.core.config import ProjectionConfig, help_of
from explorer.core.errors import ExplorerError
from explorer.measure.latent_map import MAX_MARKERS, POINT_CHOICES

st.title("Latent space")
selected = state.models_or_stop()
models = [("Model A", selected.model_a), ("Model B", selected.model_b)]


@st.fragment
def latent_maps() -> None:
    controls = st.columns(6)
    color_by = controls[0].radio("Colour by", list(views.COLOR_BY), format_func=views.COLOR_BY.get,
                                 horizontal=True)
    zoom = controls[1].radio("Axes when d = 2", ["all latents", "the Gaussians"], horizontal=True,
                             help="Axes that fit the ellipses rather than the latents: under the Σ = I "
                                  "convention a softmax model's latents reach hundreds of σ beyond them."
                             ) == "the Gaussians"
    method = controls[2].radio("Projection when d > 2", ["pca", "umap"], horizontal=True,
                               help=f"{help_of(ProjectionConfig, 'method')}. With d = 2 the latents are drawn as "
                                    "they are.")
    with controls[3].expander("UMAP settings"):
        n_neighbors = st.slider("n_neighbors", 5, 100, ProjectionConfig.n_neighbors,
                                help=help_of(ProjectionConfig, "n_neighbors"))
        min_dist = st.slider("min_dist", 0.0, 0.99, ProjectionConfig.min_dist,
                             help=help_of(ProjectionConfig, "min_dist"))
    points = controls[4].selectbox(
        "Points drawn (at most)", POINT_CHOICES, format_func=lambda n: "all" if n is None else f"{n:,}",
        help="A seeded random sample of the test points when there are more. Maps from 5,000 points on are "
             f"drawn with WebGL; beyond {MAX_MARKERS:,}, a density image of all of them under a sample of "
             f"{MAX_MARKERS:,} markers.")
    coverage = controls[5].slider(
        "Coverage (%)", 50, 100, 100, step=5,
        help="Each model answers this share of the test points, those it is most confident on, and abstains "
             "on the rest, drawn grey (the same rule as the risk–coverage curve).") / 100
    projection = ProjectionConfig(method=method, n_neighbors=n_neighbors, min_dist=min_dist,
                                  seed=selected.seed)
    region = state.region(selected.pair)  # None when drawn on other models
    for column, (name, path) in zip(st.columns(2), models):
        try:
            ring = {"highlight": views.region_elsewhere(region, name, dict(models)),  # the other map's region
                    "highlight_label": f"{region['map']}'s region" if region else ""}
            with st.spinner("Placing the latents with UMAP (the first fit in a process compiles for a minute)…"
                            if method == "umap" else "Placing the latents…"):
                figure, keep = views.latent_figure(path, color_by, projection, selected.seed, name, zoom, points,
                                                   implied=selected.implied, coverage=coverage, **ring)
        except ExplorerError as error:
            column.error(f"{name}: {error}")
            continue
        # The callback reads the selection before the rerun, against the points this run drew.
        column.plotly_chart(figure, width="stretch", on_select=partial(views.on_map_select, name, keep,
                                                                       selected.pair, selected.dataset),
                            selection_mode=("points", "box", "lasso"), key=state.latent_map_key(name))
    st.caption("Click a point to see its example and both models' class probabilities; draw a box or a "
               "lasso (the toolbar's Box Select and Lasso Select) to see how both models are calibrated on "
               "the points inside it.")
    try:
        region_section(region)
    except ExplorerError as error:
        st.error(str(error))
    try:
        index = state.chosen_example(selected.dataset)  # None when clicked on another dataset
        shown = None if index is None else views.example_figures(dict(zip("AB", (p for _, p in models))), index)
        if shown is None:
            return
        image, probabilities, caption, document = shown
        st.subheader("The clicked example")
        st.caption(caption + (" The Adversarial page starts from it." if image is not None else
                              "" if document is not None else " This bundle has no images."))
        left, right = st.columns([1, 2])
        if image is not None:
            left.plotly_chart(image, width="stretch")
        if document is not None:
            left.markdown(f"> {document}")  # letters, spaces and the count of the rest: no markup
        right.plotly_chart(probabilities, width="stretch")
    except ExplorerError as error:
        st.error(str(error))


def region_section(region: dict | None) -> None:
    reports = None if region is None else views.region_reports(dict(models), region)
    if reports is None:
        return
    st.subheader("The selected region")
    st.caption(views.describe_region(region, dict(models)))
    for i, (column, report) in enumerate(zip(st.columns(2), reports)):
        if report.figure is None:
            column.info(report.message)
            continue
        column.markdown(f"**{report.name}**")
        metrics = column.columns(3)
        metrics[0].metric("points", f"{report.n:,}")
        metrics[1].metric("accuracy", f"{report.accuracy:.3f}", f"{report.accuracy - report.whole_accuracy:+.3f}")
        metrics[2].metric("ECE", f"{report.ece:.3f}", f"{report.ece - report.whole_ece:+.3f}", delta_color="inverse")
        column.plotly_chart(report.figure, width="stretch", key=f"region_{i}")
    st.button("Clear the selection", on_click=state.clear_region)


@st.fragment
def gaussian_check() -> None:
    st.subheader("Do the latents follow the assumed Gaussians?")
    st.markdown("If the latents of class *y* follow N(μ_y, Σ_y), their squared Mahalanobis "
                "distances r² follow a χ² distribution with d degrees of freedom (for a Student-t prior "
                "with ν degrees of freedom, d·F(d, ν)). The KS statistic measures the gap (0: a perfect "
                "fit, 1: none); at n latents, chance alone gives up to about 1.36/√n (5 %). A softmax "
                "model's Gaussians are those its linear layer implies, as the sidebar chooses: by default "
                "the member fitted to its validation latents.")
    try:
        class_names = views.class_names(selected.model_a)
    except ExplorerError as error:
        st.error(str(error))
        return
    class_index = st.selectbox("Class", range(len(class_names)), format_func=class_names.__getitem__)
    for column, (name, path) in zip(st.columns(2), models):
        try:
            figure, mean_ks = views.chi2_figure(path, class_index, selected.implied)
            norms = views.norm_figure(path, class_index)
        except ExplorerError as error:
            column.error(f"{name}: {error}")
            continue
        with column:
            st.metric(f"{name}: mean KS over classes", f"{mean_ks:.3f}")
            st.plotly_chart(figure, width="stretch", key=f"chi2_{name}")  # A and B may be one file
            st.plotly_chart(norms, width="stretch", key=f"norms_{name}")


latent_maps()
gaussian_check()
