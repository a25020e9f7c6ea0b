"""The Train page's logic: runs submitted to the server's training queue, their places and progress,
and the finished run's curves and latent replay.

Streamlit stops a script run at its next UI update when the user leaves the page or touches a widget,
so no run trains in a script run: it goes to the server's queue (:mod:`explorer.jobs.training_queue`,
one per server in :func:`explorer.app.cache.training_queue`), whose worker threads train it and save it
after every epoch whether or not its session still watches. The session keeps its runs' ids; the page
asks the queue about them in a fragment that reruns alone every :data:`POLL_SECONDS`.
"""

from __future__ import annotations

import secrets

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from explorer.app import cache, state
from explorer.core.config import ModelConfig, TrainConfig, default_configs
from explorer.core.implied import fit_implied
from explorer.core.models import LinearHead
from explorer.figures import latent_scatter, training_curves
from explorer.jobs.limits import Limits
from explorer.jobs.training_queue import FAILED, QUEUED, RUNNING, JobStatus
from explorer.measure.latents import gaussian_ellipse


def defaults(dataset: str) -> tuple[ModelConfig, TrainConfig]:
    """The form's defaults for ``dataset``: :func:`default_configs` with the default method."""
    return default_configs(dataset, ModelConfig.method)


def field_key(dataset: str, name: str) -> str:
    """Session key of one form field; per dataset, so that switching datasets brings its defaults."""
    return f"{state.TRAIN_FIELD}:{dataset}:{name}"


POLL_SECONDS = 2.0
"""How often the queue panel asks the queue for news while one of the session's runs is queued or running."""


def limits() -> Limits:
    """The server's limits (:mod:`explorer.jobs.limits`), which the form's widgets take as their bounds."""
    return cache.training_queue().limits


def submit(dataset: str, model_config: ModelConfig, train_config: TrainConfig) -> str:
    """Queue a run on ``dataset`` for this session and remember its id; returns the id.

    Raises ``DatasetUnavailableError`` (files missing offline) and ``ArgumentError`` (a setting over
    the server's limits, a full queue, an unwritable user folder) before anything is queued.
    """
    queue = cache.training_queue()
    queue.limits.check(model_config, train_config)  # before loading the data, which may take seconds
    owner = st.session_state.setdefault(state.TRAIN_OWNER, secrets.token_hex(8))
    data, test = cache.train_split(dataset), cache.test_split(dataset)
    job_id = queue.submit(owner, data, test, model_config, train_config)
    st.session_state[state.TRAIN_JOBS] = [*st.session_state.get(state.TRAIN_JOBS, []), job_id]
    return job_id


def session_jobs() -> list[JobStatus]:
    """This session's runs that the queue still knows, in the order they were submitted."""
    queue = cache.training_queue()
    found = (queue.status(job_id) for job_id in st.session_state.get(state.TRAIN_JOBS, []))
    return [job for job in found if job is not None]


def settle(jobs: list[JobStatus]) -> bool:
    """Take note of the session's runs that finished since the last look: the last one with a saved
    epoch becomes the run the page shows (:data:`state.TRAIN_RESULT`). Returns whether any run had
    finished since the last look."""
    seen = st.session_state.setdefault(state.TRAIN_SETTLED, [])
    new = [job for job in jobs if job.finished and job.id not in seen]
    for job in new:
        seen.append(job.id)
        if job.summary is not None:
            st.session_state[state.TRAIN_RESULT] = {**job.summary, "outcome": job.state}
    return bool(new)


def _duration(seconds: float) -> str:
    """A rough duration for a person: "about 40 s", "about 3 min"."""
    if seconds < 60:
        return f"about {max(1, round(seconds))} s"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def describe(job: JobStatus) -> str:
    """One line on where a run stands: its place and estimated start, or its progress."""
    what = f"{job.method} on {job.dataset} ({job.encoder}, {job.epochs} epochs)"
    basis = "from runs finished on this server" if job.measured else "a first guess: no such run has finished here yet"
    if job.state == QUEUED:
        start = "next" if job.place == 1 else f"number {job.place} in the queue"
        return (f"**Waiting:** {what}, {start}; starts in {_duration(job.wait)} and takes "
                f"{_duration(job.remaining)} ({basis}).")
    if job.state == RUNNING:
        text = f"**Training:** {what}, epoch {job.epoch or 1} of {job.epochs}"
        if job.steps:
            text += f", step {job.step} of {job.steps}"
        return f"{text}; {_duration(job.remaining)} left."
    return f"**{job.state.capitalize()}:** {what}."


def _progress(job: JobStatus) -> float:
    if not job.steps:
        return 0.0
    return min(1.0, (job.epoch - 1 + job.step / job.steps) / job.epochs)


def _panel() -> None:
    """The session's queued and running runs, with Cancel; a run that ends reruns the whole page."""
    jobs = session_jobs()
    if settle(jobs):
        st.rerun()  # the whole page: the finished run below, and the sidebar with its file
    for job in jobs:
        if job.state == FAILED and job.id == jobs[-1].id:
            st.error(f"The last run failed: {job.error}")
        if job.finished:
            continue
        with st.container(border=True):
            st.markdown(describe(job))
            if job.state == RUNNING:
                st.progress(_progress(job))
                if job.history:
                    st.plotly_chart(training_curves(job.history, job.summary["class_names"], title="Training so far"),
                                    width="stretch", key=f"live-curves-{job.id}-{len(job.history)}")
            st.button("Cancel", key=f"cancel-{job.id}", on_click=cache.training_queue().cancel, args=(job.id,),
                      help="A waiting run leaves the queue; a running one stops at its next step and keeps "
                           "the epochs it has saved.")


def show_queue() -> None:
    """Draw the queue panel: a fragment that asks the queue every :data:`POLL_SECONDS` while one of
    the session's runs is queued or running, so that no widget of the page stops or waits for a run."""
    active = any(not job.finished for job in session_jobs())
    st.fragment(_panel, run_every=POLL_SECONDS if active else None)()


def last_run() -> dict | None:
    """The session's last finished run with a saved epoch (see :meth:`EpochSaver.summary`), or None."""
    settle(session_jobs())
    return st.session_state.get(state.TRAIN_RESULT)


def replay_figure(run: dict, epoch: int) -> go.Figure:
    """The snapshot latents (d = 2) after ``epoch`` (0 = initialisation), with that epoch's 1σ and 2σ
    class ellipses, on axes fixed over the whole run so that the movement shows. A softmax run's are
    the member of its layer's implied family fitted to these latents (:mod:`explorer.core.implied`)."""
    z, labels = run["snapshots"][epoch], run["snapshot_labels"]
    means, covariances = run["means"][epoch], np.array([np.diag(v) for v in run["variances"][epoch]])
    kind = "learnt by the head"
    if run["method"] == "softmax":  # the recorded means are the centred weight rows: all the fit needs of W
        layer = LinearHead(means.shape[1], len(means)).double()
        with torch.no_grad():
            layer.linear.weight.copy_(torch.from_numpy(np.asarray(means, dtype=np.float64)))
        member = fit_implied(layer, z, labels, fitted_on=f"these {len(z)} latents")
        means, covariances = member.class_means().numpy(), member.covariances().numpy()
        kind = f"implied by the linear layer ({member.description})"
    ellipses = [(k, s, gaussian_ellipse(means[k], covariances[k], s))
                for k in range(len(means)) for s in (1.0, 2.0)]
    figure = latent_scatter(
        z, labels, run["class_names"], ellipses=ellipses,
        title=f"{run['method']}, epoch {epoch} of {run['epochs_done']}",
        note=f"{len(z)} validation points, the same at every epoch. Ellipses: 1σ and 2σ of each class "
             f"Gaussian {kind} at that epoch.")
    low, high = run["snapshots"].min(axis=(0, 1)), run["snapshots"].max(axis=(0, 1))
    margin = 0.05 * (high - low) + 1e-6
    figure.update_xaxes(range=[low[0] - margin[0], high[0] + margin[0]])
    figure.update_yaxes(range=[low[1] - margin[1], high[1] + margin[1]])
    return figure


def use_as(key: str, run: dict) -> None:
    """Button callback (runs before the sidebar is drawn): choose the run as model A or B."""
    cache.checkpoints.clear()
    st.session_state[state.DATASET] = run["dataset"]
    st.session_state[key] = run["path"]
