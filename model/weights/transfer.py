"""Fetching one file over HTTP(S) into a folder, through a locked ``.FILE.*.part`` file beside its target.

Nothing partial outlives a download: an error, a stall, an exception from the progress callback (the GUI's
cancel), SIGINT or SIGTERM (handled when downloading on the main thread) each remove the part file. A process
killed outright (SIGKILL, power cut) cannot; a later download into the folder removes what it left. A part file
is stale when no process holds its lock (``flock``, released by the kernel when its owner dies, however it dies)
and it is older than STALE_AFTER_S, the time its creator may take between creating and locking it.
"""
import fcntl
import glob
import http.client
import os
import signal
import socket
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from model.errors import first_line

CHUNK = 1 << 16
TIMEOUT_S = 30  # connecting, and each read of the socket
STALL_S = 60  # a URL that sends less than STALL_BYTES in this long is given up, for the next one
STALL_BYTES = 1024
STALE_AFTER_S = 10


class UrlFailed(Exception):
    """One URL did not give the file (HTTP error, no connection, cut, stalled); the next one may."""


class Stopped(Exception):
    """SIGINT or SIGTERM stopped a download, and its previous handler neither ended the process nor raised."""


class _Signalled(BaseException):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def copy_url(url, path, progress=None):
    """Writes the body at ``url`` into ``path``: UrlFailed for what the network did, OSError for the disk.

    ``progress(done_bytes, total_or_None)`` is called as bytes arrive. Less than STALL_BYTES in STALL_S is a
    stall (a server that trickles a byte at a time would otherwise hold the download for ever).
    """
    try:
        response = urllib.request.urlopen(url, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        raise UrlFailed(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise UrlFailed(_network_reason(e.reason, url)) from None
    except (OSError, http.client.HTTPException) as e:
        raise UrlFailed(_network_reason(e, url)) from None
    stall_s, stall_bytes = STALL_S, STALL_BYTES
    with response, open(path, "wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        window_start, window_done = time.monotonic(), 0
        if progress:
            progress(done, total)
        while True:
            try:
                chunk = response.read1(CHUNK)  # what has arrived; read() would wait for a whole CHUNK
            except (OSError, http.client.HTTPException) as e:
                raise UrlFailed(f"connection cut after {done:,} bytes ({reason(e)})") from None
            if not chunk:
                break
            out.write(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
            now = time.monotonic()
            if now - window_start >= stall_s:
                if done - window_done < stall_bytes:
                    raise UrlFailed(f"stalled: no data for {stall_s:g} s")
                window_start, window_done = now, done
    if total is not None and done < total:
        raise UrlFailed(f"connection cut after {done:,} of {total:,} bytes")


@contextmanager
def part_file(folder, file_name):
    """A new empty ``.FILE.*.part`` path in ``folder``, locked while the block runs and removed when it ends
    (renaming it onto its target first is how a block keeps it). OSError when the folder is not writable."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{file_name}.", suffix=".part")
    os.fchmod(fd, 0o644)  # mkstemp's 0600 would stay with the file it becomes, hidden from other users
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass  # a file system without locks: remove_stale_parts cannot lock it either, so leaves it alone
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)
        os.close(fd)


def remove_stale_parts(folder, file_names):
    """Removes the part files of ``file_names`` in ``folder`` that no live process is writing."""
    for name in file_names:
        for path in Path(folder).glob(f".{glob.escape(name)}.*.part"):
            try:
                if time.time() - path.stat().st_mtime < STALE_AFTER_S:
                    continue
                with open(path, "rb") as f:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: its owner is alive
                    path.unlink()
            except OSError:
                continue


@contextmanager
def abort_on_signals():
    """SIGINT and SIGTERM abort the block, so that its clean-up runs, then take their usual course.

    After the block, the previous handlers are back and the signal is raised again: by default SIGTERM then
    ends the process and SIGINT raises KeyboardInterrupt; a handler that does neither leaves Stopped raised.
    Only the main thread can set handlers; elsewhere (the GUI's worker) the block runs as it is, and cancels
    through its progress callback. Signals that are ignored stay ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def abort(signum, frame):
        raise _Signalled(signum)

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) not in (signal.SIG_IGN, None):  # None: a handler set outside Python
            previous[sig] = signal.signal(sig, abort)
    stopped_by = None
    try:
        yield
    except _Signalled as e:
        stopped_by = e.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopped_by is not None:
        signal.raise_signal(stopped_by)
        raise Stopped(signal.Signals(stopped_by).name)


def _network_reason(error, url):
    host = urllib.parse.urlsplit(url).hostname
    if isinstance(error, socket.gaierror):
        return f"cannot resolve {host}: offline or DNS failure ({reason(error)})"
    if isinstance(error, ConnectionRefusedError):
        return f"connection to {host} refused"
    if isinstance(error, (TimeoutError, socket.timeout)):
        return f"no answer from {host} within {TIMEOUT_S} s"
    if isinstance(error, ssl.SSLError):
        return f"TLS failure with {host} ({reason(error)})"
    return f"cannot reach {host} ({reason(error)})"


def reason(error):
    """An exception as a short line: its OS message, else its first line, else its type."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return first_line(error, 160)
