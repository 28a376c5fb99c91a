"""The repository carries everything its tests and benchmarks read: a clone works with nothing beside it."""
import subprocess

from tests.conftest import DATA, ROOT

OUTSIDE = ("..", "/shared")  # joined at run time, so that this file does not name it
FIXTURE_LIMIT_MB = 20


def tracked_files():
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in listing.decode().split("\0") if name]


def test_no_tracked_file_refers_outside_the_repository():
    needles = ["".join(OUTSIDE).encode(), b"JOINTSEG" + b"_SHARED"]
    offending = [str(p.relative_to(ROOT)) for p in tracked_files()
                 if p.is_file() and any(n in p.read_bytes() for n in needles)]
    assert offending == []


def test_fixtures_are_small():
    # Tracked files only: caches written beside the fixtures (int8 graphs) are not part of a clone.
    folders = (DATA, ROOT / "model" / "data" / "examples")
    fixtures = [p for p in tracked_files() if any(p.is_relative_to(f) for f in folders)]
    total = sum(p.stat().st_size for p in fixtures if p.is_file())
    assert 0 < total < FIXTURE_LIMIT_MB << 20
