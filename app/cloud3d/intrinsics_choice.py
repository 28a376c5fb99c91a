"""Which camera intrinsics the window uses (no Qt): the user's choice (the flags, or the dialog, remembered)
resolved for each frame and map size by ``model.geometry.intrinsics.choose_intrinsics``: fx,fy,cx,cy >
calibration file > field of view > the preset's camera > a 60 degree field of view. Maps come at the network's
size: the intrinsics are chosen for the frame, then scaled to the maps."""
from dataclasses import dataclass

from model.geometry.intrinsics import Intrinsics, IntrinsicsError, choose_intrinsics

KINDS = ("automatic", "explicit", "hfov", "calibration")


@dataclass(frozen=True)
class IntrinsicsChoice:
    """One of: ``explicit`` "fx,fy,cx,cy" text in pixels of the input frames, an OpenCV ``calibration`` file, a
    horizontal field of view ``hfov`` in degrees; none of them: automatic (the preset's camera, else 60 degrees)."""

    explicit: str | None = None
    calibration: str | None = None
    hfov: float | None = None

    @classmethod
    def of_kind(cls, kind, value):
        """From a kind (``KINDS``) and its value as text; ``IntrinsicsError`` (one line) when the text is wrong."""
        value = (value or "").strip()
        if kind == "automatic":
            return cls()
        if not value:
            raise IntrinsicsError({"explicit": "give fx,fy,cx,cy", "hfov": "give a field of view in degrees",
                                   "calibration": "choose a calibration file"}.get(kind, f"unknown kind {kind!r}"))
        if kind == "explicit":
            Intrinsics.parse(value, (1, 1))
            return cls(explicit=value)
        if kind == "hfov":
            Intrinsics.from_hfov(value, (1, 1))
            return cls(hfov=float(value))
        if kind == "calibration":
            Intrinsics.from_calibration_file(value, (1, 1))
            return cls(calibration=value)
        raise IntrinsicsError(f"unknown kind of intrinsics {kind!r}")

    @property
    def kind(self):
        if self.explicit is not None:
            return "explicit"
        if self.calibration is not None:
            return "calibration"
        return "hfov" if self.hfov is not None else "automatic"

    @property
    def value(self):
        """The choice's value as text ('' when automatic)."""
        return {"explicit": self.explicit, "calibration": self.calibration,
                "hfov": None if self.hfov is None else f"{self.hfov:g}"}.get(self.kind) or ""

    def resolve(self, frame_hw, map_hw, preset):
        """(Intrinsics for maps of ``map_hw``, where they come from) for frames of ``frame_hw``."""
        intrinsics, origin = choose_intrinsics(tuple(frame_hw), explicit=self.explicit,
                                               calibration_file=self.calibration, hfov=self.hfov, preset=preset)
        return intrinsics.scaled_to(tuple(map_hw)), origin


class CameraIntrinsics:
    """The intrinsics in use for each result, cached by size; a choice that stops resolving (its calibration file
    gone) gives way to the automatic one, and ``problem`` says why once."""

    def __init__(self, choice=None):
        self.choice = choice or IntrinsicsChoice()
        self.origin = ""  # where the last intrinsics came from
        self.in_use = None  # the Intrinsics of the last maps asked for
        self._cache = {}
        self._problem = None

    def set_choice(self, choice):
        self.choice = choice
        self._cache.clear()

    def for_maps(self, result):
        """The intrinsics for ``result``'s maps (the network's size): those in use, that ``describe`` tells."""
        self.in_use, self.origin = self._resolve(result, result.labels.shape[:2])
        return self.in_use

    def for_frame(self, result):
        """The same camera for ``result``'s full-size frame (files)."""
        return self._resolve(result, result.frame.shape[:2])[0]

    def problem(self):
        problem, self._problem = self._problem, None
        return problem

    def describe(self):
        """'NYUDv2 Kinect: fx 129.7 ... at 160x120 (preset nyud's camera)', or '' before the first result."""
        return f"{self.in_use.describe()} ({self.origin})" if self.in_use is not None else ""

    def _resolve(self, result, map_hw):
        key = (tuple(result.frame.shape[:2]), tuple(map_hw), result.preset.name)
        if key not in self._cache:
            try:
                self._cache[key] = self.choice.resolve(key[0], key[1], result.preset)
            except IntrinsicsError as e:
                self._problem = f"{e}; using the automatic intrinsics"
                self.choice = IntrinsicsChoice()
                self._cache = {key: self.choice.resolve(key[0], key[1], result.preset)}
        return self._cache[key]
