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
    ``F.interpolate``. CUDA, where the full resize is cheap and shapes must stay fixed (CUDA graphs), does it all.
    """
    if logits.is_cuda or tuple(logits.shape[-2:]) == tuple(size):
        return resize(logits, size).argmax(1)
    low = logits.argmax(1)
    below = torch.cat((low[:, 1:], low[:, -1:]), 1)
    same = (low == below) & (low == torch.cat((low[:, :, 1:], low[:, :, -1:]), 2))
    same &= low == torch.cat((below[:, :, 1:], below[:, :, -1:]), 2)
    if same.float().mean() < 0.85:  # mostly borders (noise): the full resize, channels last for speed
        return resize(logits.contiguous(memory_format=torch.channels_last), size).argmax(1)
    (y0, y1, wy), (x0, x1, wx) = (_bilinear_sources(n, m, logits.device) for n, m in zip(size, logits.shape[-2:]))
    rows, cols = y0[:, None], x0[None, :]
    labels = low[:, rows, cols]
    n, py, px = (~same[:, rows, cols]).nonzero(as_tuple=True)
    if len(n):
        h, w = logits.shape[-2:]
        scores = logits.permute(0, 2, 3, 1).reshape(-1, logits.shape[1])  # a view for channels_last logits
        base = n * (h * w)
        fy, fx = wy[py, None], wx[px, None]

        def at(ys, xs):
            return scores.index_select(0, base + ys[py] * w + xs[px]).float()

        top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
        bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
        labels[n, py, px] = (top * (1 - fy) + bottom * fy).argmax(1)
    return labels


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
    return colours[labels.clamp(0, colours.shape[0] - 1)]


def depth_lut_with_missing():
    """``depth_lut`` and one more row, ``NO_DEPTH_RGB``, for ``colour_depth``."""
    return np.concatenate([depth_lut(), np.array([NO_DEPTH_RGB], np.uint8)])


def colour_depth(depth, max_depth, lut):
    """Metres -> N x H x W x 3 uint8 on the fixed range 0 .. ``max_depth`` (never per-frame min/max) through
    ``depth_lut_with_missing``; NaN and inf get its last row."""
    index = (depth * (255.0 / max_depth)).nan_to_num_(0.0, 0.0, 0.0).clamp_(0, 255).round_().long()
    return lut[index.masked_fill_(~torch.isfinite(depth), lut.shape[0] - 1)]


def colour_normals(normals):
    """N x 3 x H x W surface normals -> N x H x W x 3 uint8 as ((x+1)/2, (y+1)/2, (1-z)/2)."""
    n = F.normalize(normals.float(), dim=1)
    rgb = torch.stack(((n[:, 0] + 1) / 2, (n[:, 1] + 1) / 2, (1 - n[:, 2]) / 2), dim=-1)
    return (rgb.clamp_(0, 1) * 255).round_().to(torch.uint8)
