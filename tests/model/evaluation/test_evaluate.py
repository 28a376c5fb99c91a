"""Evaluation end to end on the release's example frames, against metrics computed here from the network."""
import csv
import json
import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model import get_preset, load_model
from model.data.datalist import Sample
from model.evaluation.evaluate import CROPS, Evaluation, class_block, main
from model.processing import normalise
from tests.conftest import EXAMPLES, REFERENCE_CKPT, read_rgb

NYUD = [(EXAMPLES / "ExpNYUD_three" / "000433.png", EXAMPLES / "ExpNYUD_three" / "segm_gt_000433.png",
         EXAMPLES / "ExpNYUD_three" / "depth_gt_000433.png", EXAMPLES / "ExpNYUD_three" / "norm_gt_000433.png"),
        (EXAMPLES / "ExpNYUD_joint" / "000464.png", EXAMPLES / "ExpNYUD_joint" / "segm_gt_000464.png",
         EXAMPLES / "ExpNYUD_joint" / "depth_gt_000464.png")]
KITTI = (EXAMPLES / "ExpKITTI_joint" / "000099.png", EXAMPLES / "ExpKITTI_joint" / "segm_gt_000099.png")


def write_list(path, rows):
    path.write_text("".join("\t".join(str(p) for p in row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize("interp", ["bilinear", "bicubic"])
def test_reported_metrics_equal_those_computed_from_the_network(tmp_path, metric_ckpt, interp):
    listing = write_list(tmp_path / "val.txt", NYUD)
    out_json, out_csv = tmp_path / "m.json", tmp_path / "m.csv"
    assert main(["--weights", str(metric_ckpt), "--dataset", "nyud", "--list", str(listing), "--size", "160",
                 "--interp", interp, "--json", str(out_json), "--per-image", str(out_csv)]) == 0
    reported = json.loads(out_json.read_text())

    model = load_model(metric_ckpt)
    sq_sum, pixels, correct, labelled, per_image = 0.0, 0, 0, 0, []
    for rgb, mask, depth_png, *_ in NYUD:
        x = F.interpolate(normalise(read_rgb(rgb)), size=(120, 160), mode="bilinear", align_corners=False)
        with torch.no_grad():
            segm, depth, _ = model(x)
        gt = cv2.imread(str(depth_png), cv2.IMREAD_UNCHANGED).astype(np.float64) / 5000.0
        pred = F.interpolate(depth, size=gt.shape, mode=interp, align_corners=False)[0, 0].abs().double().numpy()
        valid = (gt > 1e-3) & (gt < 10)  # predictions are 2.4 to 7.3 m: clipping to [1e-3, 10] leaves them
        err = (pred[valid] - gt[valid]) ** 2
        sq_sum, pixels = sq_sum + err.sum(), pixels + valid.sum()
        per_image.append(math.sqrt(err.mean()))
        gt_labels = cv2.imread(str(mask), cv2.IMREAD_UNCHANGED)
        labels = F.interpolate(segm, size=gt_labels.shape, mode=interp, align_corners=False)[0].argmax(0).numpy()
        known = gt_labels != 255
        correct, labelled = correct + (labels[known] == gt_labels[known]).sum(), labelled + known.sum()

    assert reported["rmse"] == pytest.approx(np.mean(per_image), rel=1e-6)
    assert reported["rmse_pooled"] == pytest.approx(math.sqrt(sq_sum / pixels), rel=1e-6)
    assert reported["depth_pixels"] == pixels and reported["depth_images"] == 2
    assert reported["pixel_acc"] == pytest.approx(correct / labelled)
    assert reported["evaluated"] == 2 and reported["skipped"] == 0 and reported["complete"] is True
    assert set(reported["iou"]) == set(get_preset("nyud").classes)
    normals = cv2.imread(str(NYUD[0][3]))
    assert reported["normals_pixels"] == int((np.abs(normals.astype(int) - 127) > 1).any(axis=2).sum())
    assert 0 <= reported["median_angle"] <= 180
    with open(out_csv) as f:
        rows = list(csv.DictReader(f))
    assert [float(r["rmse"]) for r in rows] == pytest.approx(per_image, rel=1e-6)
    assert rows[0]["mean_angle"] and not rows[1]["mean_angle"]  # only the first sample has normals


@pytest.fixture(scope="module")
def wide(tmp_path_factory, reference_state_dict):
    """A checkpoint predicting about 1.5 to 14.5 m on the NYUD examples, and its (prediction, ground truth) pairs in
    metres at the ground truth's size (long side 160, bilinear), computed here from the network."""
    sd = dict(reference_state_dict)
    sd["depth.weight"] = sd["depth.weight"] * 8e5
    sd["depth.bias"] = torch.full_like(sd["depth.bias"], 3.0)
    path = tmp_path_factory.mktemp("wide") / "wide.ckpt"
    torch.save({"state_dict": sd}, path)
    model, pairs = load_model(path), []
    for rgb, _, depth_png, *_ in NYUD:
        x = F.interpolate(normalise(read_rgb(rgb)), size=(120, 160), mode="bilinear", align_corners=False)
        with torch.no_grad():
            depth = model(x)[1]
        gt = cv2.imread(str(depth_png), cv2.IMREAD_UNCHANGED).astype(np.float64) / 5000.0
        pred = F.interpolate(depth, size=gt.shape, mode="bilinear", align_corners=False)[0, 0].abs().double().numpy()
        pairs.append((pred, gt))
    return path, pairs


def eigen_errors(pairs, min_depth, max_depth, clip=True):
    """The errors of the standard protocol written out here: ground truth in (min_depth, max_depth), predictions
    clipped to [min_depth, max_depth] (else raised to 1e-3 in the log and ratio terms), per image then averaged;
    RMSE and log RMSE also pooled over all valid pixels."""
    rows, sq_all, log_sq_all = [], [], []
    for pred, gt in pairs:
        valid = (gt > min_depth) & (gt < max_depth)
        p, g = pred[valid], gt[valid]
        if clip:
            p = np.minimum(np.maximum(p, min_depth), max_depth)
        positive = np.maximum(p, 1e-3)
        sq, log_sq = (g - p) ** 2, (np.log(g) - np.log(positive)) ** 2
        ratio = np.maximum(g / positive, positive / g)
        rows.append({"rmse": math.sqrt(sq.mean()), "rmse_log": math.sqrt(log_sq.mean()),
                     "abs_rel": (np.abs(g - p) / g).mean(), "sq_rel": (sq / g).mean(), "delta1": (ratio < 1.25).mean()})
        sq_all.append(sq)
        log_sq_all.append(log_sq)
    errors = {k: np.mean([r[k] for r in rows]) for k in rows[0]}
    errors.update(rmse_pooled=math.sqrt(np.concatenate(sq_all).mean()),
                  rmse_log_pooled=math.sqrt(np.concatenate(log_sq_all).mean()), pixels=sum(map(len, sq_all)))
    return errors


STANDARD = {"min_depth": 1e-3, "max_depth": 10.0, "clip": True}  # NYUD's defaults
NARROW = {"min_depth": 2.0, "max_depth": 5.9298, "clip": True}  # 5.9298 m: the first image's farthest pixels


def test_the_wide_predictions_exceed_the_protocol_ranges(wide):
    _, pairs = wide
    pred, gt = pairs[0]
    inside = (gt > 1e-3) & (gt < 10)
    assert (pred[inside] > 10).sum() > 1000 and 0 < (pred[inside] < 10).sum()
    inside = (gt > 2) & (gt < 5.9298)
    assert (pred[inside] < 2).sum() > 100 and (pred[inside] > 5.9298).sum() > 1000
    assert (gt == 5.9298).any() and (gt == 0).any() and ((gt > 0) & (gt < 2)).any()


@pytest.mark.parametrize("flags, protocol, headline", [
    ([], STANDARD, "image-mean"),
    (["--min-depth", "2", "--max-depth", "5.9298"], NARROW, "image-mean"),
    (["--no-clip"], {**STANDARD, "clip": False}, "image-mean"),
    (["--rmse", "pooled"], STANDARD, "pooled"),
])
def test_depth_protocol_of_the_report_and_its_flags(tmp_path, capsys, wide, flags, protocol, headline):
    path, pairs = wide
    listing = write_list(tmp_path / "val.txt", [row[:3] for row in NYUD])
    out_json = tmp_path / "m.json"
    assert main(["--weights", str(path), "--dataset", "nyud", "--list", str(listing), "--size", "160",
                 "--json", str(out_json), *flags]) == 0
    reported = json.loads(out_json.read_text())
    expected = eigen_errors(pairs, **protocol)

    assert reported["protocol"] == {"min_depth": protocol["min_depth"], "max_depth": protocol["max_depth"],
                                    "clip_predictions": protocol["clip"], "rmse": headline, "crop": None}
    assert reported["depth_pixels"] == expected["pixels"] and reported["depth_images"] == 2
    pooled = headline == "pooled"
    assert reported["rmse"] == pytest.approx(expected["rmse_pooled" if pooled else "rmse"], rel=1e-6)
    assert reported["rmse_log"] == pytest.approx(expected["rmse_log_pooled" if pooled else "rmse_log"], rel=1e-6)
    assert reported["rmse_image_mean"] == pytest.approx(expected["rmse"], rel=1e-6)
    assert reported["rmse_pooled"] == pytest.approx(expected["rmse_pooled"], rel=1e-6)
    assert reported["rmse_log_pooled"] == pytest.approx(expected["rmse_log_pooled"], rel=1e-6)
    for key in ("abs_rel", "sq_rel", "delta1"):
        assert reported[key] == pytest.approx(expected[key], rel=1e-6, abs=1e-9)
    if flags:  # each flag changes the headline RMSE of the standard protocol
        assert reported["rmse"] != pytest.approx(eigen_errors(pairs, **STANDARD)["rmse"], rel=1e-5)

    out = capsys.readouterr().out
    low, high = f"{protocol['min_depth']:g}", f"{protocol['max_depth']:g}"
    clipped = f"predictions clipped to [{low}, {high}] m" if protocol["clip"] else "predictions not clipped"
    assert f"protocol: ground truth in ({low}, {high}) m, {clipped}, no crop" in out
    first, second = ("RMSE (pooled)", "RMSE (image mean)") if pooled else ("RMSE (image mean)", "RMSE (pooled)")
    assert 0 < out.index(first) < out.index(second)


def test_a_missing_or_unreadable_file_skips_its_line_and_the_rest_is_reported(tmp_path, capsys):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    rgb, mask, depth, _ = NYUD[0]
    listing = write_list(tmp_path / "val.txt", [
        (rgb, mask, depth),
        (tmp_path / "nowhere.png", mask, depth),
        (rgb, tmp_path / "broken.png", depth),
    ])
    out_json = tmp_path / "m.json"
    assert main(["--weights", str(REFERENCE_CKPT), "--dataset", "nyud", "--list", str(listing), "--size", "64",
                 "--json", str(out_json)]) == 0
    err = capsys.readouterr().err
    assert "val.txt:2:" in err and "nowhere.png: no such file" in err
    assert "val.txt:3:" in err and "broken.png: missing or not an image" in err
    reported = json.loads(out_json.read_text())
    assert reported["evaluated"] == 1 and reported["skipped"] == 2 and len(reported["skipped_lines"]) == 2
    assert reported["segm_images"] == 1 and reported["depth_images"] == 1


def test_table_names_the_paper_figures(tmp_path, capsys):
    listing = write_list(tmp_path / "val.txt", [NYUD[1][:2]])
    assert main(["--weights", str(REFERENCE_CKPT), "--dataset", "nyud", "--list", str(listing), "--size", "64"]) == 0
    out = capsys.readouterr().out
    assert "mIoU" in out and "NYUDv2 (40 classes): mIoU 42.0%, RMSE 0.565 m" in out
    assert "RMSE (pooled)" not in out  # no depth ground truth in this list


def test_kitti_colour_ground_truth_is_mapped_to_classes(kitti_ckpt):
    evaluation = Evaluation(load_model(kitti_ckpt), "kitti", size=96)
    evaluation.add(Sample(*KITTI, line=1))
    rgb = cv2.cvtColor(cv2.imread(str(KITTI[1])), cv2.COLOR_BGR2RGB)
    known = sum(int((rgb == c).all(axis=2).sum()) for c in get_preset("kitti").colours)
    assert 0 < known < rgb.shape[0] * rgb.shape[1]  # black pixels are unlabelled
    assert evaluation.segm.confusion.sum() == known
    assert "rmse" not in evaluation.summary()
    assert evaluation.protocol == {"min_depth": 1e-3, "max_depth": 80.0, "clip_predictions": True,
                                   "rmse": "image-mean", "crop": None}


@pytest.mark.parametrize("crop, max_depth", [("garg", None), (None, 2.0)])
def test_crop_and_max_depth_limit_the_valid_pixels(crop, max_depth):
    rgb, _, depth, _ = NYUD[0]
    evaluation = Evaluation(load_model(REFERENCE_CKPT), "nyud", max_depth=max_depth, crop=crop, size=64)
    evaluation.add(Sample(rgb, depth=depth, line=1))
    gt = cv2.imread(str(depth), cv2.IMREAD_UNCHANGED) / 5000.0
    valid = (gt > 1e-3) & (gt < (max_depth or 10))
    if crop:
        h, w = gt.shape
        top, bottom, left, right = CROPS[crop]
        inside = np.zeros_like(valid)
        inside[int(top * h):int(bottom * h), int(left * w):int(right * w)] = True
        valid &= inside
    assert 0 < evaluation.depth.pixels == valid.sum() < (gt > 0).sum()


def test_depth_scale_changes_the_ground_truth_units(tmp_path):
    rgb, _, depth, _ = NYUD[0]
    model = load_model(REFERENCE_CKPT)
    results = []
    for scale in (5000, 2500):
        evaluation = Evaluation(model, "nyud", depth_scale=scale, size=64, max_depth=100)
        evaluation.add(Sample(rgb, depth=depth, line=1))
        results.append(evaluation.summary()["rmse"])
    # the reference network predicts ~0 m (clipped to 1e-3), so RMSE is about the ground truth's RMS, doubled by
    # halving the scale
    assert results[1] == pytest.approx(2 * results[0], rel=1e-3)


def test_classes_are_matched_by_name_for_the_joint_model():
    nyud, kitti, both = get_preset("nyud"), get_preset("kitti"), get_preset("nyud-kitti")
    assert class_block(both, kitti) == slice(40, 46)
    assert class_block(both, nyud) == slice(0, 40)
    assert class_block(get_preset("nyud-three"), nyud) == slice(0, 40)
    assert class_block(nyud, kitti) is None


def test_bad_input_is_a_one_line_error(tmp_path, capsys, kitti_ckpt):
    listing = write_list(tmp_path / "val.txt", [NYUD[0][:3]])
    assert main(["--weights", str(kitti_ckpt), "--dataset", "nyud", "--list", str(listing)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "6 classes" in err and "\n" not in err
    with pytest.raises(SystemExit) as exit_info:  # a list that does not exist is a bad flag, refused up front
        main(["--weights", str(REFERENCE_CKPT), "--dataset", "nyud", "--list", str(tmp_path / "none.txt")])
    missing = tmp_path / "none.txt"
    assert exit_info.value.code == 2 and capsys.readouterr().err == f"error: --list {missing}: no such file\n"
    for bad in (["--json", str(tmp_path / "no" / "such" / "m.json")], ["--min-depth", "0"],
                ["--max-depth", "0.0005"], ["--rmse", "median"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["--weights", str(REFERENCE_CKPT), "--dataset", "nyud", "--list", str(listing), *bad])
        assert exit_info.value.code == 2


def test_ctrl_c_still_reports_and_writes_what_was_done(tmp_path, monkeypatch, capsys):
    listing = write_list(tmp_path / "val.txt", [NYUD[0][:3], NYUD[1][:3], NYUD[0][:3]])
    real_add, calls = Evaluation.add, []

    def add(self, sample):
        calls.append(sample.line)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_add(self, sample)

    monkeypatch.setattr(Evaluation, "add", add)
    out_json = tmp_path / "m.json"
    assert main(["--weights", str(REFERENCE_CKPT), "--dataset", "nyud", "--list", str(listing), "--size", "64",
                 "--json", str(out_json)]) == 130
    reported = json.loads(out_json.read_text())
    assert reported["complete"] is False and reported["evaluated"] == 1 and reported["samples"] == 3
    assert reported["depth_images"] == 1 and "interrupted" in capsys.readouterr().out
