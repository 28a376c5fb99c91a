"""One writer per output: a run holds ``.NAME.lock`` beside its output (an MP4 or a folder) while it writes, so
that a second run to the same output is refused in one line instead of silently replacing the first one's result.

The lock is an ``flock`` (filelock's), which the kernel drops when its process dies, even by SIGKILL: a killed
run never leaves its output locked.
"""
from pathlib import Path

from filelock import FileLock, Timeout


class OutputBusy(OSError):
    """The output is being written by another run; the message is one line."""


class OutputLock:
    def __init__(self, output):
        self.output = Path(output)
        self.path = self.output.with_name(f".{self.output.name}.lock")
        self._lock = FileLock(self.path, thread_local=False, blocking=False)

    def acquire(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            raise OutputBusy(f"{self.output} is being written by another run; wait for it to end or choose another "
                             "output") from None
        return self

    def release(self):
        if self._lock.is_locked:
            # unlinked while still held: a run that opens the name from now on gets a fresh lock file
            self.path.unlink(missing_ok=True)
            self._lock.release()
