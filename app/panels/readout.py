"""The text the window reads out (no Qt): what is under the pointer, distances in metres, and the rows of the
Performance panel."""
from dataclasses import dataclass
from html import escape

from model.geometry.pointcloud import pixel_distance, pixel_point


def map_pixel(pixel, frame_shape, map_shape):
    """The (row, col) of a map of ``map_shape`` that covers frame pixel ``pixel`` of a frame of ``frame_shape``:
    maps at the network's size are drawn stretched over the whole frame."""
    (row, col), (fh, fw), (mh, mw) = pixel, frame_shape[:2], map_shape[:2]
    return min(mh - 1, row * mh // fh), min(mw - 1, col * mw // fw)


def class_name(preset, index):
    return preset.classes[index] if 0 <= index < len(preset.classes) else f"class {index}"


def class_at(result, pixel):
    """The class index under frame pixel ``pixel``."""
    return int(result.labels[map_pixel(pixel, result.frame.shape, result.labels.shape)])


def inside(result, pixel):
    return (result is not None and pixel is not None and 0 <= pixel[0] < result.frame.shape[0] and
            0 <= pixel[1] < result.frame.shape[1])


def hover_text(result, pixel, intrinsics=None):
    """'x 300, y 330:  chair  ·  3.02 m' for frame pixel ``pixel`` (row, col); with ``intrinsics`` (for the
    depth map's size) also the point in metres, camera frame: '  ·  (+0.41, -0.22, 3.02) m'. '' outside the
    frame."""
    if not inside(result, pixel):
        return ""
    row, col = pixel
    text = f"x {col}, y {row}:  {class_name(result.preset, class_at(result, pixel))}"
    if result.depth is not None:
        cell = map_pixel(pixel, result.frame.shape, result.depth.shape)
        text += f"  ·  {result.depth[cell]:.2f} m"
        point = pixel_point(result.depth, intrinsics, *cell) if intrinsics is not None else None
        if point is not None:
            text += f"  ·  ({point[0]:+.2f}, {point[1]:+.2f}, {point[2]:.2f}) m"
    return text


def distance(result, intrinsics, a, b):
    """The distance in metres between the points seen at frame pixels ``a`` and ``b`` (row, col), from the depth
    map and ``intrinsics`` for its size; None where either has no valid depth."""
    if result.depth is None or not (inside(result, a) and inside(result, b)):
        return None
    cells = [map_pixel(p, result.frame.shape, result.depth.shape) for p in (a, b)]
    return pixel_distance(result.depth, intrinsics, *cells)


def distance_text(metres, a, b):
    """'1.23 m from x 10, y 20 to x 100, y 40': ``metres`` (``distance``'s, None: no depth) between frame pixels
    ``a`` and ``b`` (row, col)."""
    where = f"from x {a[1]}, y {a[0]} to x {b[1]}, y {b[0]}"
    return f"{metres:.2f} m {where}" if metres is not None else f"no depth to measure {where}"


@dataclass
class Measurements:
    """What the Performance panel reads out at one moment; times in ms, rates per second."""

    display_fps: float = 0.0
    inference_fps: float = 0.0
    frames: int = 0  # captured
    dropped: int = 0  # replaced in the slot before the worker took them
    timings: dict | None = None  # the newest result's, by stage
    display_ms: float | None = None  # drawing the newest result
    end_to_end_ms: float | None = None  # from capture to screen
    network_hw: tuple | None = None  # (H, W) the network saw
    frame_hw: tuple | None = None
    recording: int | None = None  # frames queued for the recording, when recording
    cloud_ms: float | None = None  # building the newest 3D cloud (its own thread), when the 3D view is shown
    cloud_draw_ms: float | None = None  # handing it to OpenGL and drawing it (the GUI thread)
    cloud_points: int | None = None
    camera: str = ""  # the intrinsics in use and where they come from


def performance_rows(m, running=None):
    """(label, value) rows: rates, the cost of each stage, frames dropped, and what runs."""
    rows = [("display", f"{m.display_fps:5.1f} fps"), ("inference", f"{m.inference_fps:5.1f} fps")]
    if m.timings:
        t = m.timings
        post = t.get("postprocess", 0.0) + t.get("download", 0.0)
        rows += [("network", f"{t.get('network', 0.0):5.1f} ms"),
                 ("pre / post", f"{t.get('upload', 0.0):.1f} / {post:.1f} ms")]
    if m.display_ms is not None:
        rows.append(("drawing", f"{m.display_ms:5.1f} ms"))
    if m.end_to_end_ms is not None:
        rows.append(("end to end", f"{m.end_to_end_ms:5.0f} ms"))
    if m.network_hw:
        (h, w), shown = m.network_hw, ""
        if m.frame_hw and tuple(m.frame_hw) != tuple(m.network_hw):
            shown = f" of {m.frame_hw[1]}×{m.frame_hw[0]}"
        rows.append(("input", f"{w}×{h}{shown}"))
    rows.append(("dropped", f"{m.dropped} of {m.frames}"))
    if m.cloud_points is not None:
        rows.append(("3D", f"{m.cloud_ms or 0.0:.1f} build + {m.cloud_draw_ms or 0.0:.1f} draw ms, "
                           f"{m.cloud_points:,} points"))
    if m.camera:
        rows.append(("camera", m.camera))
    if running is not None and not running.chosen:
        rows.append(("runs on", f"{running.applied.device.upper()}: choosing the backend and precision"))
    elif running is not None:
        applied = running.applied
        left_out = f" ({len(applied.rejected)} left out: hover)" if applied.rejected else ""
        rows.append(("runs on", f"{applied.device.upper()} {applied.precision}, {applied.backend}"
                                f"{', CUDA graphs' if applied.graphs else ''}{left_out}"))
        if applied.agreement is not None:
            rows.append(("vs fp32", applied.agreement.describe().removesuffix(" vs fp32")))
    if m.recording is not None:
        rows.append(("recording", f"{m.recording} frames"))
    return rows


def rows_html(rows, label_colour):
    """A two-column table; labels never wrap, values may."""
    cells = "".join(f"<tr><td style='color:{label_colour}; padding-right:8px'>{escape(k).replace(' ', '&nbsp;')}"
                    f"</td><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table cellspacing='0'>{cells}</table>"


def backend_details(applied):
    """How the backend and precision were chosen, for a tooltip: the measured times, the candidates left out,
    and why what runs differs from what was asked."""
    if applied is None:
        return ""
    lines = [f"runs: {applied.description}"]
    if applied.measured:
        lines.append("measured here (median network time):")
        lines += [f"  {key}: {ms:.1f} ms" for key, ms in sorted(applied.measured.items(), key=lambda kv: kv[1])]
    if applied.rejected:
        lines.append("left out:")
        lines += [f"  {why}" for why in applied.rejected]
    if applied.reason:
        lines.append(f"why: {applied.reason}")
    if applied.note:
        lines.append(f"note: {applied.note}")
    if applied.int8_fp32:
        lines += ["int8 in fp32:", *applied.int8_fp32]
    return "\n".join(lines)


def postprocess_share(timings):
    """Post-processing (colouring, resizing, copying back) as a share of the network's time, or None."""
    if not timings or not timings.get("network"):
        return None
    return (timings.get("postprocess", 0.0) + timings.get("download", 0.0)) / timings["network"]
