"""Calibration: reliability of models A and B, clean and under corruption, every metric with its
interval, and the post-hoc recalibrations; a bin chosen on a diagram rings its test examples on both
latent maps."""

from functools import partial

import streamlit as st

from explorer.app import sources, state
from explorer.app.views import calibration as view
from explorer.core.config import DEFAULT_SEVERITY, N_BINS
from explorer.core.errors import ExplorerError
from explorer.measure.corruptions import LEVELS

st.title("Calibration")
selected = state.models_or_stop()

controls = st.columns(3)
n_bins = controls[0].slider("Bins", 5, 50, N_BINS, help="Equal-width confidence bins for the diagrams, "
                            "ECE, MCE and classwise ECE; equal-mass bins for adaptive ECE.")
fix = controls[0].selectbox("Recalibration", list(view.FIXES), format_func=view.FIXES.get,
                            help="A post-hoc map from each model's outputs to new probabilities, fitted on the "
                                 "model's own validation split (never the test split); for a bundle, on its "
                                 "val_logits and val_labels. The diagrams show the recalibrated predictions, "
                                 "the tables both.")
corruption = controls[1].selectbox("Corruption", view.corruption_choices(selected.dataset),
                                   help="Applied to the test examples before prediction: images' pixels in "
                                        "[0, 1], or documents' words.")
severity = controls[2].slider("Severity", min(LEVELS), max(LEVELS), DEFAULT_SEVERITY,
                              disabled=corruption == view.CLEAN)
shift = view.Shift(None if corruption == view.CLEAN else corruption, severity, selected.seed)
st.caption(f"Measured on the {shift.describe()}."
           + (" The seed is the sidebar's." if shift.corruption else ""))

# both: the bin's maps show both models, even a bundle that a corruption leaves out of the diagrams
models = both = [("Model A", selected.model_a), ("Model B", selected.model_b)]
try:
    if shift.corruption:  # a corruption runs the model on corrupted images: a bundle has only its outputs
        for name, path in models:
            if (chosen := sources.source(path)).is_bundle:
                sources.needs_model(name, chosen, "corruptions")
        models = [(name, path) for name, path in models if not sources.source(path).is_bundle]
        if not models:
            st.stop()
    preds = [view.predictions(path, name, shift, fix) for name, path in models]
    choices = view.bin_choices(preds, n_bins)
    options = list(choices)
    chosen = state.chosen_bin(selected.pair, n_bins, options)
    for column, pred in zip(st.columns(2), preds):
        column.plotly_chart(view.reliability_figure(pred, n_bins, chosen), width="stretch",
                            key=state.reliability_key(pred.side), on_select=partial(view.on_bin_click, pred.side),
                            selection_mode="points")
    if (fitted := view.fitted_caption(preds)) is not None:
        st.caption(fitted)
    st.caption(view.DIAGRAM_CAPTION)
    chosen = st.selectbox("Highlight a bin's test points", options, key=state.CALIBRATION_BIN,
                          format_func=choices.get)
    if chosen is not None:
        caption, maps = view.bin_maps(both, preds, chosen, n_bins, shift, selected.seed)
        st.caption(caption)
        for column, shown in zip(st.columns(2), maps):
            if shown.figure is None:
                column.info(shown.message)
            else:
                column.plotly_chart(shown.figure, width="stretch", key=f"bin_map_{shown.side}")

    st.subheader("Smoothed reliability")
    for column, pred in zip(st.columns(2), preds):
        column.plotly_chart(view.smooth_figure(pred), width="stretch", key=f"smooth_{pred.side}")
    st.caption(view.SMOOTH_CAPTION)

    st.subheader("Metrics")
    # with a fix: each model before it, then the fixed predictions already made for the diagrams
    shown = [p for (name, path), fixed in zip(models, preds) for p in (view.predictions(path, name, shift), fixed)
             ] if fix else preds
    long = view.intervals(shown, n_bins)
    per_model, differences = view.shown_intervals(long)
    st.dataframe(per_model, width="stretch")
    if len(differences.columns):
        st.dataframe(differences, width="stretch")
    st.caption(view.interval_caption(len(preds[0].labels)))
    if fix:
        st.subheader("What a recalibration can change")
        for column, figure in zip(st.columns(2), view.decomposition_figures(shown)):
            column.plotly_chart(figure, width="stretch")
        st.caption(view.DECOMPOSITION_CAPTION)
    downloads = st.columns(2)
    downloads[0].download_button("Metrics with intervals (CSV)", view.csv(long, shift), "calibration_metrics.csv",
                                 "text/csv")
    downloads[1].download_button("Reliability bins (CSV)", view.csv(view.bins_table(preds, n_bins), shift),
                                 "reliability_bins.csv", "text/csv")

    st.subheader("Confidence")
    st.plotly_chart(view.confidence_figure(preds, n_bins), width="stretch")

    st.subheader("Abstention")
    figure, table = view.abstention(preds)
    st.plotly_chart(figure, width="stretch", key="abstention")
    st.dataframe(table, width="stretch")
    st.caption(view.ABSTENTION_CAPTION)

    st.subheader("Prediction sets")
    settings = st.columns(2)
    alpha = settings[0].selectbox("α (miscoverage)", view.ALPHAS, index=view.ALPHAS.index(0.1),
                                  help="Sets meant to hold the true class for a share 1 − α of test examples.")
    score = settings[1].selectbox("Conformity score", list(view.SCORE_NAMES), format_func=view.SCORE_NAMES.get,
                                  help="How unusual each class is for an example: LAC 1 − p_y; APS the probability "
                                       "of the classes ranked above y and a random share of p_y; RAPS also "
                                       "penalises classes ranked low.")
    found, left_out, warnings, empties = view.set_coverages(models, shift, alpha, score)
    for line in left_out:
        st.info(line)
    for line in warnings:
        st.warning(line)
    if found:
        classes = sources.source(models[0][1]).class_names
        for column, figure in zip(st.columns(2), view.set_figures(found, alpha, classes)):
            column.plotly_chart(figure, width="stretch")
        st.caption(view.sets_caption(alpha, score, shift) + (" " + " ".join(empties) if empties else ""))
except ExplorerError as error:
    st.error(str(error))
