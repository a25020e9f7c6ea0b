"""Lesson: six steps through the mismatch, each a few sentences and live figures of the shipped d = 2
models, with a link to the full page on the same models."""

import streamlit as st

from explorer.app import guide, sidebar, state
from explorer.app.views.lesson import steps
from explorer.app.views.lesson.bundle import bundle
from explorer.app.views.lesson.choice import lesson_for
from explorer.core.errors import ExplorerError

st.title(guide.page("lesson").heading)
selected = state.selection()
lesson = lesson_for(selected.dataset, selected.seed)
if lesson is None:
    st.info("The lesson needs the shipped models with d = 2 (checkpoints/), and none were found.")
    st.stop()
st.caption(lesson.note)


def move(by: int) -> None:
    st.session_state[state.LESSON_STEP] = (st.session_state.get(state.LESSON_STEP, 0) + by) % len(steps.STEPS)


def picked() -> None:
    st.session_state[state.LESSON_STEP] = st.session_state[state.LESSON_PICKER]


# The step lives in a key of no widget: Streamlit drops a widget's key on a page that does not draw it,
# and a teacher who follows a step's link comes back to the same step.
st.session_state[state.LESSON_PICKER] = st.session_state.setdefault(state.LESSON_STEP, 0)
number = st.segmented_control("Step", range(len(steps.STEPS)), key=state.LESSON_PICKER, required=True,
                              on_change=picked, format_func=lambda i: f"{i + 1}. {steps.TITLES[i]}")
try:
    with st.spinner("Measuring…"):
        step = steps.STEPS[number](lesson)
except ExplorerError as error:
    st.error(str(error))
    st.stop()
st.subheader(f"{number + 1}. {step.title}")
st.markdown(step.text)
for row in range(0, len(step.figures), 2):
    for column, figure in zip(st.columns(2), step.figures[row: row + 2]):
        column.plotly_chart(figure, width="stretch")
if step.table is not None:
    st.dataframe(step.table, width="stretch")
st.page_link(str(guide.page(step.page).script), label=step.link_label, icon=guide.page(step.page).icon,
             query_params=sidebar.link(lesson.dataset, lesson.softmax, lesson.vc))
left, right = st.columns(2)
left.button("← Previous step", on_click=move, args=(-1,), disabled=number == 0)
right.button("Next step →", on_click=move, args=(1,), disabled=number == len(steps.STEPS) - 1)

st.divider()
# Built on a click, not when the download starts: a failure is then a message here, not a broken download.
made_for = (lesson.dataset, lesson.softmax, lesson.vc, lesson.seed)
if st.button("Prepare the lesson bundle (zip): metrics CSV, every figure as an offline HTML file, a summary",
             help="Every step is measured (a few seconds); then a download button appears."):
    try:
        with st.spinner("Measuring every step…"):
            st.session_state[state.LESSON_BUNDLE] = (made_for, bundle(lesson))
    except (ExplorerError, OSError) as error:
        st.error(f"The lesson bundle could not be made: {error}")
prepared = st.session_state.get(state.LESSON_BUNDLE)
if prepared is not None and prepared[0] == made_for:
    st.download_button("Download the lesson bundle", prepared[1], f"vc-explorer-lesson-{lesson.dataset}.zip",
                       "application/zip", on_click="ignore", type="primary")
