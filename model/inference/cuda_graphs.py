"""Static pipelines: one per (frame size, network size), with fixed buffers, on CUDA captured as a CUDA graph.

A pinned host frame -> the device frame -> (a CUDA graph of pre-processing, network and post-processing) ->
fixed device results -> pinned host results. On CUDA the graph replays all device work with one launch. On
the CPU the same code runs without capture (the pinned buffers are plain and each call runs the steps), which
is how the tests reach it.

``PipelineCache`` keeps the last few sizes, so that a stream of mixed sizes (an image folder) prepares each
size once instead of on every change; on CUDA their graphs share one memory pool.
"""
import time
from collections import OrderedDict

import torch

CACHED_SIZES = 4
WARMUP_RUNS = 3  # before capture: cuDNN's algorithm search and lazy allocations, off the graph


def timings(t0, t1, t2, t3, t4):
    ms = [(b - a) * 1e3 for a, b in zip((t0, t1, t2, t3), (t1, t2, t3, t4))]
    return dict(zip(("upload", "network", "postprocess", "download"), ms))


class StaticPipeline:
    """``steps(frame)`` maps the device frame to the dict of device results; it is called on fixed buffers."""

    def __init__(self, key, device, steps, capture, pool=None):
        # No reference to the predictor is kept: dropping the predictor frees everything without the cyclic GC.
        self.key = key
        self.cuda = device.type == "cuda"
        h, w = key[0]  # (frame size, network size, ...)
        self.host_frame = torch.empty((h, w, 3), dtype=torch.uint8, pin_memory=self.cuda)
        self.frame = torch.full((h, w, 3), 127, dtype=torch.uint8, device=device)
        self.steps = steps
        self.graph = None
        if capture:
            self._capture(pool)
        else:
            self.results = self._first_run()
        self.host_results = {k: torch.empty(v.shape, dtype=v.dtype, pin_memory=self.cuda)
                             for k, v in self.results.items()}

    def _first_run(self):
        results = self.steps(self.frame, check=True)
        return {k: v.clone() for k, v in results.items()}

    def _capture(self, pool):
        device = self.frame.device
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            for run in range(WARMUP_RUNS):
                self.steps(self.frame, check=run == 0)
        torch.cuda.current_stream(device).wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, pool=pool):
            self.results = self.steps(self.frame)

    def __call__(self, frame, sync):
        t0 = time.perf_counter()
        self.host_frame.numpy()[...] = frame
        self.frame.copy_(self.host_frame, non_blocking=True)
        sync()
        t1 = time.perf_counter()
        if self.graph is not None:
            self.graph.replay()
            sync()
            t2 = t3 = time.perf_counter()  # one launch: the network's time includes pre- and post-processing
        else:
            for k, v in self.steps(self.frame).items():
                self.results[k].copy_(v)
            t2 = t3 = time.perf_counter()
        for k, v in self.results.items():
            self.host_results[k].copy_(v, non_blocking=True)
        sync()
        images = {k: v.numpy().copy() for k, v in self.host_results.items()}  # the buffers serve the next frame
        return images, timings(t0, t1, t2, t3, time.perf_counter())


class PipelineCache:
    """The static pipelines of the last ``size`` (frame size, network size) keys, least recently used first."""

    def __init__(self, device, capture, size=CACHED_SIZES):
        self.device, self.capture, self.size = device, capture, size
        self.pipelines = OrderedDict()
        self.pool = torch.cuda.graph_pool_handle() if capture else None
        self.built = 0  # pipelines prepared so far (a test counts rebuilds with it)

    def get(self, key, make_steps):
        """The pipeline of ``key``, built with ``make_steps()`` when it is not kept."""
        pipeline = self.pipelines.get(key)
        if pipeline is None:
            while len(self.pipelines) >= self.size:
                self.pipelines.popitem(last=False)  # the oldest size's buffers and graph go first
            pipeline = StaticPipeline(key, self.device, make_steps(), self.capture, self.pool)
            self.pipelines[key] = pipeline
            self.built += 1
        self.pipelines.move_to_end(key)
        return pipeline

    def clear(self):
        self.pipelines.clear()
