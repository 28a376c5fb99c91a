"""The camera intrinsics dialog: automatic (the model's camera, else a 60 degree field of view), fx,fy,cx,cy in
pixels of the input frames, a horizontal field of view, or an OpenCV calibration file. Wrong text or an
unreadable file is said in one line inside the dialog, which stays open until the choice works."""
from PyQt5.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from app import theme
from model.geometry.intrinsics import IntrinsicsError

from .intrinsics_choice import KINDS, IntrinsicsChoice

CALIBRATION_FILTER = "OpenCV calibration (*.yaml *.yml *.xml *.json);;All files (*)"
LABELS = {"automatic": "Automatic: the model's camera, else a 60° field of view",
          "explicit": "fx, fy, cx, cy (pixels of the input frames)",
          "hfov": "Horizontal field of view (degrees)",
          "calibration": "OpenCV calibration file (camera_matrix)"}
PLACEHOLDERS = {"explicit": "e.g. 518.9,519.5,325.6,253.7", "hfov": "e.g. 70", "calibration": "a .yaml/.xml/.json file"}


class IntrinsicsDialog(QDialog):
    def __init__(self, parent, choice, in_use=""):
        """``choice``: the IntrinsicsChoice now; ``in_use``: what it gives, in words."""
        super().__init__(parent)
        self.setWindowTitle("Camera intrinsics")
        self.chosen = None  # the IntrinsicsChoice accepted
        self.buttons = QButtonGroup(self)
        self.fields = {}
        grid = QGridLayout()
        for row, kind in enumerate(KINDS):
            button = QRadioButton(LABELS[kind])
            self.buttons.addButton(button, row)
            grid.addWidget(button, row, 0)
            if kind != "automatic":
                field = self.fields[kind] = QLineEdit(choice.value if choice.kind == kind else "")
                field.setPlaceholderText(PLACEHOLDERS[kind])
                field.setMinimumWidth(240)
                field.textEdited.connect(lambda _, b=button: b.setChecked(True))
                grid.addWidget(field, row, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        grid.addWidget(browse, KINDS.index("calibration"), 2)
        self.buttons.button(KINDS.index(choice.kind)).setChecked(True)
        self.error = QLabel("")
        self.error.setStyleSheet(f"color: {theme.WARNING};")
        self.error.setWordWrap(True)
        box = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if in_use:
            layout.addWidget(QLabel(f"In use: {in_use}"))
        layout.addLayout(grid)
        layout.addWidget(self.error)
        layout.addWidget(box)

    def kind(self):
        return KINDS[self.buttons.checkedId()]

    def _browse(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open a calibration file", self.fields["calibration"].text(),
                                              CALIBRATION_FILTER)
        if path:
            self.fields["calibration"].setText(path)
            self.buttons.button(KINDS.index("calibration")).setChecked(True)

    def accept(self):
        """Keeps the dialog open, saying why, until the choice is one that works."""
        kind = self.kind()
        try:
            self.chosen = IntrinsicsChoice.of_kind(kind, self.fields[kind].text() if kind in self.fields else "")
        except IntrinsicsError as e:
            self.error.setText(str(e))
            return
        super().accept()


def ask_intrinsics(parent, choice, in_use=""):
    """The IntrinsicsChoice the user makes, or None when cancelled."""
    dialog = IntrinsicsDialog(parent, choice, in_use)
    return dialog.chosen if dialog.exec_() == QDialog.Accepted else None
