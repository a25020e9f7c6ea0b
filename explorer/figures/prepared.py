"""Figures drawn once and sent many times.

``st.plotly_chart`` turns a figure into its dict on every call: a plotly ``Figure`` gives a deep copy
of itself with every numpy array encoded again as base64 (a latent map or an animated replay: tens to
hundreds of milliseconds of CPU), and a plain dict is validated into a ``Figure`` first (more still).
An app that sends the same figure to every visitor pays that on every visit. A :class:`Prepared`
figure makes its dict once, when it is prepared, and hands out that dict from then on.

A prepared figure is read-only: what it sends was fixed when it was prepared, and a cache may hand the
same one to many users. Change the figure it was made from, then prepare it again.
"""

from __future__ import annotations

import plotly.graph_objects as go


class Prepared(go.Figure):
    """A plotly figure whose :meth:`to_dict` is computed once, at construction (``plotly.io.to_json``,
    ``st.plotly_chart`` and ``to_html`` all read it). Build it with :func:`prepare`."""

    def __init__(self, figure: go.Figure):
        # validated once, here, as st.plotly_chart would validate a dict on every send
        super().__init__(figure)
        self._sent = super().to_dict()

    def to_dict(self) -> dict:
        """The figure as plotly JSON's dict (arrays as base64 typed arrays), made at preparation.

        The top level and each trace are fresh dicts, so a caller that drops a key there (plotly's
        ``to_json`` pops every trace's ``uid``) leaves the prepared copy as it was; the values
        below them are shared and must not be changed."""
        sent = dict(self._sent)
        sent["data"] = [dict(trace) for trace in self._sent.get("data", [])]
        if "frames" in sent:
            sent["frames"] = [dict(frame) for frame in sent["frames"]]
        return sent


def prepare(figure: go.Figure | dict) -> Prepared:
    """``figure`` (a plotly ``Figure``, or a figure as a dict such as plotly JSON) as a :class:`Prepared`
    figure; a figure already prepared is returned as it is."""
    return figure if isinstance(figure, Prepared) else Prepared(figure)
