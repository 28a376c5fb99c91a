"""Static pipelines: fixed buffers per (frame size, network size), the last few kept, the oldest dropped first."""
import torch

from model.inference.cuda_graphs import PipelineCache


def steps_for(key):
    def steps(frame, check=False):
        return {"labels": frame[:, :, 0].clone(), "depth": frame.float().mean(2)}

    return steps


def test_the_least_recently_used_size_goes_first():
    cache = PipelineCache(torch.device("cpu"), capture=False, size=2)
    keys = [((32, 48), (32, 48)), ((40, 40), (40, 40)), ((48, 32), (48, 32))]
    first = cache.get(keys[0], lambda: steps_for(keys[0]))
    cache.get(keys[1], lambda: steps_for(keys[1]))
    assert cache.get(keys[0], lambda: steps_for(keys[0])) is first  # kept, and now the most recent
    cache.get(keys[2], lambda: steps_for(keys[2]))  # pushes out keys[1], the least recently used
    assert list(cache.pipelines) == [keys[0], keys[2]] and cache.built == 3


def test_results_are_copied_out_of_the_fixed_buffers(rng):
    key = ((32, 48), (32, 48))
    pipeline = PipelineCache(torch.device("cpu"), capture=False).get(key, lambda: steps_for(key))
    frame = rng.integers(0, 256, (32, 48, 3)).astype("uint8")
    images, timings = pipeline(frame, lambda: None)
    kept = images["labels"].copy()
    pipeline(255 - frame, lambda: None)
    assert (images["labels"] == kept).all() and (kept == frame[:, :, 0]).all()
    assert set(timings) == {"upload", "network", "postprocess", "download"}
