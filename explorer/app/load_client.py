"""A client of a running app server that speaks Streamlit's own protocol, without a browser.

A browser's Streamlit front end talks to the server over one websocket, ``/_stcore/stream``: it sends
``BackMsg`` protobufs (``rerun_script`` with a ``ClientState``: the query string and the page) and
receives ``ForwardMsg`` protobufs (the ``navigation``, the deltas that draw elements, and
``script_finished`` when a run has ended). :class:`Session` does the same, so that many simulated
users cost the machine a few protobufs each instead of a browser each, and what is timed is the
server alone: from the request of a page to the end of its script run. The classroom benchmark
(``benchmarks/bench_classroom.py``) and the test that opens sessions of a fresh server at once
(``tests/app/test_load_client.py``) share it.

Widgets are not touched: each visit asks for a page as a click on the navigation does, with no
widget states, so every page draws its defaults (the sidebar's choices are the session's own, as a
browser keeps them from page to page).
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from dataclasses import dataclass

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

VISIT_TIMEOUT = 300.0
"""Seconds a visit may take before it counts as failed: a fresh server on a busy machine takes tens."""

# A run ends with one of these; FINISHED_EARLY_FOR_RERUN is followed by the run that replaces it
# (``st.rerun()``, a callback), so it does not end a visit.
_ENDED = {ForwardMsg.FINISHED_SUCCESSFULLY: "finished", ForwardMsg.FINISHED_WITH_COMPILE_ERROR: "compile error"}


@dataclass(frozen=True)
class Visit:
    """One page requested and drawn.

    Attributes:
        page: the page's URL path (``""`` for Home, ``"latent_space"``, ...).
        seconds: from sending the request to the run's ``script_finished`` message (or to the failure).
        errors: what the page showed as an error: an exception element (``"ExceptionType: message"``
            and the innermost line of its traceback),
            an alert of the error format, a page the server did not find; or why the visit failed
            (the connection closed, a timeout, a compile error).
        elements: how many elements the run sent (a page that drew nothing is suspect too).
        finished: whether the run's end arrived (not a closed connection or a timeout).
    """

    page: str
    seconds: float
    errors: tuple[str, ...]
    elements: int
    finished: bool = True

    @property
    def ok(self) -> bool:
        return not self.errors


def stream_url(base: str) -> str:
    """The websocket address of the app at ``base`` (``http://host:port[/path]``)."""
    parts = urllib.parse.urlsplit(base)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urllib.parse.urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/_stcore/stream", "", ""))


def errors_in(msg: ForwardMsg) -> list[str]:
    """The errors one ``ForwardMsg`` shows: an exception element, an error alert, a page not found."""
    kind = msg.WhichOneof("type")
    if kind == "page_not_found":
        return [f"page not found: {msg.page_not_found.page_name!r}"]
    if kind != "delta" or msg.delta.WhichOneof("type") != "new_element":
        return []
    element = msg.delta.new_element
    which = element.WhichOneof("type")
    if which == "exception" and not element.exception.is_warning:
        where = element.exception.stack_trace[-1].strip() if element.exception.stack_trace else ""
        return [f"{element.exception.type}: {element.exception.message}" + (f" ({where})" if where else "")]
    if which == "alert" and element.alert.format == Alert.ERROR:
        return [f"error message: {element.alert.body}"]
    return []


class Session:
    """One user's session of the app, over one websocket; use as ``async with Session(base) as s``.

    ``pages`` maps each page's URL path to its script hash, learned from the server's ``navigation``
    message (so after the first visit).
    """

    def __init__(self, base: str, timeout: float = VISIT_TIMEOUT):
        self.url = stream_url(base)
        self.timeout = timeout
        self.pages: dict[str, str] = {}
        self._socket: ClientConnection | None = None

    async def __aenter__(self) -> Session:
        # max_size=None: a figure's message can be megabytes (the server's own bound applies).
        # ping_interval=None: a browser answers the server's keepalive pings and sends none of its own;
        # a busy server answers its clients' pings late and they would close the connection.
        self._socket = await connect(self.url, subprotocols=["streamlit"], max_size=None, ping_interval=None,
                                     open_timeout=self.timeout)
        return self

    async def __aexit__(self, *exc) -> None:
        await self._socket.close()

    async def visit(self, page: str = "", query: str = "") -> Visit:
        """Ask for ``page`` (a URL path; ``""``: Home) with ``query`` (``"dataset=mnist"``) as a click
        on the navigation does; return once its run has finished, with what it showed as errors."""
        request = BackMsg()
        request.rerun_script.query_string = query
        request.rerun_script.page_name = page
        if page in self.pages:
            request.rerun_script.page_script_hash = self.pages[page]
        errors: list[str] = []
        elements, finished = 0, False
        started = time.perf_counter()
        try:
            await self._socket.send(request.SerializeToString())
            async with asyncio.timeout(self.timeout):
                while True:
                    msg = ForwardMsg()
                    msg.ParseFromString(await self._socket.recv())
                    kind = msg.WhichOneof("type")
                    errors += errors_in(msg)
                    if kind == "delta":
                        elements += 1
                    elif kind == "navigation":
                        self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
                    elif kind == "script_finished" and msg.script_finished in _ENDED:
                        if msg.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                            errors.append(_ENDED[msg.script_finished])
                        finished = True
                        break
        except TimeoutError:
            errors.append(f"no end of the run within {self.timeout:.0f} s")
        except (OSError, WebSocketException) as error:  # refused, closed, or not a websocket
            errors.append(f"connection: {error!r}")
        return Visit(page, time.perf_counter() - started, tuple(errors), elements, finished)


async def walk(base: str, pages: list[str], query: str = "", timeout: float = VISIT_TIMEOUT) -> list[Visit]:
    """One user: a session that opens each of ``pages`` (URL paths, ``""``: Home) in turn, until one
    does not finish (its connection is gone). A session that cannot connect returns one unfinished
    visit of the first page."""
    started = time.perf_counter()
    visits: list[Visit] = []
    try:
        async with Session(base, timeout) as session:
            for page in pages:
                visits.append(await session.visit(page, query))
                if not visits[-1].finished:
                    break
    except (OSError, TimeoutError, WebSocketException) as error:
        if not visits:
            visits.append(Visit(pages[0], time.perf_counter() - started, (f"connection: {error!r}",), 0, False))
    return visits


async def class_of(base: str, students: int, pages: list[str], arrive_within: float = 0.0, query: str = "",
                   timeout: float = VISIT_TIMEOUT) -> list[list[Visit]]:
    """``students`` users who arrive evenly spread over ``arrive_within`` seconds, each walking
    ``pages`` (:func:`walk`); one list of visits per student, in order of arrival."""
    async def student(i: int) -> list[Visit]:
        await asyncio.sleep(arrive_within * i / max(students - 1, 1))
        return await walk(base, pages, query, timeout)

    return list(await asyncio.gather(*(student(i) for i in range(students))))
