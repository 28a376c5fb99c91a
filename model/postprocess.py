"""Pre- and post-processing in torch, so that they run wherever the network runs (CPU or GPU)."""
import cv2
import numpy as np
import torch
import torch.nn.functional as F

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
    x = x.permute(0, 3, 1, 2).to(dtype).div_(255)
    mean = torch.tensor(MEAN, dtype=dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=dtype, device=x.device).view(1, 3, 1, 1)
    return x.sub_(mean).div_(std)


def resize(x, size, mode="bilinear"):
    """N x C x h x w -> N x C x H x W; ``size`` is (H, W)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    align = False if mode in ("bilinear", "bicubic") else None
    return F.interpolate(x, size=tuple(size), mode=mode, align_corners=align)


def labels_from_logits(logits, size):
    """Class index per pixel at ``size``: N x H x W int64."""
    return resize(logits, size).argmax(1)


def depth_metres(depth, size):
    """Metric depth at ``size``: N x H x W, ``abs`` of the raw output as in the release."""
    return resize(depth, size)[:, 0].abs()


def colour_labels(labels, colours):
    """N x H x W class indices -> N x H x W x 3 uint8 through a num_classes x 3 uint8 table."""
    return colours[labels.clamp(0, colours.shape[0] - 1)]


def colour_depth(depth, max_depth, lut):
    """Metres -> N x H x W x 3 uint8 on the fixed range 0 .. ``max_depth`` (never per-frame min/max)."""
    index = (depth * (255.0 / max_depth)).clamp_(0, 255).round_().long()
    return lut[index]


def colour_normals(normals):
    """N x 3 x H x W surface normals -> N x H x W x 3 uint8 as ((x+1)/2, (y+1)/2, (1-z)/2)."""
    n = F.normalize(normals.float(), dim=1)
    rgb = torch.stack(((n[:, 0] + 1) / 2, (n[:, 1] + 1) / 2, (1 - n[:, 2]) / 2), dim=-1)
    return (rgb.clamp_(0, 1) * 255).round_().to(torch.uint8)
