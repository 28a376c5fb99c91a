"""The capture thread: pulls frames from a source into a one-frame slot that keeps only the newest.

Video files are paced at their native frame rate and the synthetic scene at 30 fps, so that a slow network
drops frames (counted) instead of slowing the clip down; cameras pace themselves. An image folder waits for
the slot to empty instead, so that every image is processed once.
"""
import threading
import time
from dataclasses import dataclass

from PyQt5.QtCore import QObject, pyqtSignal

from app.sources import SourceError, open_default_source
from model.errors import first_line

SYNTHETIC_FPS = 30.0
POLL_S = 0.05  # how often a waiting capture thread looks at its stop flag


@dataclass
class Frame:
    image: object  # H x W x 3 uint8 RGB
    index: int  # position in the stream, counted from 0
    captured: float  # time.perf_counter() when it was read


class FrameSlot:
    """A queue of size one: ``put`` replaces an unclaimed frame (counted in ``dropped``)."""

    def __init__(self):
        self._frame = None
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, frame):
        """Stores ``frame``; True when the slot was empty, i.e. whoever takes frames needs a wake-up."""
        with self._cond:
            was_empty = self._frame is None
            if not was_empty:
                self.dropped += 1
            self._frame = frame
            self._cond.notify_all()
            return was_empty

    def take(self):
        """The newest frame, or None; the slot is empty afterwards."""
        with self._cond:
            frame, self._frame = self._frame, None
            self._cond.notify_all()
            return frame

    def wait_empty(self, timeout):
        with self._cond:
            return self._cond.wait_for(lambda: self._frame is None, timeout)

    def clear(self):
        self.take()


class Capture(QObject):
    """Reads one source on a plain Python thread. Signals are emitted from that thread (Qt queues them)."""

    opened = pyqtSignal(object)  # the open source
    frame_ready = pyqtSignal()  # the slot went from empty to full
    ended = pyqtSignal(str)  # the source's name; a clip without --loop reached its end
    failed = pyqtSignal(str)  # one line: the source could not be opened or stopped delivering

    def __init__(self, source, slot, paused=False):
        """``source`` is an unopened Source, or None for camera 0 falling back to the synthetic scene."""
        super().__init__()
        self.source = source
        self.slot = slot
        self.frames = 0
        self._stop = threading.Event()
        self._running = threading.Event()
        if not paused:
            self._running.set()
        self._steps = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    @property
    def name(self):
        return getattr(self.source, "name", "camera 0")

    def start(self):
        self._thread.start()

    def set_paused(self, paused):
        if paused:
            self._running.clear()
        else:
            self._running.set()

    @property
    def paused(self):
        return not self._running.is_set()

    def step(self):
        """While paused: read exactly one more frame."""
        with self._lock:
            self._steps += 1
        self._running.set()

    def stop(self):
        self._stop.set()
        self._running.set()

    def join(self, timeout):
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self):
        return self._thread.is_alive()

    def _run(self):
        source = self.source
        try:
            if source is None:
                source = self.source = open_default_source()
            else:
                source.open()
        except SourceError as e:
            self.failed.emit(str(e))
            return
        except Exception as e:  # a backend error that is not a SourceError still ends here, in one line
            self.failed.emit(f"{self.name}: cannot be opened ({first_line(e)})")
            return
        try:
            if not self._stop.is_set():
                self.opened.emit(source)
                self._loop(source)
        except SourceError as e:
            if not self._stop.is_set():
                self.failed.emit(str(e))
        except Exception as e:
            if not self._stop.is_set():
                self.failed.emit(f"{self.name}: {first_line(e)}")
        finally:
            source.close()

    def _loop(self, source):
        fps = source.fps or (SYNTHETIC_FPS if source.kind == "synthetic" else None)
        period = 1.0 / fps if fps else 0.0
        every_frame = source.kind == "images"
        due = time.perf_counter()
        while not self._stop.is_set():
            if not self._wait_running():
                return
            stepping = self._take_step()
            if every_frame and not stepping:
                while not self.slot.wait_empty(POLL_S):
                    if self._stop.is_set():
                        return
            if period and not stepping:
                delay = due - time.perf_counter()
                if delay > 0 and self._stop.wait(delay):
                    return
                due = max(due + period, time.perf_counter() - period)  # a stall is not caught up with a burst
            image = source.read()
            if image is None:
                self.ended.emit(source.name)
                return
            if self._stop.is_set():
                return
            frame = Frame(image, self.frames, time.perf_counter())
            self.frames += 1
            if self.slot.put(frame):
                self.frame_ready.emit()

    def _wait_running(self):
        while not self._running.wait(POLL_S):
            if self._stop.is_set():
                return False
        return not self._stop.is_set()

    def _take_step(self):
        """True when this read is a single step; pauses again after it."""
        with self._lock:
            if self._steps:
                self._steps -= 1
                if not self._steps:
                    self._running.clear()
                return True
            return False
