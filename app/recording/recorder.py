"""Recording the composed view to MP4 and saving snapshots (PNGs and a PLY), on one writer thread (the GUI never
waits on a disk).

Results come at the network's resolution, as the window draws them; this thread makes them full size
(``Result.at_full_size``) and composes the view, so that files hold the frame's resolution and the GUI thread
does neither. Every file appears atomically: written under a temporary name in the same folder, then renamed.
A recording is finalised by ``stop_recording`` or ``close``, which the pipeline calls on every exit; until then
NAME.part.mp4 is playable at every moment, so that a killed app keeps its frames (``video_file``).
"""
import queue
import threading
from pathlib import Path

from PyQt5.QtCore import QObject, pyqtSignal

from app.panels.compose import composed_view
from model.errors import first_line

from .results_writer import write_cloud, write_depth, write_labels, write_view
from .video_file import VideoFile

QUEUE_FRAMES = 8  # results waiting for the writer; each holds its raw network outputs until it is written


class Recorder(QObject):
    saved = pyqtSignal(str)  # one line: what was written where
    failed = pyqtSignal(str)  # one line

    def __init__(self):
        super().__init__()
        self._jobs = queue.Queue(maxsize=QUEUE_FRAMES)
        self.recording = None  # the MP4 path while recording
        self.frames_queued = 0
        self.dropped = 0
        self._video = None
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def start_recording(self, path, fps):
        if self.recording:
            self.stop_recording()
        self.recording = Path(path)
        self.frames_queued = self.dropped = 0
        self._jobs.put(("open", Path(path), float(fps)))

    def add_frame(self, result, arrangement):
        """Queues one result, to be recorded as ``arrangement`` shows it; a full queue drops it (counted)
        rather than stall the GUI."""
        if not self.recording:
            return
        try:
            self._jobs.put_nowait(("frame", result, arrangement))
            self.frames_queued += 1
        except queue.Full:
            self.dropped += 1

    def stop_recording(self):
        if self.recording:
            self._jobs.put(("close",))
            self.recording = None

    def snapshot(self, folder, stem, result, arrangement, intrinsics=None):
        """Queues ``stem``_view.png (the view as ``arrangement`` shows it), _labels.png and, with depth,
        _depth_mm.png (16-bit), all at the frame's resolution; with depth and ``intrinsics`` (for the full
        frame) also _cloud.ply: every pixel's labelled, coloured 3D point."""
        self._jobs.put(("snapshot", Path(folder), stem, result, arrangement, intrinsics))

    def close(self, timeout=2.0):
        """Finalises any recording and joins the writer thread; True when it ended in time."""
        self.stop_recording()
        self._jobs.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self):
        while (job := self._jobs.get()) is not None:
            try:
                getattr(self, "_" + job[0])(*job[1:])
            except Exception as e:  # a full disk or an unwritable folder: said once, the app goes on
                self.failed.emit(f"{job[0]} failed: {first_line(e)}")
                if job[0] in ("open", "frame"):
                    self._finish()

    def _open(self, path, fps):
        self._finish()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._video = VideoFile(path, fps)
        if self._video.kept:
            self.saved.emit(f"kept the recording of an interrupted run as {self._video.kept}")

    def _frame(self, result, arrangement):
        if self._video is not None:
            self._video.write(composed_view(result, arrangement))

    def _close(self):
        self._finish()

    def _finish(self):
        """Finalises the recording: what was written so far stays a playable file, also after a write failed."""
        if self._video is None:
            return
        video, self._video = self._video, None
        if video.close():
            self.saved.emit(f"recorded {video.frames} frames to {video.path}")
        else:
            self.failed.emit(f"{video.path}: nothing recorded (no frames arrived)")

    def _snapshot(self, folder, stem, result, arrangement, intrinsics):
        result = result.at_full_size()
        folder.mkdir(parents=True, exist_ok=True)
        written = [folder / f"{stem}_view.png", folder / f"{stem}_labels.png"]
        write_view(written[0], composed_view(result, arrangement))
        write_labels(written[1], result)
        if result.depth is not None:
            written.append(folder / f"{stem}_depth_mm.png")
            write_depth(written[2], result.depth)
            if intrinsics is not None:
                written.append(folder / f"{stem}_cloud.ply")
                write_cloud(written[3], result, intrinsics)
        self.saved.emit(f"snapshot: {', '.join(p.name for p in written)} in {folder}")
