"""The point cloud's own thread: back-projects the newest result off the GUI thread.

The window hands in requests (``app.cloud.CloudRequest``) and takes out the newest ``CloudFrame`` when it
polls; a request not started yet is replaced by a newer one, so the thread never queues work, and neither side
waits on the other. The thread starts with the first request: a 3D view never shown costs nothing.
"""
import threading

from model.errors import first_line

from .cloud import build_cloud_frame


class CloudBuilder:
    def __init__(self):
        self._wake = threading.Condition()
        self._pending = None
        self._latest = None
        self._problem = None
        self._closed = False
        self._thread = None
        self.builds = 0  # clouds built, for the readout and the tests

    def submit(self, request):
        """Builds ``request`` next, in place of any request still waiting."""
        with self._wake:
            if self._closed:
                return
            self._pending = request
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pointcloud", daemon=True)
                self._thread.start()
            self._wake.notify()

    def latest(self):
        """The newest CloudFrame not yet taken, or None."""
        with self._wake:
            frame, self._latest = self._latest, None
            return frame

    def problem(self):
        """Why the last build failed (one line), once; None when it did not."""
        with self._wake:
            problem, self._problem = self._problem, None
            return problem

    def close(self, timeout=2.0):
        """Stops the thread after the build under way; True when it ended within ``timeout`` seconds."""
        with self._wake:
            self._closed = True
            self._pending = None
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _run(self):
        while True:
            with self._wake:
                while self._pending is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                request, self._pending = self._pending, None
            try:
                frame, problem = build_cloud_frame(request), None
            except Exception as e:  # intrinsics that do not fit, a model without depth: said once, not fatal
                frame, problem = None, first_line(e)
            with self._wake:
                if frame is not None:
                    self._latest = frame
                    self.builds += 1
                self._problem = problem or self._problem
