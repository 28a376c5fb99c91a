"""Temporal stabilisation of live results: the class scores, the depth and the normals of each frame blended
with the previous frame's where the pixel did not move, and hysteresis on label switches. No Qt here.

Per output pixel (the network's output grid), with ``d`` the change of the frame's brightness there since the
previous frame, in 0..255 grey levels, averaged over the pixel's footprint:

    keep = strength * clamp(1 - d / MOTION_LEVELS, 0, 1)
    state = keep * state + (1 - keep) * new          (class probabilities, depth, normals)
    label = argmax(probabilities + HYSTERESIS * keep * [class == previous label])

so that still pixels average the sensor noise away (a running mean over about 1 / (1 - strength) frames) and a
pixel that changed takes the new result at once: motion is followed, not smeared. A scene cut (the mean
change over the frame passes ``CUT_LEVELS``), a new frame or network size, ``reset()`` (a source change, a
seek, a model change) start afresh.

Why a gate on the frame difference and not the previous result warped by dense optical flow (OpenCV's DIS)
first: measured on the fitted network (``python -m model stabiliser``, BENCHMARKS.md "Temporal
stabiliser"; 320x240, network at 160, CPU), the gate cut the labels changed per frame on a still noisy sequence
from 1.85 % to 0.34 % (5x) and the depth noise on still pixels from 0.033 m to 0.009 m, and kept a 4 px/frame
pan at 91.4 % agreement with the unstabilised labels; warping first gave the same on the still sequence, a
little less label change on the pan (9.3 % against 10.6 %) at a lower agreement (90.4 %), for about 3x the
gate's time. The network's output grid is 4x coarser than its input, so a pan moves it by a fraction of a cell
per frame: there is little for the flow to undo. DIS also runs on the CPU only: on CUDA each frame would go
down and the flow back up, where the gate is a handful of element-wise torch ops on the GPU, captured in the
predictor's CUDA graph with the rest (its state lives in fixed tensors, its reset is a flag in one).
"""
import torch
import torch.nn.functional as F

DEFAULT_STRENGTH = 0.8  # the previous result's weight on a pixel that did not move
MOTION_LEVELS = 12.0  # grey levels of change (in the output cell's mean) at which a pixel counts as moved
CUT_LEVELS = 40.0  # mean grey-level change over the frame that counts as a scene cut
HYSTERESIS = 0.15  # the probability margin a new class needs over the current label on a still pixel
GREY_LEVEL = 1 / (255 * 0.226)  # one grey level in the normalised input (ImageNet's mean std of ~0.226)


def strength_of(value):
    """The strength ``stabilise=`` asks for: False/None/0 off, True the default, else a number in 0..1."""
    if value is True:
        return DEFAULT_STRENGTH
    if value in (None, False):
        return 0.0
    strength = float(value)
    if not 0.0 <= strength < 1.0:
        raise ValueError(f"stabilisation strength {value!r} must be in 0..1 (1 excluded)")
    return strength


class _State:
    """The running result of one output shape, in fixed tensors (a CUDA graph reads and writes them)."""

    def __init__(self, grey, outputs):
        self.grey = torch.zeros_like(grey)
        self.outputs = [torch.zeros_like(o, dtype=torch.float32) for o in outputs]
        self.labels = torch.zeros_like(outputs[0][:, :1], dtype=torch.int64)  # the class scores' argmax
        self.control = torch.zeros(2, device=grey.device)  # [strength, 1 = a previous result is there]


class Stabiliser:
    """``stabiliser(x, outputs)``: the network input ``x`` (N x 3 x H x W, normalised) and its raw outputs (a
    tuple, ``tasks`` naming them, the class scores first) -> the stabilised outputs, on their device. The
    class scores come back as probabilities (with the hysteresis margin added), whose argmax is the label."""

    def __init__(self, tasks, strength=DEFAULT_STRENGTH):
        self.tasks = tuple(tasks)
        self.strength = strength_of(strength)
        self.states = {}  # output shape -> _State
        self.last_shape = None

    @torch.inference_mode()  # the states are made in inference mode (the predictor's) and changed in it only
    def reset(self):
        """The next frame starts afresh (a source change, a seek, a scene cut the caller knows of)."""
        for state in self.states.values():
            state.control[1] = 0.0

    def clear(self):
        """Forgets every state (the device changed)."""
        self.states.clear()
        self.last_shape = None

    @torch.inference_mode()
    def set_strength(self, strength):
        self.strength = strength_of(strength)
        for state in self.states.values():
            state.control[0] = self.strength

    def state_for(self, x, outputs):
        """The state of this output shape (made on first use); a shape other than the last one's starts afresh.
        Host-side: call it before a CUDA graph's capture and replay alike."""
        shape = (tuple(x.shape), tuple(outputs[0].shape))
        state = self.states.get(shape)
        if state is None:
            state = self.states[shape] = _State(grey_at(x, outputs[0].shape[-2:]), outputs)
            state.control[0] = self.strength
        if shape != self.last_shape:
            self.reset()
            self.last_shape = shape
        return state

    def __call__(self, x, outputs, state=None):
        state = state or self.state_for(x, outputs)
        return blend(state, x, outputs, self.tasks)


def grey_at(x, size):
    """The brightness of the normalised input ``x`` in grey levels, area-averaged to ``size`` (h, w)."""
    grey = x.float().mean(1, keepdim=True) / GREY_LEVEL
    return F.adaptive_avg_pool2d(grey, tuple(size))


def blend(state, x, outputs, tasks):
    """One frame into ``state``; the stabilised outputs. Element-wise torch ops only: the same code on the CPU
    and the GPU, with no host synchronisation (it is captured in CUDA graphs)."""
    strength, previous = state.control[0], state.control[1]
    grey = grey_at(x, outputs[0].shape[-2:])
    change = (grey - state.grey).abs()
    fresh = (change.mean() < CUT_LEVELS).float() * previous  # 0: no previous result, or a scene cut
    keep = strength * fresh * (1 - change / MOTION_LEVELS).clamp(0, 1)  # N x 1 x h x w
    state.grey.copy_(grey)
    stabilised = []
    for task, new, old in zip(tasks, outputs, state.outputs):
        new = new.float().softmax(1) if task == "segm" else new.float()
        old.copy_(keep * old + (1 - keep) * new)
        if task == "segm":
            old = old + torch.zeros_like(old).scatter_(1, state.labels, HYSTERESIS) * keep
            state.labels.copy_(old.argmax(1, keepdim=True))
        stabilised.append(old.clone())  # the state changes with the next frame; a result keeps its maps
    state.control[1] = 1.0
    return tuple(stabilised)
