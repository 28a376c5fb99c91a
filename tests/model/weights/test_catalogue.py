"""The weights catalogue: downloads from a local HTTP server (never the internet), install, verify, names."""
import builtins
import errno
import fcntl
import io
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from model import CheckpointError, load_model
from model import presets
from model.weights import transfer, catalogue as weights
from model.weights.catalogue import WeightsError

from tests.conftest import REFERENCE_CKPT, ROOT

NAMES = ["nyud", "kitti", "nyud-kitti", "nyud-three"]
PACING = {"slow": (4096, 0.05), "trickle": (1, 0.2)}  # kind -> (bytes, seconds between them)


class Handler(BaseHTTPRequestHandler):
    """Serves ``server.routes``: path -> (kind, body); kind 'ok', 'cut' (promises more bytes than it sends), or
    one paced by PACING: 'slow' (steady, 80 KB/s) or 'trickle' (a byte at a time)."""

    def do_GET(self):
        self.server.requests.append(self.path)
        kind, body = self.server.routes.get(self.path, ("missing", b""))
        if kind == "missing":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "cut":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if kind in PACING:
            size, pause = PACING[kind]
            try:
                for start in range(0, len(body), size):
                    if self.server.stopping.is_set():
                        return
                    self.wfile.write(body[start:start + size])
                    time.sleep(pause)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up, as the tests make it
                pass
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv(weights.ENV_VAR, raising=False)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.routes, httpd.requests, httpd.stopping = {}, [], threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.url = lambda path: f"http://127.0.0.1:{httpd.server_port}{path}"
    yield httpd
    httpd.stopping.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture(scope="module")
def body():
    """A small real checkpoint file's bytes: the test's stand-in for an official file."""
    buffer = io.BytesIO()
    torch.save({"w": torch.arange(20000, dtype=torch.float32)}, buffer)
    return buffer.getvalue()


def blob_of(data, tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    blob = weights.blob_id(path)
    path.unlink()
    return blob


@pytest.fixture
def fake(monkeypatch, tmp_path, server, body):
    """The real catalogue, with 'nyud' expecting ``body`` and every URL pointing at the local server."""
    real = weights.catalogue()
    nyud_blob = blob_of(body, tmp_path)

    def catalogue():
        entries = {name: dict(e) for name, e in real.items()}
        for name, e in entries.items():
            e["urls"] = [server.url(f"/a/{e['file']}"), server.url(f"/b/{e['file']}")]
        entries["nyud"]["blob_id"] = nyud_blob
        return entries

    monkeypatch.setattr(weights, "catalogue", catalogue)
    server.routes["/a/ExpNYUD_joint.ckpt"] = ("ok", body)
    return catalogue()


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "weights"
    path.mkdir()
    return path


def raised(call, *args, **kwargs):
    with pytest.raises(WeightsError) as err:
        call(*args, **kwargs)
    text = str(err.value)
    assert "\n" not in text
    return text


def test_blob_id_is_git_hash_object(tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    for path in (REFERENCE_CKPT, empty):
        git = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True)
        assert weights.blob_id(path) == git.stdout.strip()


def test_catalogue_entries_fit_presets_and_name_their_file():
    entries = weights.catalogue()
    assert list(entries) == NAMES
    for name, e in entries.items():
        assert e["name"] == name and re.fullmatch(r"[0-9a-f]{40}", e["blob_id"])
        preset = presets()[e["preset"]]
        assert tuple(e["tasks"]) == preset.tasks and e["num_classes"] == preset.num_classes
        assert len(e["urls"]) == 2 and all(u.startswith("https://") and u.endswith("/" + e["file"])
                                           for u in e["urls"])
    assert len({e["blob_id"] for e in entries.values()}) == len(entries)


def test_weights_dir_default_environment_and_override(monkeypatch, tmp_path):
    assert weights.weights_dir() == ROOT / "weights"
    monkeypatch.setenv(weights.ENV_VAR, str(tmp_path / "env"))
    assert weights.weights_dir() == tmp_path / "env"
    assert weights.weights_dir(tmp_path / "flag") == tmp_path / "flag"


def test_download_verifies_reports_progress_and_keeps_a_good_file(fake, server, folder, body):
    seen = []
    path = weights.download("nyud", folder, progress=lambda done, total: seen.append((done, total)))
    assert path == folder / "ExpNYUD_joint.ckpt" and path.read_bytes() == body
    assert os.listdir(folder) == ["ExpNYUD_joint.ckpt"]
    assert seen[0] == (0, len(body)) and seen[-1] == (len(body), len(body))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert weights.installed_path("nyud", folder) == path
    assert weights.verify(folder=folder) == {"nyud": True, "kitti": None, "nyud-kitti": None, "nyud-three": None}
    requests = len(server.requests)
    assert weights.download("nyud", folder) == path and len(server.requests) == requests  # verified: kept


def test_404_on_the_first_url_falls_back_to_the_second(fake, server, folder, body):
    urls = [server.url("/gone.ckpt"), server.url("/mirror.ckpt")]
    server.routes["/mirror.ckpt"] = ("ok", body)
    assert weights.download("nyud", folder, urls=urls).read_bytes() == body
    assert server.requests == ["/gone.ckpt", "/mirror.ckpt"]


def test_404_everywhere_names_every_url(fake, server, folder):
    urls = [server.url("/x/gone.ckpt"), server.url("/y/gone.ckpt")]
    text = raised(weights.download, "nyud", folder, urls=urls)
    assert text.startswith("could not download nyud: ")
    assert f"{urls[0]}: HTTP 404" in text and f"{urls[1]}: HTTP 404" in text
    assert "python -m model weights install PATH" in text
    assert os.listdir(folder) == []


def test_corrupted_body_fails_the_check_and_leaves_nothing(fake, server, folder, body):
    server.routes["/bad.ckpt"] = ("ok", body[:-1] + bytes([body[-1] ^ 1]))
    text = raised(weights.download, "nyud", folder, urls=[server.url("/bad.ckpt")])
    assert "checksum mismatch" in text and fake["nyud"]["blob_id"] in text and "bad file removed" in text
    assert os.listdir(folder) == []


def test_connection_cut_mid_transfer_leaves_nothing(fake, server, folder, body):
    server.routes["/cut.ckpt"] = ("cut", body)
    text = raised(weights.download, "nyud", folder, urls=[server.url("/cut.ckpt")])
    assert f"connection cut after {len(body) // 2:,} of {len(body):,} bytes" in text
    assert os.listdir(folder) == []
    server.routes["/ok.ckpt"] = ("ok", body)
    path = weights.download("nyud", folder, urls=[server.url("/cut.ckpt"), server.url("/ok.ckpt")])
    assert path.read_bytes() == body and os.listdir(folder) == [path.name]


def test_offline_or_dns_failure(fake, folder, monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    text = raised(weights.download, "nyud", folder, urls=["https://weights.invalid/ExpNYUD_joint.ckpt"])
    assert "cannot resolve weights.invalid: offline or DNS failure" in text
    assert "python -m model weights install PATH" in text and os.listdir(folder) == []


def test_disk_full_leaves_nothing(fake, folder, monkeypatch, tmp_path, body):
    class FullDisk:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def open_on_full_disk(path, mode="r", *args, **kwargs):
        f = builtins.open(path, mode, *args, **kwargs)
        return FullDisk(f) if "w" in mode else f

    monkeypatch.setattr(transfer, "open", open_on_full_disk, raising=False)
    text = raised(weights.download, "nyud", folder)
    assert text.startswith(f"disk full: no room for the weights in {folder}") and weights.ENV_VAR in text
    assert os.listdir(folder) == []

    def copy_on_full_disk(src, dst):
        with builtins.open(dst, "wb") as f:
            f.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(weights.shutil, "copyfile", copy_on_full_disk)
    source = tmp_path / "copy.ckpt"
    source.write_bytes(body)
    assert raised(weights.install, source, folder).startswith("disk full")
    assert os.listdir(folder) == []


def test_unwritable_folder(fake, tmp_path, monkeypatch, body):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    text = raised(weights.download, "nyud", blocker / "weights")
    assert text.startswith(f"weights folder {blocker / 'weights'} is not writable (Not a directory)")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", denied)  # as root, chmod does not stop writes; this does
    source = tmp_path / "copy.ckpt"
    source.write_bytes(body)
    for call, arg in ((weights.download, "nyud"), (weights.install, source)):
        text = raised(call, arg, tmp_path / "locked")
        assert text.startswith(f"weights folder {tmp_path / 'locked'} is not writable (Permission denied)")


def test_unknown_name_lists_the_known_ones(folder):
    known = "known: nyud, kitti, nyud-kitti, nyud-three"
    assert raised(weights.download, "nyu", folder) == f"unknown weights 'nyu'; {known}"
    assert raised(weights.verify, "nyu", folder) == f"unknown weights 'nyu'; {known}"
    assert raised(weights.resolve, "nyu", folder) == "nyu: no such file, nor a catalogue name (nyud, kitti, " \
                                                     "nyud-kitti, nyud-three)"
    assert raised(weights.resolve, "missing/file.ckpt", folder) == "missing/file.ckpt: no such file"


def test_progress_callback_can_cancel(fake, folder):
    def cancel(done, total):
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        weights.download("nyud", folder, progress=cancel)
    assert os.listdir(folder) == []


def test_install_accepts_the_right_file_and_refuses_others(fake, folder, tmp_path, body):
    source = tmp_path / "from a usb stick.bin"
    source.write_bytes(body)
    path = weights.install(source, folder)
    assert path == folder / "ExpNYUD_joint.ckpt" and path.read_bytes() == body
    assert path.stat().st_mode & 0o777 == 0o644  # readable by every user of a shared weights folder
    assert weights.install(path, folder) == path and os.listdir(folder) == [path.name]

    other = tmp_path / "other.ckpt"
    other.write_bytes(b"not weights")
    text = raised(weights.install, other, folder)
    assert text.startswith(f"{other}: not a catalogue checkpoint: its git blob id {weights.blob_id(other)}")
    assert text.endswith("matches none of nyud, kitti, nyud-kitti, nyud-three")
    truncated = tmp_path / "ExpKITTI_joint.ckpt"
    truncated.write_bytes(body[:100])
    text = raised(weights.install, truncated, folder)
    assert text.startswith(f"{truncated}: not the official ExpKITTI_joint.ckpt") and fake["kitti"]["blob_id"] in text
    assert raised(weights.install, tmp_path / "nope.ckpt", folder) == f"{tmp_path / 'nope.ckpt'}: no such file"
    assert os.listdir(folder) == [path.name]


def test_verify_finds_a_corrupt_file(fake, folder, capsys):
    (folder / "ExpKITTI_joint.ckpt").write_bytes(b"garbage")
    assert weights.verify("kitti", folder) == {"kitti": False}
    assert weights.main(["verify", "--dir", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "kitti: CORRUPT" in out and "python -m model weights download kitti" in out
    assert "nyud: not installed" in out


def test_resolve_downloads_on_request(fake, folder, body):
    assert raised(weights.resolve, "nyud", folder).startswith("nyud: weights not installed")
    path = weights.resolve("nyud", folder, download=True)
    assert path == folder / "ExpNYUD_joint.ckpt" and path.read_bytes() == body
    assert weights.resolve(str(path)) == path


def test_load_model_resolves_an_installed_name(monkeypatch, folder, two_head_ckpt):
    real = weights.catalogue()
    real["nyud"]["blob_id"] = weights.blob_id(two_head_ckpt)
    monkeypatch.setattr(weights, "catalogue", lambda: real)
    monkeypatch.setenv(weights.ENV_VAR, str(folder))
    weights.install(two_head_ckpt)
    model = load_model("nyud")
    assert model.preset.name == "nyud" and model.source == str(folder / "ExpNYUD_joint.ckpt")


def test_load_model_names_the_download_command_when_missing(monkeypatch, folder):
    monkeypatch.setenv(weights.ENV_VAR, str(folder))
    with pytest.raises(CheckpointError) as err:
        load_model("kitti")
    text = str(err.value)
    assert "\n" not in text and text.startswith("kitti: weights not installed")
    assert "`python -m model weights download kitti`" in text and "`python -m model weights install PATH`" in text
    with pytest.raises(CheckpointError, match=r"^kity: no such file, nor a catalogue name \(nyud, kitti"):
        load_model("kity")


def run_cli(*args, env_dir=None):
    env = {**os.environ, weights.ENV_VAR: str(env_dir)} if env_dir else dict(os.environ)
    return subprocess.run([sys.executable, "-m", "model", "weights", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_list_on_an_empty_folder(tmp_path, monkeypatch, capsys):
    result = run_cli("list", env_dir=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"weights folder: {tmp_path}"
    assert lines[1].split() == ["NAME", "PRESET", "TASKS", "STATUS", "FILE"]
    assert [line.split()[0] for line in lines[2:]] == NAMES
    assert all("not installed" in line for line in lines[2:])
    monkeypatch.setenv(weights.ENV_VAR, str(tmp_path))
    assert weights.main(["list", "--dir", str(tmp_path / "other")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"weights folder: {tmp_path / 'other'}"


def test_cli_errors_are_one_line(tmp_path, capsys):
    result = run_cli("download", "nyu", env_dir=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "error: unknown weights 'nyu'; known: nyud, kitti, nyud-kitti, nyud-three\n"
    wrong = tmp_path / "wrong.ckpt"
    wrong.write_bytes(b"x")
    assert weights.main(["install", str(wrong), "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {wrong}: not a catalogue checkpoint") and err.count("\n") == 1
    assert sorted(os.listdir(tmp_path)) == ["wrong.ckpt"]


def test_cli_download_install_verify(fake, folder, tmp_path, body, capsys):
    assert weights.main(["download", "nyud", "--dir", str(folder)]) == 0
    assert "nyud: downloaded and verified" in capsys.readouterr().out
    assert weights.main(["download", "all", "--dir", str(folder)]) == 1  # the others are 404 on the server
    captured = capsys.readouterr()
    assert "nyud: already installed and verified" in captured.out
    assert captured.err.count("error: could not download") == 3 and os.listdir(folder) == ["ExpNYUD_joint.ckpt"]
    assert weights.main(["verify", "nyud", "--dir", str(folder)]) == 0
    assert weights.main(["verify", "kitti", "--dir", str(folder)]) == 1

    other = tmp_path / "elsewhere"
    source = tmp_path / "fetched.ckpt"
    source.write_bytes(body)
    assert weights.main(["--dir", str(other), "install", str(source)]) == 0
    assert f"nyud: installed and verified: {other / 'ExpNYUD_joint.ckpt'}" in capsys.readouterr().out
    assert (other / "ExpNYUD_joint.ckpt").read_bytes() == body


# `python -m model weights ARGS...` exactly (runpy is what -m runs), except that urlopen fetches every URL's
# file from the local server whose base URL is the first argument: the subprocess cannot see monkeypatching.
LOCAL_CLI = """
import runpy, sys, urllib.request
base = sys.argv.pop(1)
real_urlopen = urllib.request.urlopen
urllib.request.urlopen = lambda url, *args, **kwargs: real_urlopen(base + url.rsplit("/", 1)[1], *args, **kwargs)
sys.argv.insert(1, "weights")
runpy.run_module("model", run_name="__main__", alter_sys=True)
"""


def start_cli_download(server, folder):
    """A CLI download of nyud from a route that takes minutes, once its part file holds bytes."""
    server.routes["/slow/ExpNYUD_joint.ckpt"] = ("slow", bytes(16 << 20))
    process = subprocess.Popen([sys.executable, "-c", LOCAL_CLI, server.url("/slow/"), "download", "nyud",
                                "--dir", str(folder)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size for p in folder.glob(".ExpNYUD_joint.ckpt.*.part")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the download never started"
        time.sleep(0.05)
    return process


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_download_stopped_by_a_signal_leaves_nothing(server, folder, sig):
    process = start_cli_download(server, folder)
    process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    assert os.listdir(folder) == []
    assert "Traceback" not in err
    if sig == signal.SIGTERM:
        assert process.returncode == -signal.SIGTERM  # the signal's usual course, once the part file is gone
    else:
        assert process.returncode == 130 and "error: interrupted; nothing partial was kept" in err


def test_part_files_of_killed_downloads_are_removed_by_the_next_download(fake, server, folder, body):
    process = start_cli_download(server, folder)
    process.kill()
    process.communicate(timeout=60)
    [killed] = folder.glob(".ExpNYUD_joint.ckpt.*.part")  # SIGKILL leaves no chance to clean up
    live = folder / ".ExpKITTI_joint.ckpt.live.part"  # another download, writing now
    young = folder / ".ExpNYUD_joint.ckpt.young.part"  # just created: its owner may not hold its lock yet
    unrelated = folder / ".notes.txt.part"
    for path in (live, young, unrelated):
        path.write_bytes(b"partial")
    old = time.time() - 2 * transfer.STALE_AFTER_S
    for path in (killed, live, unrelated):
        os.utime(path, (old, old))
    with open(live, "rb") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)
        path = weights.download("nyud", folder)
    assert path.read_bytes() == body
    assert sorted(os.listdir(folder)) == sorted([path.name, live.name, young.name, unrelated.name])


def test_library_download_stopped_by_sigterm_restores_the_handler(fake, folder):
    calls = []

    def application_handler(signum, frame):
        calls.append(signum)

    previous = signal.signal(signal.SIGTERM, application_handler)
    try:
        def terminate_midway(done, total):
            if done:
                signal.raise_signal(signal.SIGTERM)

        text = raised(weights.download, "nyud", folder, progress=terminate_midway)
        assert text == "nyud: stopped by SIGTERM; nothing partial was kept"
        assert calls == [signal.SIGTERM]  # the application's own handler still ran, after the clean-up
        assert os.listdir(folder) == []
        assert signal.getsignal(signal.SIGTERM) is application_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_resolve_download_interrupted_by_sigint_leaves_nothing(fake, folder):
    def interrupt_midway(done, total):
        if done:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        weights.resolve("nyud", folder, download=True, progress=interrupt_midway)
    assert os.listdir(folder) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_download_on_a_worker_thread_leaves_signals_alone_and_cancels(fake, folder, body):
    """As the GUI downloads: on a worker thread, cancelled by an exception from its progress callback."""
    class Cancelled(Exception):
        pass

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    seen, results = [], {}

    def worker(cancel):
        def progress(done, total):
            seen.append({sig: signal.getsignal(sig) for sig in handlers})
            if cancel and done:
                raise Cancelled

        try:
            results[cancel] = weights.download("nyud", folder, progress=progress)
        except Cancelled as e:
            results[cancel] = e

    for cancel in (True, False):
        thread = threading.Thread(target=worker, args=(cancel,))
        thread.start()
        thread.join(60)
        if cancel:
            assert isinstance(results[True], Cancelled) and os.listdir(folder) == []
    assert results[False].read_bytes() == body and os.listdir(folder) == [results[False].name]
    assert seen and all(s == handlers for s in seen)


def test_a_stalled_download_gives_way_to_the_fallback(fake, server, folder, body, monkeypatch):
    monkeypatch.setattr(transfer, "STALL_S", 1.0)
    first, second = fake["nyud"]["urls"]
    server.routes["/a/ExpNYUD_joint.ckpt"] = ("trickle", body)
    server.routes["/b/ExpNYUD_joint.ckpt"] = ("ok", body)
    start = time.monotonic()
    path = weights.download("nyud", folder)
    assert time.monotonic() - start < 10
    assert path.read_bytes() == body and os.listdir(folder) == [path.name]
    assert server.requests == ["/a/ExpNYUD_joint.ckpt", "/b/ExpNYUD_joint.ckpt"]

    path.unlink()
    server.routes["/b/ExpNYUD_joint.ckpt"] = ("trickle", body)
    text = raised(weights.download, "nyud", folder)
    assert f"{first}: stalled: no data for 1 s; {second}: stalled: no data for 1 s" in text
    assert "python -m model weights install PATH" in text and os.listdir(folder) == []

    monkeypatch.setattr(transfer, "STALL_S", 0.3)  # slow but steady (80 KB/s) is no stall
    server.routes["/b/ExpNYUD_joint.ckpt"] = ("slow", body)
    assert weights.download("nyud", folder, urls=[second]).read_bytes() == body
