"""The load client's reading of Streamlit's messages, on hand-built ForwardMsgs (a live server's
sessions are opened in tests/app/test_preload.py)."""

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from explorer.app.load_client import Visit, errors_in, stream_url


def test_the_stream_is_the_apps_websocket():
    assert stream_url("http://127.0.0.1:8501") == "ws://127.0.0.1:8501/_stcore/stream"
    assert stream_url("https://class.example.org/explorer/") == "wss://class.example.org/explorer/_stcore/stream"


def element(**fields) -> ForwardMsg:
    msg = ForwardMsg()
    for name, value in fields.items():
        getattr(msg.delta.new_element, name).CopyFrom(value)
    return msg


def test_an_exception_element_is_an_error_with_its_innermost_line():
    msg = ForwardMsg()
    exception = msg.delta.new_element.exception
    exception.type, exception.message = "AttributeError", "no attribute 'Series'"
    exception.stack_trace.extend(['File "a.py", line 1', 'File "b.py", line 2'])
    assert errors_in(msg) == ["AttributeError: no attribute 'Series' (File \"b.py\", line 2)"]
    exception.is_warning = True  # st.exception's warnings are not errors
    assert errors_in(msg) == []


def test_an_error_alert_is_an_error_and_other_alerts_are_not():
    assert errors_in(element(alert=Alert(body="The MNIST files are missing.", format=Alert.ERROR))) == [
        "error message: The MNIST files are missing."]
    for kind in (Alert.WARNING, Alert.INFO, Alert.SUCCESS):
        assert errors_in(element(alert=Alert(body="fine", format=kind))) == []


def test_a_page_not_found_is_an_error_and_other_messages_are_not():
    msg = ForwardMsg()
    msg.page_not_found.page_name = "nowhere"
    assert errors_in(msg) == ["page not found: 'nowhere'"]
    msg = ForwardMsg()
    msg.script_finished = ForwardMsg.FINISHED_SUCCESSFULLY
    assert errors_in(msg) == []
    msg = ForwardMsg()
    msg.delta.new_element.markdown.body = "text"
    assert errors_in(msg) == []


def test_a_visit_is_ok_without_errors():
    assert Visit("", 1.0, (), 3).ok and not Visit("lesson", 1.0, ("page not found: 'lesson'",), 0).ok
