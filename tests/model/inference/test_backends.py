"""One contract over every registered backend: what it declares, and what it gives for every precision it
serves here, on a network fitted to the example frames (well-conditioned, so precision can be judged)."""
import gc
import weakref

import numpy as np
import pytest
import torch

from model import load_model
from model.export.artefacts import Exports
from model.export.guard import agreement
from model.inference import backends
from model.processing import normalise
from tests.conftest import EXAMPLES, read_rgb

CPU_PAIRS = [(cls.name, p) for cls in backends.REGISTRY.values() for p in cls.precisions.get("cpu", ())]


@pytest.fixture(scope="module")
def exports(fitted_ckpt):
    return Exports(load_model(fitted_ckpt))


@pytest.fixture(scope="module")
def x():
    return normalise(read_rgb(EXAMPLES / "ExpNYUD_three" / "000433.png")[::4, ::4])  # 120 x 160


@pytest.fixture(scope="module")
def expected(exports, x):
    with torch.no_grad():
        return exports.model(x)


@pytest.mark.parametrize("cls", backends.REGISTRY.values(), ids=backends.names())
def test_declarations(cls):
    assert cls.name and cls.label and backends.get(cls.name) is cls
    assert set(cls.precisions) <= {"cpu", "cuda"}
    for device, precisions in cls.precisions.items():
        assert set(precisions) <= {"fp32", "fp16", "bf16", "int8"}
        assert set(cls.auto_precisions.get(device, ())) <= set(precisions)
    problem = cls.problem()
    assert problem is None or (isinstance(problem, str) and "\n" not in problem)
    assert cls.graphs == (cls.name == "torch")  # only PyTorch's calls can be captured in a CUDA graph


@pytest.mark.parametrize("name, precision", CPU_PAIRS, ids=[f"{n}-{p}" for n, p in CPU_PAIRS])
def test_every_backend_and_precision_runs_the_network(name, precision, exports, x, expected):
    cls = backends.get(name)
    if cls.problem() or not cls.serves("cpu", precision):
        pytest.skip(f"{name} {precision} does not run on this machine: {cls.problem() or 'not served here'}")
    runner = cls(exports, "cpu", precision)
    with torch.no_grad():
        outputs = runner(x.to(runner.input_dtype))
    assert len(outputs) == len(exports.model.tasks)
    for out, ref in zip(outputs, expected):
        assert out.shape == ref.shape and out.device.type == "cpu" and torch.isfinite(out).all()
    measured = agreement(expected, outputs, exports.model.tasks)
    if precision == "fp32":
        for out, ref in zip(outputs, expected):
            assert (out.float() - ref).abs().max() <= 1e-3 * ref.abs().max()
    else:  # reduced precisions are judged by the guard at run time; here they must at least be the same network
        assert measured.labels >= 0.9 and measured.depth_error <= 0.05
    gone = weakref.ref(runner)
    runner.close()
    del runner
    gc.collect()
    assert gone() is None


def test_available_lists_only_what_runs_here():
    pairs = backends.available("cpu")
    assert ("torch", "fp32") in [(c.name, p) for c, p in pairs]
    assert all(c.serves("cpu", p) and not c.problem() for c, p in pairs)
    assert [p for _, p in backends.available("cpu", "int8", backend="torch")] == []


def test_exports_are_made_once_and_shared(exports):
    assert exports.onnx() is exports.onnx()


def test_fastest_picks_the_lowest_median(x):
    class Fake:
        input_dtype = torch.float32
        device = torch.device("cpu")

        def __init__(self, key, seconds):
            self.key, self.seconds = key, seconds

        def __call__(self, x):
            import time

            time.sleep(self.seconds)

    slow, quick = Fake("slow fp32", 0.02), Fake("quick fp32", 0.0)
    chosen, medians = backends.fastest([slow, quick], x, repeats=3)
    assert chosen is quick and medians["slow fp32"] > medians["quick fp32"]
    assert np.isfinite(list(medians.values())).all()
