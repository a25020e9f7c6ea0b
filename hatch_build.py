"""Hatchling's build hook: the project's files that the package reads beside it go into a wheel.

The app's pages, the shipped checkpoints and maps, the report's raw numbers and the app's Streamlit
settings stay in the repository's top-level folders. A wheel carries copies of them in
``explorer/_shipped`` (``explorer.core._io.PROJECT_DIR`` finds them there); an editable install reads
them where they are, so it gets no copy (hatchling's own ``force-include`` would copy them into it too).
The mapping is ``[tool.hatch.build.targets.wheel.hooks.custom.shipped]`` in ``pyproject.toml``.
"""

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class ShippedFiles(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if version != "editable":
            build_data["force_include"].update(self.config["shipped"])
