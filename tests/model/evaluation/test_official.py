"""Evaluation straight from NYUDv2's official files (tiny ones in the exact layout), against figures computed here."""
import csv
import json
import os
import shutil
import subprocess
import sys

import cv2
import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model import load_model
from model.data.nyud_export import export
from model.data.nyud_mat import NyudMat, read_splits
from model.evaluation.evaluate import main
from model.evaluation.official import OfficialSplit
from model.processing import normalise
from tests.conftest import EXAMPLES, REFERENCE_CKPT, ROOT, read_rgb
from tests.model.nyud_files import random_frames, write_labeled, write_splits

H, W = 96, 128  # the frames; the network sees them at 48 x 64 (--size 64)
TRAIN, TEST = [2, 5], [1, 3, 4, 6]


def example_frames():
    """Six frames: the two NYUD example images and depths (shrunk, flipped for variety), random labels 0..894."""
    rng = np.random.default_rng(1)
    frames = []
    for folder, number in [("ExpNYUD_three", "000433"), ("ExpNYUD_joint", "000464")] * 3:
        image = cv2.resize(read_rgb(EXAMPLES / folder / f"{number}.png"), (W, H), interpolation=cv2.INTER_AREA)
        png = cv2.imread(str(EXAMPLES / folder / f"depth_gt_{number}.png"), cv2.IMREAD_UNCHANGED)
        depth = cv2.resize(png, (W, H), interpolation=cv2.INTER_NEAREST).astype(np.float32) / 5000
        if len(frames) % 3 == 1:
            image, depth = image[:, ::-1].copy(), depth[:, ::-1].copy()
        frames.append((image, depth, rng.integers(0, 895, (H, W)).astype(np.uint16)))
    return frames


@pytest.fixture
def official(tmp_path):
    frames = example_frames()
    mat = write_labeled(tmp_path / "nyu_depth_v2_labeled.mat", frames)
    return frames, mat, write_splits(tmp_path / "splits.mat", TRAIN, TEST)


def evaluate(tmp_path, weights, source, *extra):
    out_json, out_csv = tmp_path / "m.json", tmp_path / "m.csv"
    code = main(["-w", str(weights), "--dataset", "nyud", *source, "--size", "64", "--json", str(out_json),
                 "--per-image", str(out_csv), *extra])
    with open(out_csv) as f:
        rows = list(csv.DictReader(f))
    return code, json.loads(out_json.read_text()), rows


def test_only_the_chosen_split_is_evaluated(tmp_path, official, metric_ckpt):
    _, mat, splits = official
    code, reported, rows = evaluate(tmp_path, metric_ckpt, ["--nyud-mat", str(mat), "--splits", str(splits)])
    assert code == 0 and [int(r["line"]) for r in rows] == TEST
    assert reported["samples"] == reported["segm_images"] == reported["depth_images"] == 4
    assert reported["split"] == "test" and reported["nyud_mat"] == str(mat) and reported["complete"] is True
    test_rmse = reported["rmse"]
    code, reported, rows = evaluate(tmp_path, metric_ckpt, ["--nyud-mat", str(mat), "--splits", str(splits),
                                                            "--split", "train"])
    assert code == 0 and [int(r["line"]) for r in rows] == TRAIN and reported["samples"] == 2
    assert reported["rmse"] != test_rmse


def monodepth2_errors(gt, pred):
    """monodepth2's compute_errors (evaluate_depth.py), for one image's valid pixels."""
    thresh = np.maximum(gt / pred, pred / gt)
    a1, a2, a3 = ((thresh < 1.25 ** k).mean() for k in (1, 2, 3))
    rmse = np.sqrt(((gt - pred) ** 2).mean())
    rmse_log = np.sqrt(((np.log(gt) - np.log(pred)) ** 2).mean())
    abs_rel = np.mean(np.abs(gt - pred) / gt)
    sq_rel = np.mean(((gt - pred) ** 2) / gt)
    return {"abs_rel": abs_rel, "sq_rel": sq_rel, "rmse": rmse, "rmse_log": rmse_log,
            "delta1": a1, "delta2": a2, "delta3": a3}


def test_depth_figures_are_monodepth2s_protocol_on_the_same_predictions(tmp_path, official, metric_ckpt):
    frames, mat, splits = official
    code, reported, _ = evaluate(tmp_path, metric_ckpt, ["--nyud-mat", str(mat), "--splits", str(splits)])
    model, errors = load_model(metric_ckpt), []
    for number in TEST:
        image, gt, _ = frames[number - 1]
        x = F.interpolate(normalise(image), size=(48, 64), mode="bilinear", align_corners=False)
        with torch.no_grad():
            depth = model(x)[1]
        pred = F.interpolate(depth, size=(H, W), mode="bilinear", align_corners=False)[0, 0].abs().double().numpy()
        gt = gt.astype(np.float64)
        mask = (gt > 1e-3) & (gt < 10)  # monodepth2's MIN_DEPTH, MAX_DEPTH set to NYUD's
        errors.append(monodepth2_errors(gt[mask], np.clip(pred[mask], 1e-3, 10)))
    assert code == 0
    for key in errors[0]:
        assert reported[key] == pytest.approx(np.mean([e[key] for e in errors]), rel=1e-5), key


def test_segmentation_through_the_mapping_equals_the_exported_list(tmp_path, official, metric_ckpt):
    _, mat, splits = official
    code, direct, direct_rows = evaluate(tmp_path, metric_ckpt, ["--nyud-mat", str(mat), "--splits", str(splits)])
    with NyudMat(mat) as reader:
        lists, complete = export(reader, read_splits(splits), tmp_path / "nyud", ("test",), progress=False)
    assert complete and code == 0
    code, listed, listed_rows = evaluate(tmp_path, metric_ckpt, ["--list", str(lists["test"][0])])
    assert code == 0 and listed["segm_images"] == direct["segm_images"] == 4
    assert 0 < direct["miou"] < 1
    for key in ("miou", "pixel_acc", "mean_acc", "iou"):
        assert direct[key] == listed[key], key
    assert [r["miou"] for r in direct_rows] == [r["miou"] for r in listed_rows]
    # depth went through 16-bit PNGs (steps of 0.2 mm)
    assert direct["rmse"] == pytest.approx(listed["rmse"], rel=1e-3)


def test_catalogue_weights_are_shown_beside_the_papers_figures(tmp_path, official, metric_ckpt, capsys):
    _, mat, splits = official
    named = tmp_path / "ExpNYUD_joint.ckpt"  # the catalogue's file for 'nyud'
    shutil.copy(metric_ckpt, named)
    code, reported, _ = evaluate(tmp_path, named, ["--nyud-mat", str(mat), "--splits", str(splits)])
    out = capsys.readouterr().out
    assert code == 0 and "Beside the paper (Nekrasov et al., ICRA 2019), nyud weights:" in out
    paper = reported["paper"]
    assert paper["weights"] == "nyud"
    miou, rmse = paper["figures"]
    assert miou["metric"] == "mIoU" and miou["paper"] == 42.0
    assert miou["run"] == pytest.approx(100 * reported["miou"])
    assert miou["difference"] == pytest.approx(100 * reported["miou"] - 42.0)
    assert rmse["metric"] == "RMSE" and rmse["paper"] == 0.565 and rmse["run"] == pytest.approx(reported["rmse"])
    row = next(line for line in out.splitlines() if line.strip().startswith("RMSE") and "0.565" in line)
    assert f"{reported['rmse']:.3f}" in row and f"{reported['rmse'] - 0.565:+.3f}" in row
    code, reported, _ = evaluate(tmp_path, metric_ckpt, ["--nyud-mat", str(mat), "--splits", str(splits)])
    assert "paper" not in reported and "Beside the paper" not in capsys.readouterr().out


def test_ctrl_c_reports_what_was_done(tmp_path, official, monkeypatch, capsys):
    _, mat, splits = official
    real, calls = OfficialSplit.add, []

    def add(self, evaluation, frame):
        calls.append(frame.line)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, evaluation, frame)

    monkeypatch.setattr(OfficialSplit, "add", add)
    code, reported, rows = evaluate(tmp_path, REFERENCE_CKPT, ["--nyud-mat", str(mat), "--splits", str(splits)])
    assert code == 130 and reported["complete"] is False and reported["evaluated"] == 2
    assert [int(r["line"]) for r in rows] == TEST[:2]
    assert "interrupted after 2 of 4 samples" in capsys.readouterr().err


def damage(tmp_path, how):
    mat = tmp_path / "nyu_depth_v2_labeled.mat"
    if how == "not hdf5":
        mat.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    elif how == "missing dataset":
        write_labeled(mat, random_frames(6, H, W), skip=("labels",))
    elif how == "wrong shapes":
        write_labeled(mat, random_frames(6, H, W))
        with h5py.File(mat, "r+") as f:
            del f["depths"]
            f["depths"] = np.zeros((6, H, W), np.float32)  # as NumPy holds them, not MATLAB's reversed axes
    elif how == "index past N":
        write_labeled(mat, random_frames(5, H, W))
    else:
        write_labeled(mat, random_frames(6, H, W))
        os.truncate(mat, os.path.getsize(mat) - 1000)
    return mat


@pytest.mark.parametrize("how, says", [("not hdf5", "not an HDF5 file"), ("missing dataset", "no 'labels' dataset"),
                                       ("wrong shapes", "depths must be numbers of the images' shape"),
                                       ("index past N", "testNdxs holds index 6, past the 5 images"),
                                       ("truncated", "damaged or truncated")])
def test_bad_files_are_one_line_errors(tmp_path, capsys, how, says):
    mat = damage(tmp_path, how)
    splits = write_splits(tmp_path / "splits.mat", TRAIN, TEST)
    assert main(["-w", str(REFERENCE_CKPT), "--dataset", "nyud", "--nyud-mat", str(mat),
                 "--splits", str(splits)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and says in err


@pytest.mark.parametrize("flags, says", [
    (["--dataset", "kitti", "--nyud-mat", "x.mat"], "--nyud-mat goes with --dataset nyud"),
    (["--dataset", "nyud", "--list", "LIST", "--splits", "s.mat"], "--splits and --split go with --nyud-mat"),
    (["--dataset", "nyud", "--list", "LIST", "--split", "train"], "--splits and --split go with --nyud-mat"),
    (["--dataset", "nyud", "--nyud-mat", "x.mat", "--root", "."], "without --root"),
    (["--dataset", "nyud", "--list", "LIST", "--nyud-mat", "x.mat"], "not allowed with argument"),
    (["--dataset", "nyud"], "one of the arguments --list --nyud-mat is required")])
def test_flags_that_do_not_go_together_are_usage_errors(tmp_path, capsys, flags, says):
    listing = tmp_path / "val.txt"
    listing.write_text("a.png\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["-w", str(REFERENCE_CKPT), *[str(listing) if f == "LIST" else f for f in flags]])
    assert exit_info.value.code == 2 and says in capsys.readouterr().err


PEAK_RSS = """
import resource, sys
from model.data import nyud_export
from model.evaluation import evaluate
mat, splits, out = sys.argv[1:]
common = ["--nyud-mat", mat, "--splits", splits]
assert evaluate.main(["-w", {ckpt!r}, "--dataset", "nyud", "--size", "32", *common]) == 0
assert nyud_export.main([*common, "--split", "test", "--out", out]) == 0
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_memory_stays_flat_whatever_the_files_size(tmp_path):
    """Peak RSS of evaluating and exporting 100 and then 300 frames of 120 x 160 (173 kB each): the 200 frames
    more (35 MB) must not show; a reader holding what it read would grow by all of it."""
    peaks = {}
    for count in (100, 300):
        mat = write_labeled(tmp_path / f"nyu{count}.mat", random_frames(count, 120, 160, seed=count), count=count)
        splits = write_splits(tmp_path / f"splits{count}.mat", [1], list(range(1, count + 1)))
        script = PEAK_RSS.format(ckpt=str(REFERENCE_CKPT))
        done = subprocess.run([sys.executable, "-c", script, str(mat), str(splits), str(tmp_path / f"out{count}")],
                              capture_output=True, text=True, cwd=ROOT, timeout=600,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert done.returncode == 0, done.stderr[-2000:]
        peaks[count] = int(done.stdout.split()[-1]) * 1024
        assert len(list((tmp_path / f"out{count}" / "rgb").iterdir())) == count
    frame_bytes = 120 * 160 * (3 + 4 + 2)  # image, depth, labels
    assert peaks[300] - peaks[100] < 200 * frame_bytes / 3, {k: f"{v / 2**20:.0f} MiB" for k, v in peaks.items()}
