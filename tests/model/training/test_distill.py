"""Distillation: the teacher's argmax fills the missing labels, existing labels stay, runs resume."""
import cv2
import numpy as np
import pytest
import torch

from model import load_model
from model.data.datalist import read_list
from model.data.datasets import read_depth, read_normals
from model.network.lwrefinenet import build_model
from model.processing import depth_metres, labels_from_logits, normalise, resize
from model.training.distill import main
from model.weights.checkpoint import save_checkpoint


@pytest.fixture
def teacher_path(tmp_path):
    torch.manual_seed(1)
    model = build_model("mobilenet_v2", 4, ("segm", "depth", "normals")).eval()
    path = tmp_path / "teacher.ckpt"
    save_checkpoint(model, path)
    return path


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("a", "b", "c"):
        cv2.imwrite(str(folder / f"{name}.png"), rng.integers(0, 255, (64, 80, 3), dtype=np.uint8))
    cv2.imwrite(str(folder / "a_mask.png"), np.full((64, 80), 2, np.uint8))
    cv2.imwrite(str(folder / "c_depth.png"), np.full((64, 80), 7000, np.uint16))
    lst = folder / "train.txt"
    lst.write_text("a.png\ta_mask.png\t-\nb.png\n c.png\t-\tc_depth.png\n".replace("\n ", "\n"))
    return lst


def teacher_outputs(path, image_path):
    teacher = load_model(path)
    image = cv2.cvtColor(cv2.imread(str(image_path)), cv2.COLOR_BGR2RGB)
    with torch.no_grad():
        return dict(zip(teacher.tasks, teacher(normalise(image)))), image.shape[:2]


def test_distill_fills_missing_labels_with_the_teachers_argmax(teacher_path, data, tmp_path, capsys):
    out = tmp_path / "pseudo"
    assert main(["--teacher", str(teacher_path), "--list", str(data), "--out", str(out), "--device", "cpu"]) == 0
    assert "3 samples: 7 pseudo-labels written" in capsys.readouterr().out
    a, b, c = read_list(out / "train.txt")
    assert a.mask.resolve() == (data.parent / "a_mask.png").resolve()
    assert c.depth.resolve() == (data.parent / "c_depth.png").resolve()
    for sample in (a, b, c):
        assert sample.mask.exists() and sample.depth.exists() and sample.normals.exists()
    outputs, size = teacher_outputs(teacher_path, b.rgb)
    written = cv2.imread(str(b.mask), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(written, labels_from_logits(outputs["segm"], size)[0].numpy())
    expected = depth_metres(outputs["depth"], size)[0].numpy()
    assert np.allclose(read_depth(b.depth, 1000.0), expected, atol=1e-3)  # the teacher's (generic) preset: 1000/m
    normals = read_normals(b.normals)
    expected_n = torch.nn.functional.normalize(resize(outputs["normals"], size), dim=1)[0].permute(1, 2, 0).numpy()
    assert np.mean(np.sum(normals * expected_n, axis=-1) > 0.999) > 0.99


def test_threshold_turns_unsure_pixels_into_ignore(teacher_path, data, tmp_path):
    outputs, size = teacher_outputs(teacher_path, data.parent / "b.png")
    confidence, labels = resize(outputs["segm"], size).softmax(1).max(1)
    threshold = float(confidence.median())  # about half the pixels are below it
    out = tmp_path / "pseudo"
    assert main(["--teacher", str(teacher_path), "--list", str(data), "--out", str(out), "--tasks", "segm",
                 "--threshold", str(threshold)]) == 0
    b = read_list(out / "train.txt")[1]
    written = cv2.imread(str(b.mask), cv2.IMREAD_UNCHANGED)
    sure = (confidence[0] >= threshold).numpy()
    assert 0.2 < sure.mean() < 0.8
    assert (written[~sure] == 255).all() and np.array_equal(written[sure], labels[0].numpy()[sure])
    assert b.depth is None  # only segmentation was asked for


def test_distill_resumes_and_keeps_what_is_written(teacher_path, data, tmp_path, capsys):
    out = tmp_path / "pseudo"
    args = ["--teacher", str(teacher_path), "--list", str(data), "--out", str(out)]
    assert main(args) == 0
    b = read_list(out / "train.txt")[1]
    marker = np.full((64, 80), 3, np.uint8)
    cv2.imwrite(str(b.mask), marker)  # an earlier run's file is not recomputed
    b.depth.unlink()  # as if interrupted before it was written
    capsys.readouterr()
    assert main(args) == 0
    assert "1 pseudo-labels written, 6 already there" in capsys.readouterr().out
    assert np.array_equal(cv2.imread(str(b.mask), cv2.IMREAD_UNCHANGED), marker)
    assert b.depth.exists()


def test_distill_errors_are_one_line(teacher_path, data, tmp_path, capsys):
    assert main(["--teacher", str(tmp_path / "none.ckpt"), "--list", str(data), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert main(["--teacher", str(teacher_path), "--list", str(tmp_path / "no.txt"), "--out", str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    with pytest.raises(SystemExit):
        main(["--teacher", str(teacher_path), "--list", str(data), "--out", str(data.parent)])
