"""Loading and saving checkpoints: the official files unchanged, and this project's own format with ``meta``."""
import re
import reprlib
from functools import lru_cache
from pathlib import Path

import torch

from model.errors import first_line
from model.files import atomic_path
from model.network.encoders import get_encoder, identify
from model.network.heads import HEAD_NAMES
from model.network.lwrefinenet import build_model
from model.presets import TASKS, generic_preset, get_preset, infer_preset, presets

from .catalogue import WeightsError, resolve

CUSTOM_PRESET = "custom"  # the preset name that save_checkpoint writes for classes of no named preset
PLAIN_SCALARS = (type(None), bool, int, float, complex, str, bytes)
MAX_META_DEPTH = 16


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message is one line naming the file and the problem."""


def read_state_dict(path):
    """``(state_dict, meta)`` of a Light-Weight RefineNet checkpoint file, both checked before anything uses them.

    Weights-only unpickling, never arbitrary objects. The weights must fit the network that their keys name
    (every key, shape and kind of number), with at least one class, all finite; ``meta`` (``{}`` when absent)
    must be a mapping of plain values whose known fields agree with the weights. Anything else is a
    CheckpointError.
    """
    path = Path(path)
    obj = _unpickle(path)
    meta = None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        meta = obj.get("meta")
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) and _is_dense(v) for k, v in obj.items()):
        raise CheckpointError(f"{path}: not a state dict (expected a mapping of names to tensors)")
    state_dict = {re.sub(r"^module\.", "", k): v for k, v in obj.items()}
    described = describe_state_dict(state_dict)
    if described is None:
        sample = ", ".join(list(state_dict)[:3])
        raise CheckpointError(f"{path}: not a Light-Weight RefineNet checkpoint (keys such as {sample})")
    if described[1] < 1:
        raise CheckpointError(f"{path}: its segmentation head has 0 output channels (no classes to predict)")
    meta = _check_meta(path, meta, *described)
    _check_weights(path, state_dict, *described)
    return state_dict, meta


def describe_state_dict(state_dict):
    """``(encoder, num_classes, tasks)`` read off the keys and shapes, or None for another architecture."""
    encoder = identify(state_dict)
    if encoder is None:
        return None
    segm = state_dict.get(f"{get_encoder(encoder).segm_head}.weight")
    if segm is None or segm.dim() != 4:
        return None
    tasks = ["segm"] + [t for t in TASKS if t != "segm" and f"{HEAD_NAMES[t]}.weight" in state_dict]
    return encoder, int(segm.shape[0]), tuple(tasks)


def load_model(source, device="cpu", preset=None):
    """An eval-mode network from a checkpoint path or catalogue name ('nyud'), with ``.preset`` and ``.meta``.

    ``preset`` (a name) checks that the file's classes fit it; by default it comes from the file's ``meta``
    or, for the official files, from the class count (40 nyud, 6 kitti, 46 nyud-kitti, normals nyud-three).
    """
    try:
        path = resolve(source)
    except WeightsError as e:
        raise CheckpointError(str(e)) from None
    state_dict, meta = read_state_dict(path)
    encoder, num_classes, tasks = describe_state_dict(state_dict)
    model = build_model(encoder, num_classes, tasks)
    model.load_state_dict(state_dict, strict=False)  # keys checked already; old files lack num_batches_tracked
    model.preset = _resolve_preset(path, preset, meta, num_classes, tasks)
    model.meta = {**meta, "encoder": encoder, "num_classes": num_classes, "tasks": list(tasks),
                  "preset": model.preset.name}
    model.source = str(path)
    return model.to(device).eval()


def _unpickle(path):
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror or e})") from None
    if head[:2] != b"PK" and head[:1] != b"\x80":  # neither torch's zip format nor a legacy pickle
        raise CheckpointError(f"{path}: not a PyTorch checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        if "Weights only load failed" in str(e) or "Unsupported global" in str(e):
            raise CheckpointError(f"{path}: refused: it holds Python objects beyond tensors, "
                                  "which weights-only loading does not run (untrusted pickle)") from None
        cause = first_line(e).split(". ")[0][:160]
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({cause})") from None


def _is_dense(value):
    return (torch.is_tensor(value) and value.layout == torch.strided and value.device.type == "cpu"
            and not value.is_quantized)


def _check_weights(path, state_dict, encoder, num_classes, tasks):
    """Refuses weights that do not fit the network exactly (keys, shapes, kinds of number) or hold unusable
    numbers."""
    expected = _expected_tensors(encoder, num_classes, tasks)
    missing = [k for k in expected if k not in state_dict and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys: {_listing(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_listing(unexpected)}")
        raise CheckpointError(f"{path}: does not fit the {encoder} network; " + "; ".join(parts))
    wrong = [f"{k} {tuple(v.shape)} (expected {tuple(expected[k][0])})"
             for k, v in state_dict.items() if v.shape != expected[k][0]]
    if wrong:
        raise CheckpointError(f"{path}: wrong shapes: {_listing(wrong)}")
    wrong = [f"{k} {v.dtype} (expected {expected[k][1]})"
             for k, v in state_dict.items() if _number_kind(v.dtype) != _number_kind(expected[k][1])]
    if wrong:
        raise CheckpointError(f"{path}: wrong number types: {_listing(wrong)}")
    bad = [k for k, v in state_dict.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{path}: holds NaN/inf weights ({_listing(bad, 3)}): a corrupt or diverged checkpoint")
    # A negative variance gives NaN outputs as surely as a NaN weight does.
    bad = [k for k, v in state_dict.items() if k.endswith("running_var") and (v < 0).any()]
    if bad:
        raise CheckpointError(f"{path}: holds negative batch-norm variances ({_listing(bad, 3)}): "
                              "a corrupt checkpoint")


@lru_cache(maxsize=8)
def _expected_tensors(encoder, num_classes, tasks):
    """``{key: (shape, dtype)}`` of the network: built on the meta device, so without memory or initialisation."""
    with torch.device("meta"):
        return {k: (v.shape, v.dtype) for k, v in build_model(encoder, num_classes, tasks).state_dict().items()}


def _number_kind(dtype):
    return "float" if dtype.is_floating_point else "complex" if dtype.is_complex else "integer"


def _check_meta(path, meta, encoder, num_classes, tasks):
    """``meta`` (``{}`` when absent) once it is plain values whose known fields agree with the weights."""
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: meta is {_kind(meta)}, not a mapping of fields")
    for key, value in meta.items():
        if not isinstance(key, str):
            raise CheckpointError(f"{path}: meta has a field named by {_kind(key)}, not by a string")
        problem = _plain_problem(value, set(), 0)
        if problem:
            raise CheckpointError(f"{path}: meta field {key!r} {problem}")
    problem = _known_field_problem(meta, encoder, num_classes, tasks)
    if problem:
        raise CheckpointError(f"{path}: meta field {problem}")
    return meta


def _known_field_problem(meta, encoder, num_classes, tasks):
    value = meta.get("encoder", encoder)
    if value != encoder:
        return f"'encoder' is {_short(value)}, but the weights are a {encoder} network"
    value = meta.get("num_classes", num_classes)
    if type(value) is not int or value < 1:
        return f"'num_classes' is {_short(value)}, not a positive whole number"
    if value != num_classes:
        return f"'num_classes' is {value}, but the segmentation head has {num_classes} outputs"
    value = meta.get("tasks", tasks)
    if not isinstance(value, (list, tuple)) or not all(isinstance(t, str) for t in value):
        return f"'tasks' is {_short(value)}, not a list of task names"
    if sorted(value) != sorted(tasks):
        return f"'tasks' is {_short(value)}, but the weights have heads for {', '.join(tasks)}"
    value = meta.get("preset")
    if value is not None:
        if not isinstance(value, str) or value not in {*presets(), CUSTOM_PRESET}:
            return f"'preset' is {_short(value)}, not one of {', '.join(presets())}, {CUSTOM_PRESET}"
        if value != CUSTOM_PRESET and presets()[value].num_classes != num_classes:
            return (f"'preset' is {value!r} ({presets()[value].num_classes} classes), but the segmentation head "
                    f"has {num_classes} outputs")
    value = meta.get("classes", [])
    if not isinstance(value, (list, tuple)) or not all(isinstance(c, str) for c in value):
        return f"'classes' is {_short(value)}, not a list of class names"
    if value and len(value) != num_classes:
        return f"'classes' names {len(value)} classes, but the segmentation head has {num_classes} outputs"
    return None


def _plain_problem(value, seen, depth):
    """Why ``value`` is not plain data (scalars, lists, tuples, string-keyed dicts), or None when it is."""
    if isinstance(value, PLAIN_SCALARS):
        return None
    if not isinstance(value, (list, tuple, dict)):
        return f"holds {_kind(value)}, not a plain value"
    if id(value) in seen:  # shared, or a cycle: checked already
        return None
    if depth >= MAX_META_DEPTH:
        return f"is nested more than {MAX_META_DEPTH} deep"
    seen.add(id(value))
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return "holds a mapping with keys other than strings"
        value = value.values()
    return next(filter(None, (_plain_problem(v, seen, depth + 1) for v in value)), None)


def _kind(value):
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _short(value):
    return reprlib.repr(value)  # bounded, and one line: newlines come out escaped


def _resolve_preset(path, asked, meta, num_classes, tasks):
    name = asked or (meta.get("preset") if meta.get("preset") in presets() else None)
    if name:
        try:
            preset = get_preset(name)
        except KeyError as e:
            raise CheckpointError(f"{path}: {e.args[0]}") from None
        if preset.num_classes != num_classes:
            raise CheckpointError(f"{path}: has {num_classes} classes, which do not fit preset "
                                  f"{preset.name!r} ({preset.num_classes} classes)")
        return preset
    classes = meta.get("classes")
    if classes:
        return generic_preset(num_classes, tasks, classes=classes)
    return infer_preset(num_classes, tasks) or generic_preset(num_classes, tasks)


def save_checkpoint(model, path, **meta):
    """Writes ``{'state_dict', 'meta'}`` atomically; ``meta`` holds plain values only, so it loads weights-only."""
    path = Path(path)
    meta = {"encoder": model.encoder_name, "num_classes": model.num_classes, "tasks": list(model.tasks),
            "preset": getattr(getattr(model, "preset", None), "name", None),
            "classes": list(getattr(getattr(model, "preset", None), "classes", [])), **meta}
    state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_torch_save({"state_dict": state_dict, "meta": meta}, path)


def atomic_torch_save(obj, path):
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _listing(items, limit=5):
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")

