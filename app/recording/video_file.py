"""MP4 files of composed views, for the GUI's recorder and the headless runner alike."""
import errno
import os
import shutil
from pathlib import Path

import cv2
import numpy as np

FOURCC = "mp4v"
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


class VideoFile:
    """An MP4 written as ``.NAME.part.mp4`` beside ``path`` and renamed into place by ``close``.

    The first frame sets the size (made even, as MPEG-4 wants); later frames of another size are fitted to it.
    OpenCV's writer reports no write errors, so ``write`` raises ``OSError(ENOSPC)`` when the disk is nearly full,
    while the frames so far can still be finalised.
    """

    def __init__(self, path, fps):
        self.path = Path(path)
        self.fps = float(fps)
        self.tmp = self.path.with_name(f".{self.path.stem}.part{self.path.suffix}")
        self.size = None
        self.frames = 0
        self._writer = None

    def write(self, rgb):
        if shutil.disk_usage(self.path.parent).free < FREE_SPACE_MARGIN:
            raise OSError(errno.ENOSPC, f"disk full (less than {FREE_SPACE_MARGIN >> 20} MiB left)", str(self.path))
        if self._writer is None:
            h, w = rgb.shape[:2]
            self.size = (w - w % 2, h - h % 2)
            self._writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*FOURCC), self.fps, self.size)
            if not self._writer.isOpened():
                self._writer = None
                raise OSError(errno.EIO, f"OpenCV cannot write an MP4 ({FOURCC}) here", str(self.path))
        self._writer.write(cv2.cvtColor(fit(rgb, self.size), cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self):
        """Finalises the file (one without frames is removed) and returns the number of frames in it."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self.frames and self.tmp.exists():
            os.chmod(self.tmp, 0o644)
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return self.frames
