"""Pre- and post-processing in torch, so that they run wherever the network runs (CPU or GPU)."""
import functools

import cv2
import numpy as np
import torch
import torch.nn.functional as F

NO_DEPTH_RGB = (0, 0, 0)  # where the depth is NaN or inf: a colour the plasma map does not have
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def depth_lut():
    """OpenCV's plasma colour map as a 256x3 RGB uint8 table (the release showed depth in plasma)."""
    bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_PLASMA)[:, 0]
    return np.ascontiguousarray(bgr[:, ::-1])


def normalise(frames, dtype=torch.float32):
    """uint8 RGB, H x W x 3 or N x H x W x 3 (numpy or torch) -> normalised N x 3 x H x W float tensor."""
    x = torch.as_tensor(frames)
    if x.dim() == 3:
        x = x[None]
    mean, std = _mean_std(dtype, x.device)
    return x.permute(0, 3, 1, 2).to(dtype).div_(255).sub_(mean).div_(std)


@functools.cache
def _mean_std(dtype, device):
    # Made once per dtype and device: no host-to-device copy per frame, none inside a CUDA graph capture.
    with torch.inference_mode(False):
        return tuple(torch.tensor(v, dtype=dtype, device=device).view(1, 3, 1, 1) for v in (MEAN, STD))


def resize(x, size, mode="bilinear"):
    """N x C x h x w -> N x C x H x W; ``size`` is (H, W)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    align = False if mode in ("bilinear", "bicubic") else None
    return F.interpolate(x, size=tuple(size), mode=mode, align_corners=align)


def labels_from_logits(logits, size):
    """Class index per pixel at ``size``: the argmax of the bilinearly resized logits, N x H x W int64.

    On the CPU, resizing every class's logits to the frame costs more than the network's head. A resized
    pixel is a convex combination of its 2x2 source pixels, so where those four share one argmax, so does
    the pixel; only the other pixels (along class borders) are interpolated, with the weights of
    ``F.interpolate`` (see ``_border_labels``). CUDA, where the full resize is cheap and shapes must stay fixed
    (CUDA graphs), does it all.
    """
    if logits.is_cuda or tuple(logits.shape[-2:]) == tuple(size):
        return resize(logits, size).argmax(1)
    low = logits.argmax(1)
    below = torch.cat((low[:, 1:], low[:, -1:]), 1)
    same = (low == below) & (low == torch.cat((low[:, :, 1:], low[:, :, -1:]), 2))
    same &= low == torch.cat((below[:, :, 1:], below[:, :, -1:]), 2)
    if same.float().mean() < 0.5:  # mostly borders (noise): the full resize, channels last for speed
        return resize(logits.contiguous(memory_format=torch.channels_last), size).argmax(1)
    (y0, _, wy), (x0, _, wx) = (_bilinear_sources(n, m, logits.device) for n, m in zip(size, logits.shape[-2:]))
    labels = low.index_select(1, y0).index_select(2, x0)
    n, py, px = (~same).index_select(1, y0).index_select(2, x0).nonzero(as_tuple=True)
    if len(n):
        border = _border_labels(logits, same, n, *(v.index_select(0, i) for v, i in ((y0, py), (x0, px), (wy, py),
                                                                                    (wx, px))))
        labels.view(-1).index_copy_(0, (n * size[0] + py) * size[1] + px, border)
    return labels


CANDIDATES = 4  # classes tried in a border block when no other class can win there


def _border_labels(logits, same, n, by, bx, fy, fx):
    """The argmax of the interpolated logits at border pixels: pixel i lies in the 2x2 block of source pixels
    whose top-left one is (n[i], by[i], bx[i]), at weights fy[i], fx[i] towards the next row and column.

    Every block's four source score vectors are read once. In a block, a class can only win if its best
    corner reaches the best guaranteed score (the largest, over classes, of each class's worst corner); the
    ``CANDIDATES`` classes with the best corners are usually all of those (checked per block), and only they
    are interpolated. Blocks where more classes could win interpolate every class.
    """
    images, classes, h, w = logits.shape
    scores = logits.permute(0, 2, 3, 1).reshape(-1, classes)  # a view for channels_last logits
    bn, y, x = (~same).nonzero(as_tuple=True)
    index = torch.full(same.shape, -1, dtype=torch.long, device=logits.device)
    index[bn, y, x] = torch.arange(len(bn), device=logits.device)
    y1, x1, base = (y + 1).clamp(max=h - 1), (x + 1).clamp(max=w - 1), bn * (h * w)
    corners = torch.stack([scores.index_select(0, base + r * w + c).float()
                           for r, c in ((y, x), (y, x1), (y1, x), (y1, x1))], 1)  # blocks x 4 x classes
    k = min(CANDIDATES, classes - 1)
    best = corners.amax(1).topk(k + 1, dim=1)
    narrow = best.values[:, k] < corners.amin(1).amax(1)
    block = index.view(-1).index_select(0, (n * h + by) * w + bx)
    weights = torch.stack(((1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx), 1)[:, :, None]
    # Index selections throughout: on the CPU they are several times faster than indexing with tensors.
    fast = narrow.index_select(0, block).nonzero()[:, 0]
    b = block.index_select(0, fast)
    candidates = best.indices[:, :k]
    few = corners.gather(2, candidates[:, None, :].expand(-1, 4, -1)).index_select(0, b)  # pixels x 4 x k
    won = (weights.index_select(0, fast) * few).sum(1).argmax(1, keepdim=True)
    out = torch.empty(len(n), dtype=torch.long, device=logits.device)
    out.index_copy_(0, fast, candidates.index_select(0, b).gather(1, won)[:, 0])
    if len(fast) < len(n):
        slow = (~narrow).index_select(0, block).nonzero()[:, 0]
        values = weights.index_select(0, slow) * corners.index_select(0, block.index_select(0, slow))
        out.index_copy_(0, slow, values.sum(1).argmax(1))
    return out


def _bilinear_sources(out_size, in_size, device):
    """For each output index: the two source indices and the second one's weight (align_corners=False)."""
    src = ((torch.arange(out_size, device=device, dtype=torch.float32) + 0.5) * (in_size / out_size) - 0.5)
    src.clamp_(min=0)
    i0 = src.long().clamp_(max=in_size - 1)
    return i0, (i0 + 1).clamp_(max=in_size - 1), src - i0


def depth_metres(depth, size):
    """Metric depth at ``size``: N x H x W, ``abs`` of the raw output as in the release."""
    return resize(depth, size)[:, 0].abs()


def colour_labels(labels, colours):
    """N x H x W class indices -> N x H x W x 3 uint8 through a num_classes x 3 uint8 table."""
    return _look_up(colours, labels.clamp(0, colours.shape[0] - 1))


def depth_lut_with_missing():
    """``depth_lut`` and one more row, ``NO_DEPTH_RGB``, for ``colour_depth``."""
    return np.concatenate([depth_lut(), np.array([NO_DEPTH_RGB], np.uint8)])


def colour_depth(depth, max_depth, lut):
    """Metres -> N x H x W x 3 uint8 on the fixed range 0 .. ``max_depth`` (never per-frame min/max) through
    ``depth_lut_with_missing``; NaN and inf get its last row."""
    index = (depth * (255.0 / max_depth)).nan_to_num_(0.0, 0.0, 0.0).clamp_(0, 255).round_().long()
    return _look_up(lut, index.masked_fill_(~torch.isfinite(depth), lut.shape[0] - 1))


def _look_up(table, index):
    """``table[index]`` for an integer tensor of any shape; ``index_select`` is several times faster on the CPU."""
    return table.index_select(0, index.reshape(-1)).view(*index.shape, table.shape[1])


def colour_normals(normals):
    """N x 3 x H x W surface normals -> N x H x W x 3 uint8 as ((x+1)/2, (y+1)/2, (1-z)/2)."""
    n = F.normalize(normals.float(), dim=1)
    rgb = torch.stack(((n[:, 0] + 1) / 2, (n[:, 1] + 1) / 2, (1 - n[:, 2]) / 2), dim=-1)
    return (rgb.clamp_(0, 1) * 255).round_().to(torch.uint8)
