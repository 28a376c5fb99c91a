"""Training losses: cross-entropy (ignore 255), berHu depth, normals, and their masked multi-task sum.

Each task loss is a sum over the valid pixels of the batch divided by their count, so a sample with no label for a
task (all of its pixels invalid) contributes nothing: no zero-valued targets pulling the output down. Under
DistributedDataParallel, the count and berHu's threshold are taken over the whole global batch (all processes) and
the loss is scaled by the world size, which DDP's gradient averaging undoes: N processes then compute exactly the
gradient of one process on the global batch. Every process must then call the losses in the same order.
"""
import torch
import torch.distributed as dist
import torch.nn.functional as F

from model.presets import IGNORE_LABEL
from model.processing import resize

DEFAULT_WEIGHTS = {"segm": 0.5, "depth": 0.5, "normals": 0.5}


def distributed():
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _global(value, op, sync):
    """``value`` (a detached scalar tensor) reduced over all processes when ``sync``; else itself."""
    if sync and distributed():
        value = value.clone()
        dist.all_reduce(value, op=op)
    return value


def _mean_over(total, count, anchor, sync):
    """``total / count`` over the global batch, times the world size (see the module's docstring).

    With nothing valid anywhere it is ``0 * anchor.sum()``: zero, but still connected to the outputs, so every
    parameter gets a (zero) gradient and DDP's buckets stay in step across processes.
    """
    count = _global(count.detach().to(torch.float32), dist.ReduceOp.SUM, sync)
    if count.item() == 0:
        return anchor.sum() * 0.0
    world = dist.get_world_size() if sync and distributed() else 1
    return total * (world / count)


def segm_loss(logits, target, ignore_index=IGNORE_LABEL, sync=True):
    """Cross-entropy over the pixels whose label is not ``ignore_index``; ``logits`` N x C x H x W, ``target``
    N x H x W int64 at the same size."""
    total = F.cross_entropy(logits.float(), target, ignore_index=ignore_index, reduction="sum")
    return _mean_over(total, (target != ignore_index).sum(), logits, sync)


def berhu_loss(pred, target, sync=True):
    """Inverse Huber on the pixels with ground truth > 0: |e| up to c, (e^2 + c^2) / 2c above it, where
    c = 0.2 max |e| over the valid pixels of the batch. ``pred``, ``target`` N x 1 x H x W metres."""
    valid = target > 0
    err = (pred.float() - target)[valid].abs()
    local_max = err.detach().max() if err.numel() else err.new_zeros(())
    c = (0.2 * _global(local_max, dist.ReduceOp.MAX, sync)).clamp_min(1e-6)
    loss = torch.where(err <= c, err, (err * err + c * c) / (2 * c))
    return _mean_over(loss.sum(), valid.sum(), pred, sync)


def normals_loss(pred, target, sync=True):
    """1 - cosine between predicted and ground-truth normals, over the pixels with a ground-truth normal (non-zero
    vector). ``pred``, ``target`` N x 3 x H x W."""
    valid = target.norm(dim=1) > 0.5
    cos = F.cosine_similarity(pred.float(), target, dim=1, eps=1e-6)
    return _mean_over((1 - cos)[valid].sum(), valid.sum(), pred, sync)


LOSSES = {"segm": segm_loss, "depth": berhu_loss, "normals": normals_loss}


def multitask_loss(outputs, batch, tasks, weights=None, sync=True):
    """``(total, {task: loss})`` for raw network outputs (at 1/4 size, resized here to the targets' size).

    ``batch`` holds the targets under the task names and, optionally, ``has_<task>`` flags per sample; the
    targets of a sample without the task are made invalid (255 / 0) here whatever they hold. ``weights``
    default to 0.5 per task, as in the paper. ``sync=False`` keeps a process to its own batch (e.g. when one
    process validates alone).
    """
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    parts = {}
    for task, out in zip(tasks, outputs):
        target = batch[task]
        has = batch.get(f"has_{task}")
        if has is not None:
            invalid = IGNORE_LABEL if task == "segm" else 0
            target = torch.where(has.view(-1, *[1] * (target.dim() - 1)), target, invalid)
        out = resize(out, target.shape[-2:])
        parts[task] = LOSSES[task](out, target, sync=sync)
    total = sum(weights[t] * loss for t, loss in parts.items())
    return total, {t: loss.detach() for t, loss in parts.items()}
