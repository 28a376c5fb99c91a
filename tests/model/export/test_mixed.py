"""Accuracy-aware mixed int8 on a tiny input: the search bisects its steps for the fewest layers in fp32 that
let the guard hold, its result is cached by weights, frames, guard and CPU, a stale or corrupt cache is refused,
deleted and rebuilt."""
import logging

import pytest

from model import load_model
from model.data.examples import frames
from model.export import mixed, quantize
from model.export.artefacts import Exports
from model.export.guard import Guard

TINY = frames((48, 64))
LAX = Guard(min_labels=0.0, max_depth_error=1.0)


@pytest.fixture(scope="module")
def network(fitted_ckpt):
    model = load_model(fitted_ckpt)
    return model, Exports(model).onnx()


@pytest.fixture
def searches(monkeypatch):
    calls = []
    real = mixed.search

    def counting(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(mixed, "search", counting)
    return calls


@pytest.fixture
def few_steps(monkeypatch):
    monkeypatch.setattr(mixed, "STEPS", (0, 2))  # then every conv: three graphs at most


def test_a_guard_plain_int8_passes_keeps_only_the_recipes_convs(network):
    model, graph = network
    found = mixed.search(graph, TINY, LAX, model.tasks)
    assert [s.kept for s in found.curve] == [0] and found.curve[0].passed
    assert all(why.startswith("kept by the recipe") for _, why in found.kept)


def test_the_search_bisects_to_the_first_step_the_guard_passes(network, monkeypatch):
    model, graph = network
    plain = mixed.search(graph, TINY, LAX, model.tasks).curve[0]
    guard = Guard(min_labels=(plain.labels + 1.0) / 2, max_depth_error=1.0)  # stricter than plain int8 gives
    made, real = [], quantize.quantize_prepared

    def counted(prepared, inputs, excluded, *rest):
        made.append(excluded)
        return real(prepared, inputs, excluded, *rest)

    monkeypatch.setattr(quantize, "quantize_prepared", counted)
    found = mixed.search(graph, TINY, guard, model.tasks)
    assert [s.passed for s in found.curve] == [False] * (len(found.curve) - 1) + [True]
    assert found.curve[-1].labels >= guard.min_labels and found.curve[-1].kept > 0
    kept = [s.kept for s in found.curve]
    assert kept == sorted(kept) and kept[-2] == max(s for s in mixed.STEPS if s < kept[-1])  # the step before failed
    assert len(made) <= 1 + 4  # plain int8, then a bisection of at most 14 steps: 4 graphs, not one per step
    returned = {why for _, why in found.kept if "SQNR" in why}  # the worst-ranked layers, each with its SQNR
    assert 0 < len(returned) <= found.curve[-1].kept
    assert found.report()[0].startswith(f"mixed int8: {len(found.kept)} nodes in fp32")


def test_no_mix_within_the_guard_is_one_clear_error(network, few_steps):
    model, graph = network
    with pytest.raises(quantize.QuantizationError, match=r"^no int8 mix passes the accuracy guard \(labels >= 101"):
        mixed.search(graph, TINY, Guard(min_labels=1.01), model.tasks)


def test_the_result_is_cached_and_reused(network, searches, tmp_path, monkeypatch):
    monkeypatch.setenv("JOINTSEG_CACHE", str(tmp_path))
    model, graph = network
    first = mixed.mixed_int8(model, graph, TINY, LAX)
    second = mixed.mixed_int8(model, graph, TINY, LAX)
    assert len(searches) == 1 and mixed.cache_path(model, TINY, LAX).is_file()
    assert (second.kept, second.curve) == (first.kept, first.curve)
    assert second.graph == mixed.cache_path(model, TINY, LAX).read_bytes()


def test_another_cpu_guard_or_frames_is_another_cache_entry(network, tmp_path, monkeypatch):
    monkeypatch.setenv("JOINTSEG_CACHE", str(tmp_path))
    model, _ = network
    here = mixed.cache_path(model, TINY, LAX)
    assert mixed.cache_path(model, TINY, Guard()) != here
    assert mixed.cache_path(model, frames((48, 80)), LAX) != here
    monkeypatch.setattr(mixed, "cpu_isa", lambda: "avx2")
    assert mixed.cache_path(model, TINY, LAX) != here


def test_a_stale_cache_entry_is_refused_and_searched_again(network, searches, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("JOINTSEG_CACHE", str(tmp_path))
    model, graph = network
    mixed.mixed_int8(model, graph, TINY, LAX)
    other = mixed.cache_path(model, TINY, Guard(min_labels=0.0, max_depth_error=0.5))
    other.write_bytes(mixed.cache_path(model, TINY, LAX).read_bytes())  # an entry made for another key
    with caplog.at_level(logging.WARNING, logger="model.export.mixed"):
        mixed.mixed_int8(model, graph, TINY, Guard(min_labels=0.0, max_depth_error=0.5))
    assert len(searches) == 2
    assert f"int8 cache {other} cannot be used (made for other weights, frames or CPU)" in caplog.text


def test_a_truncated_mixed_cache_is_deleted_rebuilt_and_named(network, searches, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("JOINTSEG_CACHE", str(tmp_path))
    model, graph = network
    mixed.mixed_int8(model, graph, TINY, LAX)
    path = mixed.cache_path(model, TINY, LAX)
    path.write_bytes(path.read_bytes()[:1000])
    with caplog.at_level(logging.WARNING, logger="model.export.mixed"):
        found = mixed.mixed_int8(model, graph, TINY, LAX)
    assert len(searches) == 2 and f"int8 cache {path} cannot be used" in caplog.text
    assert path.read_bytes() != found.graph[:1000] and len(path.read_bytes()) > 1000  # whole again


def test_a_truncated_int8_cache_is_deleted_rebuilt_and_named(network, tmp_path, monkeypatch, caplog):
    import onnx

    monkeypatch.setenv("JOINTSEG_CACHE", str(tmp_path))
    model, graph = network
    quantize.int8_graph(model, graph, TINY)
    path = quantize.cache_path(model, TINY)
    path.write_bytes(path.read_bytes()[:1000])
    with caplog.at_level(logging.WARNING, logger="model.export.quantize"):
        data = quantize.int8_graph(model, graph, TINY)
    assert f"int8 cache {path} cannot be loaded" in caplog.text and "deleted, making it again" in caplog.text
    assert path.read_bytes() == data and onnx.load_from_string(data).graph.node


def test_exports_run_the_mixed_graph_when_given_a_guard(network, tmp_path, monkeypatch):
    monkeypatch.setenv("JOINTSEG_CACHE", str(tmp_path))
    model, _ = network
    heard = []
    exports = Exports(model, calibration=TINY, guard=LAX)
    exports.progress = heard.append
    assert exports.int8() == exports.mixed().graph
    assert heard[0] == "int8: calibrating" and any("vs fp32" in m for m in heard)
