"""The official checkpoints by name (``catalogue.json``): verified downloads, offline install, lookup.

The weights folder is ``<repo>/weights/`` unless ``JOINTSEG_WEIGHTS`` or ``--dir`` names another. Every file is
checked against its git blob id (SHA-1 of ``b"blob <size>\\0" + content``), the id the hosting repositories show.
"""
import argparse
import copy
import errno
import hashlib
import json
import os
import shutil
import sys
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from model import help_text as cli

from . import transfer

ENV_VAR = "JOINTSEG_WEIGHTS"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "weights"
CLI = "python -m model weights"


class WeightsError(Exception):
    """A catalogue name, download or file that cannot be used; the message is one line."""


@cache
def _read_catalogue():
    raw = json.loads(Path(__file__).with_name("catalogue.json").read_text())
    return {name: {"name": name, **entry} for name, entry in raw.items()}


def catalogue():
    """All entries by name: name, file, description, preset, encoder, num_classes, tasks, blob_id, urls, paper."""
    return copy.deepcopy(_read_catalogue())


def weights_dir(override=None):
    """The weights folder: ``override``, else ``$JOINTSEG_WEIGHTS``, else ``<repo>/weights``."""
    return Path(override or os.environ.get(ENV_VAR) or DEFAULT_DIR).expanduser()


def blob_id(path):
    """The git blob id of a file, as ``git hash-object`` prints it."""
    path = Path(path)
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def installed_path(name, folder=None):
    """The file of catalogue entry ``name`` in the weights folder, or None when it is not there (not verified)."""
    path = weights_dir(folder) / _entry(name)["file"]
    return path if path.is_file() else None


def download(name, folder=None, progress=None, urls=None):
    """Fetches entry ``name`` into the weights folder and returns its path; a verified file already there is kept.

    Tries ``urls`` (default: the entry's, primary then fallback) in turn; one that stalls (transfer.STALL_S)
    gives way to the next. ``progress(done_bytes, total_or_None)`` is called as bytes arrive; an exception raised
    from it aborts the download and propagates. Whatever goes wrong, SIGINT and SIGTERM included, no partial or
    unverified file is left behind; part files that killed downloads left in the folder are removed.
    """
    return _fetch(_entry(name), weights_dir(folder), progress, urls)


def install(path, folder=None):
    """Copies a checkpoint obtained elsewhere into the weights folder after checking it is a catalogue file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such file")
    found = blob_id(path)
    entries = catalogue().values()
    entry = next((e for e in entries if e["blob_id"] == found), None)
    if entry is None:
        same_name = next((e for e in entries if e["file"] == path.name), None)
        if same_name:
            raise WeightsError(f"{path}: not the official {same_name['file']}: git blob id {found}, expected "
                               f"{same_name['blob_id']} (a corrupt or incomplete copy?)")
        raise WeightsError(f"{path}: not a catalogue checkpoint: its git blob id {found} matches none of "
                           f"{', '.join(e['name'] for e in entries)}")
    folder = weights_dir(folder)
    target = folder / entry["file"]
    if target.is_file() and target.samefile(path):
        return target
    with _part_file(folder, entry["file"], entry["name"]) as tmp:
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
    return target


def verify(name=None, folder=None):
    """``{name: True (file matches its blob id) | False (it does not) | None (not installed)}``, one or all."""
    names = [_entry(name)["name"]] if name else list(catalogue())
    status = {}
    for n in names:
        path = installed_path(n, folder)
        status[n] = None if path is None else blob_id(path) == _entry(n)["blob_id"]
    return status


def resolve(name_or_path, folder=None, download=False, progress=None):
    """A checkpoint path: an existing path as is, or a catalogue name's installed file (fetched if ``download``)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    entries = catalogue()
    entry = entries.get(str(name_or_path))
    if entry is None:
        hint = "" if _looks_like_path(name_or_path) else f", nor a catalogue name ({', '.join(entries)})"
        raise WeightsError(f"{name_or_path}: no such file{hint}")
    found = installed_path(entry["name"], folder)
    if found:
        return found
    if download:
        return _fetch(entry, weights_dir(folder), progress, None)
    name = entry["name"]
    raise WeightsError(f"{name}: weights not installed (no {entry['file']} in {weights_dir(folder)}): "
                       f"run `{CLI} download {name}`, or offline copy the file here with `{CLI} install PATH`")


def _entry(name):
    entries = catalogue()
    if name not in entries:
        raise WeightsError(f"unknown weights {name!r}; known: {', '.join(entries)}")
    return entries[name]


def _looks_like_path(text):
    text = str(text)
    return os.sep in text or "/" in text or Path(text).suffix != ""


def _fetch(entry, folder, progress, urls):
    target = folder / entry["file"]
    if target.is_file() and blob_id(target) == entry["blob_id"]:
        return target
    failures = []
    with _part_file(folder, entry["file"], entry["name"]) as tmp:
        for url in urls or entry["urls"]:
            try:
                transfer.copy_url(url, tmp, progress)
                found = blob_id(tmp)
                if found != entry["blob_id"]:
                    raise transfer.UrlFailed(f"checksum mismatch (git blob id {found}, expected "
                                             f"{entry['blob_id']}; bad file removed)")
            except transfer.UrlFailed as e:
                failures.append(f"{url}: {e}")
                continue
            os.replace(tmp, target)
            return target
    raise WeightsError(f"could not download {entry['name']}: " + "; ".join(failures) +
                       f" (offline? fetch {entry['file']} elsewhere and run `{CLI} install PATH`)")


@contextmanager
def _part_file(folder, file_name, name):
    """A locked part file for ``file_name`` in ``folder`` (created if needed), where stale ones are removed first;
    disk errors become one-line WeightsErrors, SIGINT/SIGTERM abort the block (see transfer.abort_on_signals)."""
    try:
        with transfer.abort_on_signals():
            folder.mkdir(parents=True, exist_ok=True)
            transfer.remove_stale_parts(folder, [e["file"] for e in catalogue().values()])
            with transfer.part_file(folder, file_name) as tmp:
                yield tmp
    except OSError as e:
        raise _local_error(e, folder) from None
    except transfer.Stopped as e:
        raise WeightsError(f"{name}: stopped by {e}; nothing partial was kept") from None


def _local_error(error, folder):
    where = f"choose another folder with --dir or {ENV_VAR}"
    if error.errno == errno.ENOSPC:
        return WeightsError(f"disk full: no room for the weights in {folder}; free some space or {where}")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST):
        return WeightsError(f"weights folder {folder} is not writable ({transfer.reason(error)}); {where}")
    return WeightsError(f"cannot write to the weights folder {folder}: {transfer.reason(error)}")


def _print_list(folder):
    print(f"weights folder: {folder}")
    rows = [("NAME", "PRESET", "TASKS", "STATUS", "FILE")]
    rows += [(e["name"], e["preset"], "+".join(e["tasks"]),
              "installed" if installed_path(e["name"], folder) else "not installed", str(folder / e["file"]))
             for e in catalogue().values()]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4])
    return 0


def tqdm_progress(bar):
    """A ``progress`` callback for ``download`` that drives a tqdm bar."""

    def progress(done, total):
        if total is not None and bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    return progress


def _download_cli(names, folder):
    from tqdm import tqdm

    failed = 0
    for name in names:
        if verify(name, folder)[name]:
            print(f"{name}: already installed and verified: {installed_path(name, folder)}")
            continue
        with tqdm(desc=name, unit="B", unit_scale=True, unit_divisor=1024, leave=False) as bar:
            try:
                path = download(name, folder, progress=tqdm_progress(bar))
            except WeightsError as e:
                bar.close()
                print(f"error: {e}", file=sys.stderr)
                failed += 1
                continue
        print(f"{name}: downloaded and verified: {path}")
    return 1 if failed else 0


def _verify_cli(name, folder):
    status = verify(name, folder)
    bad = False
    for n, ok in status.items():
        entry = _entry(n)
        if ok is None:
            print(f"{n}: not installed ({weights_dir(folder) / entry['file']})")
            bad = bad or name is not None
        elif ok:
            print(f"{n}: ok ({installed_path(n, folder)})")
        else:
            print(f"{n}: CORRUPT: {installed_path(n, folder)} does not match git blob id {entry['blob_id']}; "
                  f"run `{CLI} download {n}` to replace it")
            bad = True
    return 1 if bad else 0


EXAMPLES = f"""
{CLI} list                        # the catalogue, and what is installed where
{CLI} download nyud               # or: all
{CLI} verify [NAME]               # installed files against their blob ids
{CLI} install ExpNYUD_joint.ckpt  # a file fetched on a machine with internet
"""


def checkpoint_help(role=None):
    """The help of an argument that takes a checkpoint: both forms it accepts, then what it is for. The names
    come first, where argparse's wrapping (which breaks at hyphens) cannot split "nyud-kitti"."""
    text = f"a catalogue name ({', '.join(catalogue())}) or a checkpoint file"
    return f"{text}: {role}" if role else text


def main(argv=None):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", metavar="FOLDER", default=argparse.SUPPRESS,
                        help=f"weights folder (default: ${ENV_VAR}, else {DEFAULT_DIR})")
    parser = cli.parser(CLI, __doc__, EXAMPLES, parents=[common])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = ", ".join(catalogue())
    commands.add_parser("list", parents=[common], formatter_class=cli.HelpFormatter,
                        help="the catalogue, and what is installed where")
    get = commands.add_parser("download", parents=[common], formatter_class=cli.HelpFormatter,
                              help="fetch and verify NAME, or all")
    get.add_argument("name", metavar="NAME|all", help=f"a catalogue name ({names}) or all")
    check = commands.add_parser("verify", parents=[common], formatter_class=cli.HelpFormatter,
                                help="check installed files against their blob ids")
    check.add_argument("name", nargs="?", metavar="NAME", help=f"one of {names} (default: all installed)")
    put = commands.add_parser("install", parents=[common], formatter_class=cli.HelpFormatter,
                              help="copy a checkpoint obtained elsewhere, verified")
    put.add_argument("path", metavar="PATH", help="the downloaded file, e.g. ExpNYUD_joint.ckpt")
    args = parser.parse_args(argv)
    folder = weights_dir(getattr(args, "dir", None))
    try:
        if args.command == "list":
            return _print_list(folder)
        if args.command == "download":
            names = list(catalogue()) if args.name == "all" else [_entry(args.name)["name"]]
            return _download_cli(names, folder)
        if args.command == "verify":
            return _verify_cli(args.name, folder)
        path = install(args.path, folder)
        name = next(n for n, e in catalogue().items() if e["file"] == path.name)
        print(f"{name}: installed and verified: {path}")
        return 0
    except WeightsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; nothing partial was kept", file=sys.stderr)
        return 130
