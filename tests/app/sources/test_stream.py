"""Stream URLs: an early stop is an error, a password is never printed."""
import pytest

from app.sources import SourceError, StreamSource
from tests.app.sources.support import write_video


def test_a_stream_that_stops_early_is_an_error(http_folder):
    folder, url = http_folder
    write_video(folder / "clip.avi")
    source = StreamSource(f"{url}/clip.avi")
    with source:
        assert source.frame_count is None and source.fps == pytest.approx(15.0)
        source.read()
        source.announced = 100  # as if the server had announced more frames than it sends
        for _ in range(11):
            source.read()
        with pytest.raises(SourceError, match=r"the stream stopped after 12 frames$"):
            source.read()


def test_a_stream_url_hides_its_password():
    source = StreamSource("rtsp://admin:secret@10.0.0.2:554/live")
    assert source.name == "rtsp://admin:***@10.0.0.2:554/live" and "secret" not in source.describe()
