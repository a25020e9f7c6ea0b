"""Prepared figures (explorer/figures/prepared.py): sent as the figure they were made from, converted once."""

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import plotly.tools

from explorer.figures import latent_replay
from explorer.figures.prepared import Prepared, prepare


def _figure() -> go.Figure:
    rng = np.random.default_rng(0)
    figure = go.Figure(go.Scatter(x=rng.normal(size=500), y=rng.normal(size=500), mode="markers", name="z"))
    figure.update_layout(template="plotly_white", title="a map")
    return figure


def _sent(figure) -> dict:
    """What st.plotly_chart sends of a figure (streamlit/elements/plotly_chart.py), read back (the order of
    the keys may differ)."""
    spec = pio.to_json(plotly.tools.return_figure_from_figure_or_data(figure, validate_figure=True), validate=False)
    return json.loads(spec)


def test_a_prepared_figure_sends_what_its_figure_sends():
    figure = _figure()
    assert _sent(prepare(figure)) == _sent(figure)
    assert json.loads(prepare(figure).to_json()) == json.loads(figure.to_json())


def test_an_animated_figure_keeps_its_frames():
    snapshots = np.random.default_rng(1).normal(size=(3, 40, 2))
    figure = latent_replay(snapshots, np.arange(40) % 4, [str(k) for k in range(4)], title="replayed")
    prepared = prepare(figure)
    assert len(_sent(prepared)["frames"]) == 3
    assert _sent(prepared) == _sent(figure)


def test_a_figure_as_a_dict_is_prepared_as_its_figure():
    figure = _figure()
    assert _sent(prepare(json.loads(figure.to_json()))) == _sent(figure)


def test_the_dict_is_made_once_and_a_caller_dropping_a_key_does_not_change_it():
    prepared = prepare(_figure())
    first = prepared.to_dict()
    first["data"][0].pop("name")  # as plotly.io.to_json pops each trace's uid
    first.pop("layout")
    again = prepared.to_dict()
    assert again["data"][0]["name"] == "z" and "layout" in again
    assert again["data"][0]["x"] is first["data"][0]["x"]  # not copied again


def test_preparing_a_prepared_figure_returns_it():
    prepared = prepare(_figure())
    assert isinstance(prepared, Prepared) and prepare(prepared) is prepared
