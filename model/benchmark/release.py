"""The release's own inference pipeline, re-implemented as the benchmark's baseline: numpy normalisation, the
fp32 eager NCHW network with BatchNorm as its own layers and its 5x5 max pool op, bicubic resizes of every
output (OpenCV, as the release's notebooks did), numpy argmax and colour maps."""
import copy

import cv2
import numpy as np
import torch
from torch import nn

from model import processing as pp
from model.network.decoder import CRPBlock


def release_network(model):
    """The network as released: BatchNorm as its own layers, NCHW, one 5x5 max pool op in the CRP blocks."""
    net = copy.deepcopy(model).cpu().float().eval()
    for part in (net, net.decoder):
        for block in part.modules():
            if isinstance(block, CRPBlock):
                block.pool = nn.MaxPool2d(5, stride=1, padding=2)
    return net


class ReleasePipeline:
    """uint8 frame -> colour images the release's way; ``network`` may be swapped (ONNX Runtime)."""

    def __init__(self, model, network=None):
        self.tasks, self.preset = model.tasks, model.preset
        self.net = release_network(model)
        self.network = network or self._torch_network
        self.lut = pp.depth_lut()
        self.mean, self.std = np.array(pp.MEAN), np.array(pp.STD)

    def _torch_network(self, x):
        with torch.no_grad():
            return [o.numpy() for o in self.net(torch.from_numpy(x))]

    def prepare(self, frame):
        return ((frame / 255.0 - self.mean) / self.std).transpose(2, 0, 1)[None].astype(np.float32)

    def __call__(self, frame):
        outputs = dict(zip(self.tasks, self.network(self.prepare(frame))))
        h, w = frame.shape[:2]
        segm = cv2.resize(outputs["segm"][0].transpose(1, 2, 0), (w, h), interpolation=cv2.INTER_CUBIC)
        images = [self.preset.colours[segm.argmax(axis=2)]]
        if "depth" in outputs:
            depth = np.abs(cv2.resize(outputs["depth"][0, 0], (w, h), interpolation=cv2.INTER_CUBIC))
            index = np.clip(depth * (255.0 / self.preset.max_depth), 0, 255).round().astype(np.int64)
            images.append(self.lut[index])
        if "normals" in outputs:
            n = cv2.resize(outputs["normals"][0].transpose(1, 2, 0), (w, h), interpolation=cv2.INTER_CUBIC)
            n = n / np.maximum(np.linalg.norm(n, axis=2, keepdims=True), 1e-12)
            images.append((np.clip((n * [1, 1, -1] + 1) / 2, 0, 1) * 255).round().astype(np.uint8))
        return images
