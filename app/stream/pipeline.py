"""One frame's way, from a source to the newest result, and everything that runs beside the window.

    source --capture thread--> FrameSlot (the newest frame only) --> InferenceWorker (its QThread) --> latest()

The capture thread (``app.stream.capture``) reads the source at its own pace and puts each frame in the one-frame
slot, replacing one the worker has not taken yet (counted as dropped); when the slot fills it wakes the worker,
which runs the predictor and keeps the newest ``Output``; its ``produced`` signal has the window take it. The
window hands results to record or snapshot back here: the recorder's writer thread makes them full size and
writes them.
``shutdown`` stops all of it: it joins every thread, releases the camera and finalises recordings.
"""
import sys
import time

from PyQt5.QtCore import QObject, Qt, QThread, pyqtSignal

from app.recording.recorder import Recorder

from .capture import Capture, FrameSlot
from .worker import InferenceWorker

JOIN_S = 2.0


class Pipeline(QObject):
    # The current source's events (those of a source replaced since are dropped).
    source_opened = pyqtSignal(object)  # the open Source
    source_failed = pyqtSignal(str)  # one line
    source_ended = pyqtSignal(str)  # the source's name

    def __init__(self):
        super().__init__()
        self.slot = FrameSlot()
        self.worker = InferenceWorker(self.slot)
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("inference")
        self.worker.moveToThread(self.worker_thread)
        self.worker_thread.finished.connect(self.worker.close, Qt.DirectConnection)  # on its own thread
        self.worker_thread.start()
        self.recorder = Recorder()
        self.capture = None
        self._stopped_captures = []  # asked to stop, maybe still reading: joined at shutdown
        self._shut = False

    # ---- the network --------------------------------------------------------------------------------------
    def configure(self, request):
        """Asks for another network or settings (``worker.Request``); ``worker.running`` or ``worker.failed``
        answers."""
        self.worker.request(request)

    def latest(self):
        """The newest ``worker.Output`` not yet taken, or None."""
        return self.worker.latest()

    def inference_fps(self):
        return self.worker.inference_fps()

    # ---- the source ---------------------------------------------------------------------------------------
    def open_source(self, source, paused=False):
        """Stops the running capture (without waiting on it) and starts one for ``source`` (an unopened
        ``app.sources.Source``; None: camera 0, else the synthetic scene)."""
        if self.capture is not None:
            self.capture.stop()
            self._stopped_captures.append(self.capture)
        self._stopped_captures = [c for c in self._stopped_captures if c.is_alive()]
        self.slot.clear()
        capture = self.capture = Capture(source, self.slot, paused=paused)
        capture.opened.connect(self._opened)  # emitted on the capture thread, queued to this one
        capture.failed.connect(self._failed)
        capture.ended.connect(self._ended)
        capture.frame_ready.connect(self.worker.process)  # queued to the worker's thread
        capture.start()
        return capture

    def _opened(self, source):
        if self.sender() is self.capture:
            self.source_opened.emit(source)

    def _failed(self, message):
        if self.sender() is self.capture:
            self.source_failed.emit(message)

    def _ended(self, name):
        if self.sender() is self.capture:
            self.source_ended.emit(name)

    @property
    def source(self):
        return self.capture.source if self.capture is not None else None

    @property
    def frames(self):
        """Frames read from the current source."""
        return self.capture.frames if self.capture is not None else 0

    @property
    def dropped(self):
        return self.slot.dropped

    def set_paused(self, paused):
        if self.capture is not None:
            self.capture.set_paused(paused)

    def step(self):
        """While paused: one more frame."""
        if self.capture is not None:
            self.capture.step()

    # ---- files --------------------------------------------------------------------------------------------
    def start_recording(self, path, fps):
        self.recorder.start_recording(path, fps)

    def stop_recording(self):
        self.recorder.stop_recording()

    def record(self, result, arrangement):
        self.recorder.add_frame(result, arrangement)

    def snapshot(self, folder, stem, result, arrangement, intrinsics=None):
        self.recorder.snapshot(folder, stem, result, arrangement, intrinsics)

    # ---- the end ------------------------------------------------------------------------------------------
    def shutdown(self, timeout=JOIN_S):
        """Stops the capture, the worker and the recorder and joins their threads; finalises any recording.
        True when every thread ended within ``timeout`` seconds (a worker deep in a step that cannot be
        interrupted is then waited for, said on stderr)."""
        if self._shut:
            return True
        self._shut = True
        deadline = time.perf_counter() + timeout

        def left(minimum=0.05):
            return max(minimum, deadline - time.perf_counter())

        captures = [c for c in (self.capture, *self._stopped_captures) if c is not None]
        for capture in captures:
            capture.stop()
        self.worker.stop()
        self.worker_thread.quit()
        joined = all([capture.join(left()) for capture in captures])
        joined &= self.worker_thread.wait(int(1000 * left()))
        joined &= self.recorder.close(left())
        if not self.worker_thread.isFinished():
            print("warning: the inference thread is still busy; waiting for it", file=sys.stderr)
            self.worker_thread.wait()
        self.capture = None
        self._stopped_captures = []
        return joined
