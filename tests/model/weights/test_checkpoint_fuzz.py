"""Randomly damaged checkpoints: each loads or is one CheckpointError line; nothing else escapes."""
import os
import random
import shutil
import time

import pytest
import torch
from torch import nn

from model import CheckpointError, build_model, load_model, save_checkpoint

SEED = 20190521
CASES_PER_KIND = 80
KNOWN_FIELDS = ("encoder", "num_classes", "tasks", "preset", "classes", "trained", "epoch")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A small project-format checkpoint (3 classes, segmentation + depth) and its state dict."""
    torch.manual_seed(0)
    model = build_model("mobilenet_v2", 3, ("segm", "depth"))
    path = tmp_path_factory.mktemp("fuzz") / "base.ckpt"
    save_checkpoint(model, path, classes=["sky", "road", "car"], trained="fuzz base")
    return path, {k: v.clone() for k, v in model.state_dict().items()}


def random_value(rng, depth=0):
    kinds = ["none", "bool", "int", "float", "str", "bytes"] + (["list", "tuple", "dict"] if depth < 3 else [])
    kind = "tensor" if rng.random() < 0.05 else rng.choice(kinds)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, -1, 1, 2, 3, 40, 2 ** 70, rng.randint(-10 ** 6, 10 ** 6)])
    if kind == "float":
        return rng.choice([3.0, -0.5, float("nan"), float("inf"), rng.uniform(-1e9, 1e9)])
    if kind == "str":
        return rng.choice(["", "nyud", "kitti", "custom", "mobilenet_v2", "resnet50", "segm", "depth", "a\nb",
                           "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(1, 12)))])
    if kind == "bytes":
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 8)))
    if kind == "tensor":
        return torch.zeros(rng.randint(0, 3))
    items = [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == "list":
        return items
    if kind == "tuple":
        return tuple(items)
    keys = [f"k{rng.randint(0, 9)}" if rng.random() < 0.9 else rng.choice([0, None]) for _ in items]
    return dict(zip(keys, items))


def plausible(rng, field):
    """A value of ``field`` that is right, or nearly right, for the base checkpoint."""
    return rng.choice({
        "encoder": ["mobilenet_v2", "resnet50"],
        "num_classes": [3, 4, 0, -3, True],
        "tasks": [["segm", "depth"], ["depth", "segm"], ["segm"], ["segm", "depth", "normals"], ["segm", "segm"]],
        "preset": [None, "custom", "kitti", "nyud", "nyud-three"],
        "classes": [[], ["a", "b", "c"], ["a", "b"], ["a", 2, "c"], ("x", "y", "z")],
        "trained": ["3 epochs", {"epochs": 3}],
        "epoch": [0, 7],
    }[field])


def random_meta(rng):
    if rng.random() < 0.15:
        return random_value(rng)
    meta = {}
    for field in rng.sample(KNOWN_FIELDS, rng.randint(0, len(KNOWN_FIELDS))):
        meta[field] = plausible(rng, field) if rng.random() < 0.7 else random_value(rng)
    for _ in range(rng.randint(0, 2)):
        meta[f"extra{rng.randint(0, 3)}" if rng.random() < 0.9 else 3] = random_value(rng)
    return meta


def damaged(rng, kind, base_path, size, state_dict, path):
    """Writes one damaged checkpoint of ``kind`` at ``path``; returns a description to reproduce it."""
    if kind == "truncated":
        cut = rng.randrange(size)
        shutil.copyfile(base_path, path)
        os.truncate(path, cut)
        return f"truncated at {cut}"
    if kind == "flipped":
        # Mostly where the structure is (the pickle at the start, zip headers and directory at the end): the
        # tensor bytes in between only ever change numbers, which a few cases cover.
        region = rng.choices([(0, 1 << 16), (size - (1 << 16), size), (0, size)], [4, 4, 1])[0]
        offsets = [rng.randrange(*region) for _ in range(rng.randint(1, 8))]
        shutil.copyfile(base_path, path)
        with open(path, "r+b") as f:
            for offset in offsets:
                f.seek(offset)
                byte = f.read(1)[0]
                f.seek(offset)
                f.write(bytes([byte ^ rng.randint(1, 255)]))
        return f"bytes flipped at {offsets}"
    meta = random_meta(rng)
    torch.save({"state_dict": state_dict, "meta": meta}, path)
    return f"meta {meta!r}"


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated")  # torch's own, on some damaged pickles
def test_damaged_checkpoints_load_or_give_one_line(base, tmp_path, one_thread):
    base_path, state_dict = base
    size = base_path.stat().st_size
    rng = random.Random(SEED)
    outcomes = {"loaded": 0, "refused": 0}
    start = time.perf_counter()
    for i in range(3 * CASES_PER_KIND):
        kind = ("truncated", "flipped", "meta")[i % 3]
        path = tmp_path / f"case{i}.ckpt"
        case = damaged(rng, kind, base_path, size, state_dict, path)
        try:
            model = load_model(path)
        except CheckpointError as e:
            text = str(e)
            assert text.startswith(f"{path}: ") and "\n" not in text, (i, case, text)
            outcomes["refused"] += 1
        except Exception as e:  # anything else is the failure this test looks for
            pytest.fail(f"case {i} (seed {SEED}, {case}): {type(e).__name__}: {e}")
        else:
            assert isinstance(model, nn.Module) and model.num_classes == 3, (i, case)
            outcomes["loaded"] += 1
        path.unlink()
    # Both outcomes occur: the damage is neither always fatal nor always harmless.
    assert outcomes["loaded"] >= 10 and outcomes["refused"] >= CASES_PER_KIND, outcomes
    print(f"{3 * CASES_PER_KIND} damaged checkpoints in {time.perf_counter() - start:.1f} s: {outcomes}")
