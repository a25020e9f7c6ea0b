"""The app's page guide: every page once, in navigation order, with what a browser sees of it.

Home builds its navigation and its list of pages from :data:`PAGES`; the tests and the page-speed
benchmark visit the same list. No Streamlit here, so a benchmark can read it without starting one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from explorer.core._io import PAGES_DIR

PLOT = ".js-plotly-plot"
"""A drawn plotly figure."""
PLOT_WITH_LEGEND = ".js-plotly-plot .legend .traces"
"""A drawn plotly figure with named traces: Home's map, not the placeholder drawn while it loads."""
FORM_SUBMIT = '[data-testid="stFormSubmitButton"]'


@dataclass(frozen=True)
class PageInfo:
    """One page of ``pages/``.

    Attributes:
        name: the script's stem, which is also the page's URL path (``/latent_space``).
        title: its name in the navigation.
        heading: the title the page draws (its ``st.title``).
        icon: a Material icon for the navigation.
        summary: one line for Home's list of pages.
        main: CSS selector of the element that shows the page has drawn its content.
        needs_models: the page shows models A and B from the sidebar.
    """

    name: str
    title: str
    heading: str
    icon: str
    summary: str
    main: str = PLOT
    needs_models: bool = True

    @property
    def script(self) -> Path:
        return PAGES_DIR / f"{self.name}.py"

    @property
    def script_from_home(self) -> str:
        """The page's script relative to ``explorer/Home.py``, as ``AppTest.switch_page`` takes it
        (``../pages/<name>.py`` in a checkout)."""
        return os.path.relpath(self.script, Path(__file__).resolve().parents[1])


HOME = PageInfo("", "Home", "vc-explorer", ":material/home:", "the idea, and model A's latent map",
                main=PLOT_WITH_LEGEND, needs_models=False)
PAGES = (
    PageInfo("lesson", "Lesson", "Lesson: what a softmax layer assumes", ":material/school:",
             "six steps through the mismatch and what VC changes, on the shipped d = 2 models",
             needs_models=False),  # it picks its own models: the shipped d = 2 pair
    PageInfo("train", "Train", "Train a model", ":material/model_training:",
             "train a softmax or VC model live and watch its latents move", main=FORM_SUBMIT,
             needs_models=False),
    PageInfo("latent_space", "Latent space", "Latent space", ":material/scatter_plot:",
             "the latents of models A and B against the Gaussians their last layers assume, with a χ² check"),
    PageInfo("calibration", "Calibration", "Calibration", ":material/straighten:",
             "reliability diagrams, calibration metrics, temperature scaling, calibration under shift"),
    PageInfo("adversarial", "Adversarial", "Adversarial examples", ":material/bolt:",
             "FGSM and PGD examples, the latent's path under attack, robust accuracy against ε"),
    PageInfo("shift", "Shift, low data, OOD", "Shift, low data and out-of-distribution", ":material/trending_down:",
             "corruptions of growing severity, training on 1-100 % of the data, out-of-distribution scores"),
)
"""Every page but Home, in navigation order."""


def page(name: str) -> PageInfo:
    """The page called ``name`` (Home is ``""``)."""
    for info in (HOME, *PAGES):
        if info.name == name:
            return info
    raise KeyError(f"no page {name!r}; pages: {', '.join(p.name for p in PAGES)}")
