"""MP4 files of composed views, for the GUI's recorder and the headless runner alike.

The file is a fragmented MP4 (one fragment per frame, written through at once), so that what was written is
playable at every moment: a run killed by SIGKILL or a power cut leaves ``NAME.part.mp4`` holding every frame
but the last. A clean end renames it into place.
"""
import errno
import os
import shutil
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from .output_lock import OutputLock

try:
    import av
except ImportError:  # said in one line when a video is to be written; everything else runs without it
    av = None

CODEC = "mpeg4"  # MPEG-4 Part 2 (OpenCV's mp4v): no B-frames, so each frame leaves the encoder at once
QUALITY = 3  # the encoder's quantiser, 2 (best) .. 31
LAMBDA_PER_QP = 118  # FFmpeg's FF_QP2LAMBDA: global_quality is a quantiser in these units
# empty_moov: the index comes first and stays empty; frag_every_frame: each frame is a self-describing fragment;
# flush_packets: each one leaves the process at once instead of waiting in a 32 KiB buffer
CONTAINER_OPTIONS = {"movflags": "frag_every_frame+empty_moov+default_base_moof", "flush_packets": "1"}
FREE_SPACE_MARGIN = 32 << 20  # bytes: stop this short of a full disk, so that the file can still be finalised


def fit(image, size):
    """``image`` scaled into ``size`` (W, H), aspect kept, on black: a video keeps one frame size."""
    w, h = size
    if image.shape[1] == w and image.shape[0] == h:
        return image
    scale = min(w / image.shape[1], h / image.shape[0])
    sw, sh = max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))
    canvas = np.zeros((h, w, 3), np.uint8)
    y, x = (h - sh) // 2, (w - sw) // 2
    canvas[y:y + sh, x:x + sw] = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    return canvas


def kept_aside(part):
    """Moves the part file of a run that was killed to ``NAME.interrupted-DATE-TIME.mp4`` (its last write) and
    returns that path: a new run to the same output starts its own part file, never over what the killed one left."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(part.stat().st_mtime))
    base = part.name.removesuffix(f".part{part.suffix}")
    target, n = part.with_name(f"{base}.interrupted-{stamp}{part.suffix}"), 1
    while target.exists():
        n += 1
        target = part.with_name(f"{base}.interrupted-{stamp}-{n}{part.suffix}")
    os.replace(part, target)
    return target


class VideoFile:
    """An MP4 written as ``NAME.part.mp4`` beside ``path`` (playable at every moment) and renamed into place by
    ``close``; meanwhile ``path`` is locked against other runs (``OutputBusy``).

    The first frame sets the size (made even, as MPEG-4 wants); later frames of another size are fitted to it.
    ``write`` raises ``OSError(ENOSPC)`` when the disk is nearly full, while the frames so far can still be
    finalised. A part file left by a killed run is first moved aside (``kept``: where to).
    """

    def __init__(self, path, fps):
        self.path = Path(path)
        if av is None:
            raise OSError(f"writing {self.path.name} needs PyAV, which is not installed: pip install av")
        self.fps = float(fps)
        self.tmp = self.path.with_name(f"{self.path.stem}.part{self.path.suffix}")
        self.size = None
        self.frames = 0
        self._container = self._stream = None
        self._lock = OutputLock(self.path).acquire()
        self.kept = kept_aside(self.tmp) if self.tmp.exists() else None

    def write(self, rgb):
        if shutil.disk_usage(self.path.parent).free < FREE_SPACE_MARGIN:
            raise OSError(errno.ENOSPC, f"disk full (less than {FREE_SPACE_MARGIN >> 20} MiB left)", str(self.path))
        try:
            if self._container is None:
                self._open(rgb.shape)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(fit(rgb, self.size)), format="rgb24")
            frame.pts = self.frames
            self._container.mux(self._stream.encode(frame))
        except av.FFmpegError as e:  # those of a disk are OSErrors already; the others become one
            if isinstance(e, OSError):
                raise
            raise OSError(errno.EIO, f"FFmpeg cannot write the video: {e}", str(self.path)) from None
        self.frames += 1

    def _open(self, shape):
        h, w = shape[:2]
        self.size = (w - w % 2, h - h % 2)
        self._container = av.open(str(self.tmp), "w", format="mp4", container_options=CONTAINER_OPTIONS)
        self._stream = self._container.add_stream(CODEC, rate=Fraction(self.fps).limit_denominator(1001))
        self._stream.width, self._stream.height = self.size
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.options = {"flags": "+qscale", "global_quality": str(QUALITY * LAMBDA_PER_QP)}

    def close(self):
        """Finalises the file (one without frames is removed) and returns the number of frames in it; the frames
        written stay playable also when finalising fails (the error is raised after the rename)."""
        try:
            if self._container is not None:
                container, self._container = self._container, None
                try:
                    container.mux(self._stream.encode())
                finally:
                    container.close()
        finally:
            if self.frames and self.tmp.exists():
                os.chmod(self.tmp, 0o644)
                os.replace(self.tmp, self.path)
            else:
                self.tmp.unlink(missing_ok=True)
            self._lock.release()
        return self.frames
