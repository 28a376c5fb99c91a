"""Image files as frames: the images of a folder, or those a glob pattern matches."""
import glob
import logging
import re
from pathlib import Path

import cv2

from .base import IMAGE_SUFFIXES, Source, SourceError, register

log = logging.getLogger(__name__)
GLOB_CHARACTERS = re.compile(r"[*?\[]")


class ImageFilesSource(Source):
    """Image files in order, one frame each; unreadable ones are skipped with a warning. Subclasses list them."""

    unit = "images"

    def __init__(self, loop=False):
        super().__init__(loop)
        self.files = []
        self.position = 0
        self.current = None  # path of the last image read

    def list_files(self):
        raise NotImplementedError

    def open(self):
        self.files = self.list_files()
        self.frame_count = len(self.files)
        self.position = 0

    def read(self):
        unreadable_in_a_row = 0
        while True:
            if self.position >= len(self.files):
                if not self.loop or unreadable_in_a_row >= len(self.files):
                    return None
                self.position = 0
            path = self.files[self.position]
            self.position += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                self.skipped += 1
                unreadable_in_a_row += 1
                log.warning("%s: not a readable image, skipped", path)
                continue
            self.current = path
            return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@register
class ImageFolderSource(ImageFilesSource):
    kind = "images"
    what = "a folder of images"
    flag = "images"

    def __init__(self, folder, loop=False):
        super().__init__(loop)
        self.folder = Path(folder)

    @staticmethod
    def claims(text):
        return Path(text).is_dir()

    @property
    def name(self):
        return self.folder.name or str(self.folder)

    @property
    def text(self):
        return str(self.folder)

    def list_files(self):
        if not self.folder.is_dir():
            raise SourceError(f"{self.folder}: no such folder")
        files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SourceError(f"{self.folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return files


@register
class GlobSource(ImageFilesSource):
    """The image files a pattern matches (``frames/*.png``, ``**`` for subfolders), sorted; a single image file
    is a pattern that matches itself."""

    kind = "glob"
    what = "a glob pattern of images"

    def __init__(self, pattern, loop=False):
        super().__init__(loop)
        self.pattern = str(pattern)

    @staticmethod
    def claims(text):
        return bool(GLOB_CHARACTERS.search(text)) or (
            Path(text).is_file() and Path(text).suffix.lower() in IMAGE_SUFFIXES)

    @property
    def name(self):
        return self.pattern

    text = name

    def list_files(self):
        matches = sorted(Path(p) for p in glob.glob(self.pattern, recursive=True))
        files = [p for p in matches if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
        if not files:
            found = f"{len(matches)} files, none an image" if matches else "no files"
            raise SourceError(f"{self.pattern}: {found} ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return files
