"""Loading and saving checkpoints: the official files unchanged, and this project's own format with ``meta``."""
import re
from pathlib import Path

import torch

from .files import atomic_path
from .network import build_model
from .presets import generic_preset, get_preset, infer_preset, presets

RESNET_DEPTHS = {6: "resnet50", 23: "resnet101", 36: "resnet152"}  # blocks in layer3


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message is one line naming the file and the problem."""


def read_state_dict(path):
    """``(state_dict, meta)`` from a file; weights-only unpickling, never arbitrary objects."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    with open(path, "rb") as f:
        head = f.read(2)
    if head[:2] != b"PK" and head[:1] != b"\x80":  # neither torch's zip format nor a legacy pickle
        raise CheckpointError(f"{path}: not a PyTorch checkpoint")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        if "Weights only load failed" in str(e) or "Unsupported global" in str(e):
            raise CheckpointError(f"{path}: refused: it holds Python objects beyond tensors, "
                                  "which weights-only loading does not run (untrusted pickle)") from None
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({_first_line(e)})") from None
    meta = {}
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        meta = obj.get("meta") or {}
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(torch.is_tensor(v) for v in obj.values()):
        raise CheckpointError(f"{path}: not a state dict (expected a mapping of names to tensors)")
    state_dict = {re.sub(r"^module\.", "", k): v for k, v in obj.items()}
    return state_dict, meta


def describe_state_dict(state_dict):
    """``(encoder, num_classes, tasks)`` read off the keys and shapes, or None for another architecture."""
    keys = state_dict.keys()
    if "layer8.0.output.0.0.weight" in keys and "conv8.weight" in keys:
        encoder = "mobilenet_v2"
    elif "conv1.weight" in keys and "p_ims1d2_outl1_dimred.weight" in keys:
        blocks = len({k.split(".")[1] for k in keys if k.startswith("layer3.")})
        encoder = RESNET_DEPTHS.get(blocks)
        if encoder is None:
            return None
    else:
        return None
    segm = state_dict.get("segm.weight", state_dict.get("clf_conv.weight"))
    if segm is None or segm.dim() != 4:
        return None
    tasks = ["segm"] + [t for t, k in (("depth", "depth.weight"), ("normals", "normal.weight")) if k in keys]
    return encoder, int(segm.shape[0]), tuple(tasks)


def load_model(source, device="cpu", preset=None):
    """An eval-mode network from a checkpoint path or catalogue name ('nyud'), with ``.preset`` and ``.meta``.

    ``preset`` (a name) checks that the file's classes fit it; by default it comes from the file's ``meta``
    or, for the official files, from the class count (40 nyud, 6 kitti, 46 nyud-kitti, normals nyud-three).
    """
    from .weights import WeightsError, resolve  # here, so that `python -m model.weights` imports it only once

    try:
        path = resolve(source)
    except WeightsError as e:
        raise CheckpointError(str(e)) from None
    state_dict, meta = read_state_dict(path)
    described = describe_state_dict(state_dict)
    if described is None:
        sample = ", ".join(list(state_dict)[:3])
        raise CheckpointError(f"{path}: not a Light-Weight RefineNet checkpoint (keys such as {sample})")
    encoder, num_classes, tasks = described
    model = build_model(encoder, num_classes, tasks)
    _load_strict(model, state_dict, path)
    model.preset = _resolve_preset(path, preset, meta, num_classes, tasks)
    model.meta = {"encoder": encoder, "num_classes": num_classes, "tasks": list(tasks),
                  "preset": model.preset.name, **meta}
    model.source = str(path)
    return model.to(device).eval()


def _load_strict(model, state_dict, path):
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys: {_listing(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_listing(unexpected)}")
        raise CheckpointError(f"{path}: does not fit the {model.encoder_name} network; " + "; ".join(parts))
    wrong = [f"{k} {tuple(v.shape)} (expected {tuple(expected[k].shape)})"
             for k, v in state_dict.items() if v.shape != expected[k].shape]
    if wrong:
        raise CheckpointError(f"{path}: wrong shapes: {_listing(wrong)}")
    model.load_state_dict(state_dict, strict=False)


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
    if classes and len(classes) == num_classes:
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


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0].split(". ")[0][:160] if text else type(error).__name__
