"""int8 quantization: a real QDQ graph with the sensitive layers left in fp32, cached and re-keyed."""

import onnx
import pytest
import torch

from model import load_model, save_checkpoint
from model.data.examples import frames
from model.export import quantize
from model.export.artefacts import Exports

SMALL = frames((64, 96))


@pytest.fixture
def counted(monkeypatch):
    calls = []
    real = quantize.quantize

    def counting(graph, frames):
        calls.append(len(frames))
        return real(graph, frames)

    monkeypatch.setattr(quantize, "quantize", counting)
    return calls


def test_int8_graph_is_quantized_with_first_conv_and_heads_kept(fitted_ckpt):
    exports = Exports(load_model(fitted_ckpt), SMALL)
    graph = onnx.load_from_string(quantize.quantize(exports.onnx(), SMALL))
    kinds = {n.op_type for n in graph.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= kinds
    quantized_inputs = {i for n in graph.graph.node if n.op_type == "DequantizeLinear" for i in n.output}
    convs = {n.name: n for n in graph.graph.node if n.op_type == "Conv"}
    kept = [name for name in convs if any(h in name for h in ("/segm/", "/depth/", "/pre_segm/"))]
    assert kept
    for name in kept:  # a kept conv reads its weight straight from an fp32 initialiser, not from a dequantize
        assert convs[name].input[1] not in quantized_inputs


def test_the_cache_is_reused_and_a_different_checkpoint_makes_a_new_one(tmp_path, fitted_ckpt, counted,
                                                                       monkeypatch):
    monkeypatch.delenv("JOINTSEG_CACHE")
    model = load_model(fitted_ckpt)
    first = tmp_path / "first.ckpt"
    save_checkpoint(model, first)
    a = load_model(first)
    graph = Exports(a).onnx()
    quantize.int8_graph(a, graph, SMALL)
    quantize.int8_graph(a, graph, SMALL)
    assert counted == [len(SMALL)]
    cached = list(tmp_path.glob(".first.ckpt.int8-*.onnx"))
    assert len(cached) == 1
    with torch.no_grad():
        model.heads["depth"].depth.bias.add_(0.5)
    second = tmp_path / "second.ckpt"
    save_checkpoint(model, second)
    b = load_model(second)
    quantize.int8_graph(b, Exports(b).onnx(), SMALL)
    assert len(counted) == 2 and quantize.cache_path(a, SMALL) != quantize.cache_path(b, SMALL)
    quantize.int8_graph(a, graph, frames((64, 80)))  # other calibration frames: another key too
    assert len(counted) == 3


def test_an_unwritable_checkpoint_folder_or_no_file_caches_in_the_user_folder(tmp_path, fitted_ckpt, monkeypatch):
    monkeypatch.delenv("JOINTSEG_CACHE")
    monkeypatch.setattr(quantize, "USER_CACHE", tmp_path / "user")
    model = load_model(fitted_ckpt)
    assert quantize.cache_path(model, SMALL).parent == fitted_ckpt.parent  # beside the checkpoint
    monkeypatch.setattr(quantize.os, "access", lambda path, mode: False)
    assert quantize.cache_path(model, SMALL).parent == tmp_path / "user"
    model.source = None  # an untrained network: no file to sit beside
    assert quantize.cache_path(model, SMALL).parent == tmp_path / "user"


def test_a_graph_calibrated_on_the_users_frames_is_preferred(tmp_path, fitted_ckpt, counted, monkeypatch):
    monkeypatch.setenv("JOINTSEG_CACHE", str(tmp_path / "cache"))
    model = load_model(fitted_ckpt)
    graph = Exports(model).onnx()
    mine = quantize.int8_graph(model, graph, frames((64, 80)))
    quantize.keep_calibrated(model, mine)
    assert quantize.int8_graph(model, graph) == mine and len(counted) == 1  # not calibrated again
    assert quantize.cache_path(model).is_file()


def test_export_with_calibration_frames_gives_the_engine_that_graph(tmp_path, fitted_ckpt, monkeypatch):
    import cv2

    monkeypatch.setenv("JOINTSEG_CACHE", str(tmp_path / "cache"))

    from model.export.onnx import main

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(frames((60, 80))):
        cv2.imwrite(str(folder / f"{i}.png"), frame[:, :, ::-1])
    model = load_model(fitted_ckpt)
    assert not quantize.cache_path(model).exists()
    assert main([str(fitted_ckpt), "--onnx", str(tmp_path / "net.onnx"), "--int8", "--calibrate", str(folder)]) == 0
    assert quantize.cache_path(model).read_bytes() == (tmp_path / "net.int8.onnx").read_bytes()


def test_the_cache_folder_can_be_chosen(tmp_path, fitted_ckpt, monkeypatch):
    monkeypatch.setenv("JOINTSEG_CACHE", str(tmp_path / "mine"))
    assert quantize.cache_path(load_model(fitted_ckpt), SMALL).parent == tmp_path / "mine"
