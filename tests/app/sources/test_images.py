"""Image folders and glob patterns: sorted, unreadable images skipped, looping when asked."""
import cv2
import numpy as np
import pytest

from app.sources import GlobSource, ImageFolderSource, SourceError, source_for_input
from tests.app.sources.support import read_all, write_images


def test_images_loop_when_asked(tmp_path):
    assert len(read_all(GlobSource(str(write_images(tmp_path / "images") / "*.png"), loop=True), limit=7)) == 7


def test_image_folder_sorted_skipping_unreadable(tmp_path):
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((40, 50, 3), i * 50, np.uint8))
    (tmp_path / "003.png").write_bytes(b"broken")
    (tmp_path / "readme.txt").write_text("ignored")
    source = ImageFolderSource(tmp_path)
    frames = read_all(source)
    assert [int(f[0, 0, 0]) for f in frames] == [0, 50, 100]
    assert source.skipped == 1 and source.current.name == "002.png"
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no images"):
        ImageFolderSource(tmp_path / "empty").open()


def test_a_glob_takes_the_matching_images_in_order_and_a_single_image(tmp_path):
    folder = write_images(tmp_path / "images", 4)
    (folder / "notes.txt").write_text("not an image")
    source = GlobSource(str(folder / "00[13].png"))
    frames = read_all(source)
    assert [p.name for p in source.files] == ["001.png", "003.png"] and len(frames) == 2
    assert source.describe() == f"glob pattern of images {folder / '00[13].png'} (2 images)"
    assert len(read_all(source_for_input(str(folder / "002.png")))) == 1
    with pytest.raises(SourceError, match="1 files, none an image"):
        GlobSource(str(folder / "*.txt")).open()
