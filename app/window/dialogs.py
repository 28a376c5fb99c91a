"""The window's dialogs: opening files, folders and cameras, asking before a download and showing its progress,
the list of keys, and About."""
from pathlib import Path

from PyQt5.QtWidgets import (
    QDialog,
    QFileDialog,
    QHeaderView,
    QInputDialog,
    QMessageBox,
    QProgressDialog,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.mpeg *.wmv);;All files (*)"
CHECKPOINT_FILTER = "Checkpoints (*.ckpt *.pth *.pt);;All files (*)"


def ask_file(parent, remembered, kind):
    """A video, an image folder or a checkpoint (``kind``: video | folder | checkpoint), starting where the
    last one of that kind was; '' when cancelled."""
    key = f"dialogs/{kind}"
    start = remembered.value(key, "")
    if kind == "folder":
        path = QFileDialog.getExistingDirectory(parent, "Open a folder of images", start)
        where = path
    else:
        title, pattern = {"video": ("Open a video", VIDEO_FILTER),
                          "checkpoint": ("Open a checkpoint", CHECKPOINT_FILTER)}[kind]
        path, _ = QFileDialog.getOpenFileName(parent, title, start, pattern)
        where = str(Path(path).parent) if path else ""
    if path:
        remembered.set(key, where)
    return path


def ask_folder(parent, title, start):
    return QFileDialog.getExistingDirectory(parent, title, str(start))


def ask_camera_index(parent):
    index, ok = QInputDialog.getInt(parent, "Open a camera", "Camera index:", 0, 0, 99)
    return index if ok else None


def ask_download(parent, name, entry):
    answer = QMessageBox.question(
        parent, "Download weights?",
        f"The {name} weights ({entry['file']}: {entry['description']}) are not installed.\n\n"
        f"Download them now from\n{entry['urls'][0]} ?\n\n"
        f"(Offline: fetch the file elsewhere and run  python -m model weights install PATH)")
    return answer == QMessageBox.Yes


class DownloadProgress(QProgressDialog):
    def __init__(self, parent, cancel):
        super().__init__("Downloading weights…", "Cancel", 0, 0, parent)
        self.setWindowTitle("Downloading")
        self.setMinimumDuration(0)
        self.canceled.connect(cancel)

    def report(self, done, total):
        if total > 0:
            self.setRange(0, 1000)
            self.setValue(int(1000 * done / total))
            self.setLabelText(f"Downloading weights: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            self.setLabelText(f"Downloading weights: {done / 1e6:.1f} MB")


def shortcuts(parent, rows):
    """A table of (key, action) rows; returned, shown, not modal."""
    dialog = QDialog(parent)
    dialog.setWindowTitle("Keyboard shortcuts")
    table = QTableWidget(len(rows), 2, dialog)
    table.setHorizontalHeaderLabels(["Key", "Action"])
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.NoEditTriggers)
    for row, (key, text) in enumerate(rows):
        table.setItem(row, 0, QTableWidgetItem(key))
        table.setItem(row, 1, QTableWidgetItem(text))
    table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
    table.resizeColumnToContents(0)
    QVBoxLayout(dialog).addWidget(table)
    dialog.resize(460, min(620, parent.height()))
    dialog.show()
    return dialog


def about(parent):
    QMessageBox.about(parent, "About", "<b>Real-time joint semantic segmentation and depth</b><br>"
                      "Light-Weight RefineNet, Nekrasov et al., ICRA 2019.<br><br>"
                      "Hover any panel to read the class and the depth in metres under the pointer. "
                      "The Performance panel says which backend and precision run, and why.")
