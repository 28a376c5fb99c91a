"""The CUDA path, on a GPU: fp16 against CPU fp32, graphs against eager, sizes, memory, threads.

Marked ``cuda`` and skipped where no CUDA device exists (``pytest -m cuda`` selects them); every fallback they
rely on has a CPU twin in test_engine.py and test_settings.py that runs everywhere.
"""
import gc
import threading

import numpy as np
import pytest
import torch

from model import Predictor, load_model
from model.inference.engine import network_size
from tests.conftest import EXAMPLES, read_rgb

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")]


@pytest.fixture(scope="module")
def fitted(fitted_ckpt):
    return load_model(fitted_ckpt)


@pytest.fixture(scope="module")
def frame():
    return read_rgb(EXAMPLES / "ExpNYUD_three" / "000433.png")


def allocated():
    torch.cuda.synchronize()
    gc.collect()
    return torch.cuda.memory_allocated()


@pytest.mark.parametrize("graphs", [False, True], ids=["eager", "graphs"])
def test_fp16_agrees_with_cpu_fp32_on_a_fitted_network(graphs, fitted, frame):
    cpu = Predictor(fitted, device="cpu", precision="fp32", backend="torch")(frame)
    predictor = Predictor(fitted, device="cuda", precision="fp16", graphs=graphs)
    gpu = predictor(frame)
    assert predictor.applied.device == "cuda" and predictor.applied.precision == "fp16"
    assert predictor.applied.graphs == graphs
    assert (gpu.labels == cpu.labels).mean() >= 0.99
    assert np.median(np.abs(gpu.depth - cpu.depth) / cpu.depth) <= 0.01


def test_fp32_on_cuda_is_fp32_not_tf32(fitted, frame):
    Predictor(fitted, device="cuda", precision="fp32")(frame)
    assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    Predictor(fitted, device="cuda", precision="fp32", tf32=True)(frame)
    assert torch.backends.cudnn.allow_tf32


def test_graphs_give_what_eager_gives(fitted, frame):
    eager = Predictor(fitted, device="cuda", precision="fp16", graphs=False)(frame)
    graphs = Predictor(fitted, device="cuda", precision="fp16", graphs=True)(frame)
    assert (eager.labels == graphs.labels).mean() >= 0.999
    assert np.abs(eager.depth - graphs.depth).max() <= 1e-2 * eager.depth.max()


def test_size_changes_and_alternating_sizes_prepare_each_size_once(fitted, frame):
    predictor = Predictor(fitted, device="cuda", precision="fp16")
    small = np.ascontiguousarray(frame[::2, ::2])
    for i in range(10):
        image = frame if i % 2 else small
        assert predictor(image).labels.shape == image.shape[:2]
    assert predictor.pipelines.built == 2
    predictor.size = 320
    result = predictor(frame)
    assert result.network_size == network_size(frame.shape[:2], 320) and result.labels.shape == frame.shape[:2]
    assert predictor.pipelines.built == 3


def test_memory_stays_flat_over_many_sizes_and_after_a_model_swap(fitted, frame):
    predictor = Predictor(fitted, device="cuda", precision="fp16")
    predictor(frame)
    baseline = allocated()
    for side in (200, 240, 280, 320, 360, 400, 440, 480, 520, 560, 600, 640):
        predictor.size = side
        predictor(frame)
    assert allocated() <= baseline * 1.5 + (64 << 20)  # only the last four sizes' buffers are kept
    predictor.close()
    swapped = Predictor(fitted, device="cuda", precision="fp16")
    swapped(frame)
    assert allocated() <= baseline * 1.1 + (16 << 20)
    swapped.close()


def test_close_frees_gpu_memory(fitted, frame):
    before = allocated()
    predictor = Predictor(fitted, device="cuda", precision="fp16")
    predictor(frame)
    assert allocated() > before
    predictor.close()
    assert allocated() <= before + (1 << 20)


def test_the_predictor_on_its_thread_while_another_thread_changes_size(fitted, frame):
    predictor = Predictor(fitted, device="cuda", precision="fp16")
    stop, errors, results = threading.Event(), [], []

    def run():
        try:
            while not stop.is_set():
                results.append(predictor(frame))
        except Exception as e:  # reported below
            errors.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    for side in (320, 480, 640, None) * 5:
        predictor.size = side
        threading.Event().wait(0.02)
    stop.set()
    thread.join()
    assert not errors and results
    assert all(r.labels.shape == frame.shape[:2] for r in results)
