"""What the source tests share: small videos and image folders written on the spot, a fake camera, reading a
source to its end."""
import cv2
import numpy as np

H, W = 64, 96


def write_video(path, frames=12, size=(W, H), fps=15.0, fourcc="MJPG"):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), (i * 20) % 256, np.uint8)
        frame[:, :, 2] = 200  # red in BGR
        writer.write(frame)
    writer.release()
    return path


def write_images(folder, count=3):
    folder.mkdir(exist_ok=True)
    for i in range(count):
        frame = np.full((H, W, 3), i * 15, np.uint8)
        frame[:, :, 2] = 200
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame)
    return folder


def read_all(source, limit=1000):
    frames = []
    with source:
        while len(frames) < limit and (frame := source.read()) is not None:
            frames.append(frame)
    return frames


class FakeCapture:
    """A camera for ``cv2.VideoCapture``: BGR frames with red in channel 2, or none at all when ``present`` is
    False; it stops delivering after ``frames``. ``released`` counts the captures released."""

    present = True
    frames = 10**6
    released = 0

    def __init__(self, *args):
        self.delivered = 0

    def isOpened(self):
        return self.present

    def read(self):
        if self.delivered >= self.frames:
            return False, None
        self.delivered += 1
        frame = np.zeros((H, W, 3), np.uint8)
        frame[:, :, 2] = 200
        return True, frame

    def set(self, *args):
        return True

    def release(self):
        FakeCapture.released += 1
