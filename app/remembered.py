"""What the window remembers between runs (QSettings: the source, the model and how it runs, the layout, the
opacity, the snapshot folder, the camera intrinsics, the 3D view, the window's geometry) and how that meets the
command line: a flag the user typed wins over a remembered value, which wins over the flag's default."""
from dataclasses import replace
from pathlib import Path

from PyQt5.QtCore import QSettings

from app.cloud3d.intrinsics_choice import IntrinsicsChoice
from app.panels.table import LAYOUTS, VIEW_CHOICES, Arrangement
from app.stream.network_choice import BACKBONES
from app.stream.worker import Request
from model.inference.run_settings import SettingsError, from_args
from model.network.encoders import DEFAULT_ENCODER

from .sources import source_from_args, source_from_spec

ORGANISATION, APPLICATION = "jointseg", "demo"
CAMERA_FLAGS = ("intrinsics", "calibration", "hfov")


class Remembered:
    """The command line's ``args`` (``args.given``: the flags typed; without it, every flag counts as typed)
    over the settings ``store`` (default: the user's, organisation ``jointseg``)."""

    def __init__(self, args, store=None):
        self.args = args
        self.store = store if store is not None else QSettings(ORGANISATION, APPLICATION)
        given = getattr(args, "given", None)
        self.given = set(vars(args)) if given is None else set(given)

    def value(self, key, default, kind=str):
        value = self.store.value(key, None)
        if value is None or value == "":
            return default
        if kind is bool:
            return value in (True, "true", "1", 1)
        try:
            return kind(value)
        except (TypeError, ValueError):
            return default

    def raw(self, key):
        return self.store.value(key, None)

    def set(self, key, value):
        self.store.setValue(key, value)

    def flag(self, name, key, kind=str):
        """The flag ``name`` when typed, else the value remembered under ``key``, else the flag's default."""
        value = getattr(self.args, name, None)
        return value if name in self.given else self.value(key, value, kind)

    def request(self):
        """The network and run settings to start with. Remembered settings that no longer run here (a backend
        uninstalled since) give way to the flags'; flags that cannot run raise ``SettingsError`` (one line)."""
        args = self.args
        weights = args.weights if args.weights or "weights" in self.given else self.value("model/weights", None)
        backbone = self.flag("backbone", "model/backbone")
        if backbone not in BACKBONES:
            backbone = DEFAULT_ENCODER
        typed = from_args(args)
        try:
            settings = replace(typed, device=self.flag("device", "run/device"),
                               precision=self.flag("precision", "run/precision"),
                               backend=self.flag("backend", "run/backend"), size=self.flag("size", "run/size", int))
        except SettingsError:
            settings = typed
        return Request(weights, backbone, settings, download=bool(getattr(args, "download", False)),
                       stabilise=getattr(args, "stabilise", None) or 0.0)

    def arrangement(self):
        layout = self.flag("overlay", "view/layout")
        single = getattr(self.args, "view", None) or self.value("view/single", "segmentation")
        opacity = self.flag("opacity", "view/opacity", float)
        return Arrangement(layout if layout in LAYOUTS else "side",
                           single if single in VIEW_CHOICES else "segmentation",
                           min(1.0, max(0.0, float(opacity if opacity is not None else 0.5))))

    def loop(self):
        return bool(self.flag("loop", "source/loop", bool))

    def intrinsics(self):
        """The camera the flags give when one of --intrinsics, --calibration, --hfov was typed, else the one
        chosen last (not checked here: one that no longer resolves is said when it is used)."""
        if self.given & set(CAMERA_FLAGS):
            args = self.args
            return IntrinsicsChoice(explicit=getattr(args, "intrinsics", None),
                                    calibration=getattr(args, "calibration", None), hfov=getattr(args, "hfov", None))
        kind, value = self.value("camera/kind", "automatic"), self.value("camera/value", "")
        if kind == "hfov":
            try:
                return IntrinsicsChoice(hfov=float(value))
            except ValueError:
                return IntrinsicsChoice()
        return IntrinsicsChoice(**{kind: value}) if kind in ("explicit", "calibration") and value else \
            IntrinsicsChoice()

    def snapshot_folder(self):
        return Path(getattr(self.args, "snapshots", None) or self.value("snapshots/folder",
                                                                        str(Path.cwd() / "snapshots")))

    def source(self):
        """The source the flags name, else the one used last when it is still there, else None (camera 0,
        then the synthetic scene)."""
        source = source_from_args(self.args)
        if source is not None:
            return source
        return source_from_spec(self.value("source/kind", ""), self.value("source/where", ""), self.loop())

    def save(self, *, source, request, arrangement, loop, plots, snapshot_folder, geometry, state, intrinsics=None,
             cloud=None):
        """``intrinsics``: an IntrinsicsChoice; ``cloud``: the 3D view's settings by name (saved under cloud/)."""
        s = self.store
        if source is not None:
            kind, where = source.spec()
            s.setValue("source/kind", kind)
            s.setValue("source/where", where)
        s.setValue("source/loop", loop)
        if request is not None:
            s.setValue("model/weights", request.weights or "")
            s.setValue("model/backbone", request.backbone)
            run = request.settings
            for key, value in (("device", run.device), ("precision", run.precision), ("backend", run.backend),
                               ("size", run.size)):
                s.setValue(f"run/{key}", "" if value is None else str(value))
        s.setValue("view/layout", arrangement.layout)
        s.setValue("view/single", arrangement.single)
        s.setValue("view/opacity", arrangement.opacity)
        s.setValue("view/plots", plots)
        s.setValue("snapshots/folder", str(snapshot_folder))
        s.setValue("window/geometry", geometry)
        s.setValue("window/state", state)
        if intrinsics is not None:
            s.setValue("camera/kind", intrinsics.kind)
            s.setValue("camera/value", intrinsics.value)
        for key, value in (cloud or {}).items():
            s.setValue(f"cloud/{key}", value)
        s.sync()
