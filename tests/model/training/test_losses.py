"""Losses: hand-computed berHu, ignore labels, and masking of the tasks a sample has no label for."""
import pytest
import torch
import torch.nn.functional as F

from model.training.losses import berhu_loss, multitask_loss, normals_loss, segm_loss


def test_berhu_equals_a_hand_computed_value():
    pred = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2)
    gt = torch.tensor([1.5, 2.0, 0.0, 8.0]).view(1, 1, 2, 2)  # 0 = no measurement
    # valid errors 0.5, 0, 4; c = 0.2 * 4 = 0.8; 0.5 and 0 are below c (L1), 4 above: (16 + 0.64) / 1.6 = 10.4
    assert berhu_loss(pred, gt).item() == pytest.approx((0.5 + 0.0 + 10.4) / 3, rel=1e-6)


def test_berhu_threshold_is_over_the_whole_batch():
    pred = torch.zeros(2, 1, 1, 1)
    gt = torch.tensor([1.0, 10.0]).view(2, 1, 1, 1)  # c = 2: 1 is L1, 10 is (100 + 4) / 4 = 26
    assert berhu_loss(pred, gt).item() == pytest.approx((1 + 26) / 2)


def test_segm_loss_ignores_255():
    logits = torch.randn(2, 4, 3, 5)
    target = torch.randint(0, 4, (2, 3, 5))
    target[0, 0] = 255
    expected = F.cross_entropy(logits, target, ignore_index=255)
    assert segm_loss(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)


def test_normals_loss_is_one_minus_cosine_on_valid_pixels():
    gt = F.normalize(torch.randn(1, 3, 4, 4), dim=1)
    gt[:, :, 0] = 0  # first row: no normal
    pred = gt.clone()
    pred[:, :, 0] = torch.randn(1, 3, 4)  # anything where there is no ground truth
    assert normals_loss(pred, gt).item() == pytest.approx(0.0, abs=1e-6)
    assert normals_loss(-gt, gt).item() == pytest.approx(2.0, rel=1e-6)


def batch_with_unlabelled_depth():
    torch.manual_seed(0)
    return {
        "segm": torch.randint(0, 3, (2, 8, 8)),
        "depth": torch.rand(2, 1, 8, 8) + 0.5,  # sample 1 holds values, but its flag says "no depth label"
        "has_segm": torch.tensor([True, True]),
        "has_depth": torch.tensor([True, False]),
    }


def test_a_sample_without_depth_gets_no_gradient_from_the_depth_loss():
    batch = batch_with_unlabelled_depth()
    segm = torch.randn(2, 3, 4, 4, requires_grad=True)
    depth = torch.randn(2, 1, 4, 4, requires_grad=True)
    _, parts = multitask_loss((segm, depth), batch, ("segm", "depth"))
    total, _ = multitask_loss((segm, depth), batch, ("segm", "depth"), weights={"segm": 0.0})
    total.backward()
    assert depth.grad[1].abs().max().item() == 0.0
    assert depth.grad[0].abs().max().item() > 0.0
    # and it is not a zero-valued target diluting the mean: the loss is sample 0's alone
    alone = berhu_loss(F.interpolate(depth[:1], size=(8, 8), mode="bilinear"), batch["depth"][:1])
    assert parts["depth"].item() == pytest.approx(alone.item(), rel=1e-6)


def test_a_batch_without_any_depth_gives_zero_loss_still_connected():
    batch = batch_with_unlabelled_depth()
    batch["has_depth"][:] = False
    depth = torch.randn(2, 1, 4, 4, requires_grad=True)
    total, parts = multitask_loss((torch.randn(2, 3, 4, 4), depth), batch, ("segm", "depth"), {"segm": 0.0})
    assert parts["depth"].item() == 0.0
    total.backward()
    assert depth.grad is not None and depth.grad.abs().max().item() == 0.0


def test_weights_are_half_and_half_by_default():
    batch = batch_with_unlabelled_depth()
    outputs = (torch.randn(2, 3, 4, 4), torch.randn(2, 1, 4, 4))
    total, parts = multitask_loss(outputs, batch, ("segm", "depth"))
    assert total.item() == pytest.approx(0.5 * parts["segm"].item() + 0.5 * parts["depth"].item(), rel=1e-6)
