"""The accuracy guard: how closely a reduced precision (fp16, bf16, int8) must agree with fp32 on the same frame
before it is used, and the measure of that agreement."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Guard:
    """The agreement a reduced precision must show with fp32 on a calibration frame before it is used."""

    min_labels: float = 0.98  # share of identical labels
    max_depth_error: float = 0.01  # median relative depth error

    def passes(self, agreement):
        return agreement.labels >= self.min_labels and (
            agreement.depth_error is None or agreement.depth_error <= self.max_depth_error)

    def describe(self):
        return (f"labels >= {100 * self.min_labels:g} % identical, "
                f"depth median error <= {100 * self.max_depth_error:g} %")


@dataclass(frozen=True)
class Agreement:
    """How a (backend, precision) compares with fp32 on the same frame."""

    labels: float  # share of identical labels, 0..1
    depth_error: float | None  # median relative depth error; None without a depth head

    def describe(self):
        depth = "" if self.depth_error is None else f", depth {100 * self.depth_error:.2f} %"
        return f"labels {100 * self.labels:.1f} %{depth} vs fp32"


def agreement(reference, outputs, tasks):
    """Share of identical labels and median relative depth error of ``outputs`` against ``reference``."""
    ref, out = dict(zip(tasks, reference)), dict(zip(tasks, outputs))
    labels = (ref["segm"].argmax(1) == out["segm"].float().argmax(1)).float().mean().item()
    depth_error = None
    if "depth" in ref:
        truth, got = ref["depth"].float().abs(), out["depth"].float().abs()
        # Relative to each pixel's depth, floored at a thousandth of the map's largest: near-zero depths (an
        # untrained head) would otherwise divide by almost nothing.
        floor = max(float(truth.max()) * 1e-3, 1e-12)
        depth_error = ((got - truth).abs() / truth.clamp(min=floor)).median().item()
    return Agreement(labels, depth_error)
