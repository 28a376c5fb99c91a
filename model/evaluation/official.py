"""Evaluation straight from NYUDv2's official files: one split of ``nyu_depth_v2_labeled.mat``, image by image.

The split comes from ``splits.mat`` (or, without one, the official split carried in the project); each image's
894 labels go through the 40-class mapping of Gupta et al. 2013 and its depth is taken in metres as stored
(see ``model.data.nyud_mat``).
"""
from dataclasses import dataclass
from pathlib import Path

from model.data.nyud_mat import SPLITS_TABLE, open_split


@dataclass(frozen=True)
class Frame:
    line: int  # the image's 1-based index in the file, as splits.mat numbers it


class OfficialSplit:
    """The images of one split, read one at a time while ``evaluation.add_arrays`` scores them."""

    def __init__(self, mat_path, splits_path=None, split="test"):
        self.reader, splits = open_split(mat_path, splits_path)
        self.name = Path(mat_path).name
        self.title = f"{self.name}, {split} split"
        self.samples = [Frame(int(i)) for i in splits[split]]
        self.settings = {"nyud_mat": str(mat_path), "splits": str(splits_path or SPLITS_TABLE.name),
                         "split": split}

    def add(self, evaluation, frame):
        image, depth, classes = self.reader.frame(frame.line - 1)
        row = {"line": frame.line, "rgb": f"{self.name}:{frame.line}"}
        return evaluation.add_arrays(image, {"segm": classes, "depth": depth}, row)

    def close(self):
        self.reader.close()
