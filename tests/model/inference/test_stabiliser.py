"""Temporal stabilisation through ``Predictor(stabilise=...)``, on the network fitted to the example frames: the
acceptance figures (still, pan), the resets (scene cut, source change, size change), every backend, the CUDA
graph path's CPU twin, and the flicker figure."""
import numpy as np
import pytest
import torch

from model import load_model
from model.benchmark.stabiliser import agreement, depth_noise, labels_changed, pan_sequence, still_sequence
from model.data import examples
from model.inference.backends import REGISTRY
from model.inference.engine import Predictor
from model.inference.flicker import FlickerMeter
from model.inference.stabiliser import DEFAULT_STRENGTH, strength_of

CPU = {"device": "cpu", "precision": "fp32", "size": 160}


@pytest.fixture(scope="module")
def fitted(fitted_ckpt):
    return load_model(fitted_ckpt)


@pytest.fixture(scope="module")
def still():
    return still_sequence(10)


def run(model, frames, stabilise, **settings):
    predictor = Predictor(model, **{"backend": "torch", **CPU, **settings}, stabilise=stabilise)
    results = [predictor(f) for f in frames]
    predictor.close()
    return results


def test_still_noisy_sequence_flickers_three_times_less_and_depth_noise_halves(fitted, still):
    off, on = run(fitted, still, False), run(fitted, still, True)
    changed_off, changed_on = labels_changed([r.labels for r in off]), labels_changed([r.labels for r in on])
    assert changed_off > 0.005  # the noise does flip labels without stabilisation
    assert changed_on * 3 <= changed_off
    assert depth_noise([r.depth for r in on]) * 2 <= depth_noise([r.depth for r in off])
    assert all("stabilise" in r.timings for r in on) and not any("stabilise" in r.timings for r in off)


def test_a_pan_is_followed_not_smeared(fitted):
    frames = pan_sequence(10)
    off, on = run(fitted, frames, False), run(fitted, frames, True)
    assert agreement([r.labels for r in on], [r.labels for r in off]) >= 0.9
    assert labels_changed([r.labels for r in off]) > 0.02  # the pan does move the labels


def test_a_scene_cut_starts_afresh(fitted, still):
    other = examples.frames(still[0].shape[:2], examples.NYUD[1:2])[0]
    fresh = run(fitted, [other], True)[0]
    after_cut = run(fitted, [*still[:5], other], True)[-1]
    np.testing.assert_array_equal(after_cut.labels, fresh.labels)
    np.testing.assert_array_equal(after_cut.depth, fresh.depth)


def test_reset_on_a_source_change_and_a_size_change(fitted, still):
    predictor = Predictor(fitted, backend="torch", **CPU, stabilise=True)
    first = predictor(still[0])
    blended = predictor(still[1])
    predictor.reset_stabiliser()
    again = predictor(still[0])
    np.testing.assert_array_equal(again.depth, first.depth)
    assert not np.array_equal(blended.depth, run(fitted, [still[1]], True)[0].depth)  # it did blend before
    predictor.size = 128  # another network size: nothing of the 160 state is blended in
    resized = predictor(still[1])
    np.testing.assert_array_equal(resized.depth, run(fitted, [still[1]], True, size=128)[0].depth)
    predictor.close()


def test_turned_on_and_off_at_run_time(fitted, still):
    predictor = Predictor(fitted, backend="torch", **CPU)
    assert predictor.stabilise == 0.0
    plain = predictor(still[0])
    predictor.stabilise = True
    assert predictor.stabilise == DEFAULT_STRENGTH
    first = predictor(still[0])
    np.testing.assert_array_equal(first.depth, plain.depth)  # a first frame is the network's own
    predictor.stabilise = False
    assert "stabilise" not in predictor(still[1]).timings
    predictor.close()


def test_a_result_keeps_its_maps_after_later_frames(fitted, still):
    predictor = Predictor(fitted, backend="torch", **CPU, resolution="network", stabilise=True)
    first = predictor(still[0])
    full = first.at_full_size()
    for frame in still[1:4]:
        predictor(frame)
    np.testing.assert_array_equal(first.at_full_size().depth, full.depth)
    predictor.close()


def test_the_cuda_graph_path_matches_eager_on_the_cpu(fitted, still):
    eager, static = run(fitted, still[:5], True), run(fitted, still[:5], True, graphs=True)
    for a, b in zip(eager, static):
        assert np.mean(a.labels == b.labels) > 0.999
        np.testing.assert_allclose(a.depth, b.depth, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", REGISTRY, ids=list(REGISTRY))
def test_every_backend_stabilises(backend, fitted, still):
    if REGISTRY[backend].problem():
        pytest.skip(f"{backend}: {REGISTRY[backend].problem()}")
    off, on = run(fitted, still[:6], False, backend=backend), run(fitted, still[:6], True, backend=backend)
    assert labels_changed([r.labels for r in on]) < labels_changed([r.labels for r in off])
    assert depth_noise([r.depth for r in on], 2) < depth_noise([r.depth for r in off], 2)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("graphs", [False, True], ids=["eager", "graphs"])
def test_on_cuda_the_filter_runs_on_the_gpu_and_agrees_with_its_cpu_twin(graphs, fitted, still):
    cpu = run(fitted, still[:6], True)
    cuda = run(fitted, still[:6], True, device="cuda", graphs=graphs)
    for a, b in zip(cpu, cuda):
        assert np.mean(a.labels == b.labels) > 0.99
        np.testing.assert_allclose(a.depth, b.depth, rtol=2e-2, atol=2e-2)
    predictor = Predictor(fitted, **{**CPU, "device": "cuda"}, graphs=graphs, stabilise=True)
    predictor(still[0])
    assert all(s.grey.is_cuda for s in predictor.stabiliser.states.values())
    predictor.close()


def test_strength_must_be_below_one():
    assert strength_of(True) == DEFAULT_STRENGTH and strength_of(False) == 0.0 and strength_of(0.5) == 0.5
    with pytest.raises(ValueError, match="0..1"):
        strength_of(1.0)


def test_the_flicker_meter_counts_changed_labels_and_still_depth(fitted, still):
    meter = FlickerMeter()
    off = run(fitted, still[:4], False)
    assert meter.update(off[0]) is None
    flicker = meter.update(off[1])
    assert flicker.labels_changed == pytest.approx(np.mean(off[0].labels != off[1].labels))
    relative = np.abs(off[1].depth - off[0].depth) / off[0].depth
    assert 0 < flicker.depth_change <= relative.max()
    for result in off[2:]:
        meter.update(result)
    assert meter.figure.labels_changed == pytest.approx(labels_changed([r.labels for r in off]))
    assert "labels changed" in meter.figure.describe()
    meter.reset()
    assert meter.figure is None and meter.update(off[0]) is None
