"""Shift, low data and out-of-distribution: models A and B under conditions they were not trained for."""

import streamlit as st

from explorer.app import cache, sources, state
from explorer.app.views import shift as view
from explorer.core.config import N_BINS
from explorer.core.data import OWN_DATA, domain_of
from explorer.core.errors import ExplorerError
from explorer.figures import accuracy_vs, score_histograms
from explorer.measure.corruptions import corruptions_for
from explorer.measure.intervals import N_RESAMPLES
from explorer.measure.ood import SCORES

st.title("Shift, low data and out-of-distribution")
selected = state.models_or_stop()
dataset = selected.dataset
try:
    chosen = {"A": sources.source(selected.model_a), "B": sources.source(selected.model_b)}
    paths = {side: c.path for side, c in chosen.items()}
    n_test = len(cache.outputs(chosen["A"].path, dataset)["labels"]) if dataset == OWN_DATA \
        else len(cache.test_split(dataset).y)  # every tab needs it: say now, once, if it is missing
except ExplorerError as error:
    st.error(str(error))
    st.stop()
names = {side: c.name(side) for side, c in chosen.items()}
# The sides that are models: corruptions and training run the model, which a bundle does not hold.
models = {side: c for side, c in chosen.items() if not c.is_bundle}
# Only the open tab runs: each one computes for seconds on a large test split.
shift_tab, low_tab, ood_tab = st.tabs(["Distribution shift", "Low data", "Out-of-distribution"],
                                      key=state.SHIFT_TAB, on_change="rerun")
sample = min(n_test, view.SHIFT_POINTS)
rows = f"test {view.examples(dataset)}"
drawn = f"{sample} {rows} drawn with seed {selected.seed}" if sample < n_test else "the test split"


def _bundles_say(what: str) -> None:
    for side, c in chosen.items():
        if c.is_bundle:
            sources.needs_model(f"Model {side}", c, what)


def shift() -> None:
    domain = domain_of(dataset)
    corruptions = st.multiselect("Corruptions", corruptions_for(domain), default=view.DEFAULT_CORRUPTIONS[domain])
    measure = st.radio("Measure", ["accuracy", "ece"], horizontal=True,
                       format_func={"accuracy": "accuracy", "ece": f"ECE ({N_BINS} bins)"}.get)
    st.caption(f"On {drawn}, severities 1-5 (0: clean); corrupted with seed {selected.seed}, the same "
               f"{view.examples(dataset)} for both models." + view.corruption_note(dataset))
    _bundles_say("corruptions")
    if not models:
        return
    bar = st.progress(0.0)
    columns = st.columns(2)
    for i, corruption in enumerate(corruptions):
        curves = {names[side]: cache.shift_curve(c.path, dataset, corruption, view.SHIFT_POINTS, selected.seed)
                  for side, c in models.items()}
        series = {name: curve[measure] for name, curve in curves.items()}
        severities = next(iter(curves.values()))["severity"]  # 0 (clean), then 1-5
        bar.progress((i + 1) / len(corruptions), text=f"{corruption} done")
        columns[i % 2].plotly_chart(accuracy_vs(severities, series, "severity", measure,
                                                title=corruption.replace("_", " ")), width="stretch")
    bar.empty()


def low_data() -> None:
    _bundles_say("training runs")
    if not models:
        return
    if dataset != "digits":
        st.info("Live low-data training is offered on digits. For other datasets, train checkpoints with "
                "`python -m explorer train --train-fraction F` and compare them in the sidebar.")
    else:
        which = "models A and B" if len(models) == 2 else f"model {next(iter(models))}"
        st.markdown(f"Trains {which} " + view.LOW_DATA_NOTE.format(seed=selected.seed))
        if st.button("Train and compare", type="primary"):
            bar = st.progress(0.0)
            try:
                rows, seconds = view.train_low_data({names[side]: c.path for side, c in models.items()},
                                                    selected.seed, bar)
            except ExplorerError as error:
                st.error(str(error))
                return
            bar.empty()
            st.caption(f"{len(models) * len(view.FRACTIONS)} runs in {seconds:.0f} s (runs trained before are "
                       "remembered).")
            for column, measure in zip(st.columns(2), ("accuracy", "ece")):
                column.plotly_chart(accuracy_vs([100 * f for f in view.FRACTIONS],
                                                {n: [r[measure] for r in rs] for n, rs in rows.items()},
                                                "training data used (%)", measure, log_x=True), width="stretch")


def out_of_distribution() -> None:
    st.caption(view.ood_caption(dataset, drawn, selected.seed, bundles=len(models) < len(chosen)))
    table_area = st.container()  # filled last, shown first
    map_columns, histogram_columns = st.columns(2), st.columns(2)
    shown = histogram_columns[0].multiselect("Score histograms", list(SCORES), default=list(view.HISTOGRAMS),
                                             format_func=SCORES.get)
    rows, scored = [], {}
    for map_column, column, (side, path) in zip(map_columns, histogram_columns, paths.items()):
        try:
            results = cache.ood(path, dataset, view.SHIFT_POINTS, selected.seed, selected.implied)
            rows += view.ood_rows(names[side], cache.ood_intervals(path, dataset, view.SHIFT_POINTS, selected.seed,
                                                                   selected.implied))
            scored[names[side]] = path
        except ExplorerError as error:
            map_column.error(f"Model {side}: {error}")
            continue
        for score in (s for s in shown if s in results):
            result = results[score]
            column.plotly_chart(score_histograms(result["in"], result["out"], SCORES[score], auroc=result["auroc"],
                                                 title=f"{names[side]}: {SCORES[score]}"), width="stretch")
        try:
            figure, placement = view.ood_map(path, dataset, view.SHIFT_POINTS, selected.seed, selected.implied,
                                             f"{names[side]}: OOD latents over its class Gaussians")
        except ExplorerError as error:
            map_column.info(f"Model {side}: {error}")
            continue
        map_column.plotly_chart(figure, width="stretch")
        map_column.caption(placement)
    if rows:
        frame, height = view.ood_table(rows)
        table_area.dataframe(frame, width="stretch", height=height)
        table_area.caption(view.ood_table_note(N_RESAMPLES, selected.seed, scored, selected.implied))


for tab, draw in ((shift_tab, shift), (low_tab, low_data), (ood_tab, out_of_distribution)):
    if tab.open:
        with tab:
            draw()
