"""BENCHMARKS.md, written in sections (each command replaces its own and keeps the rest), and the facts about the
machine that every section starts with."""
import os
import platform
import re
from pathlib import Path

import torch

from model.files import write_atomic

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "BENCHMARKS.md"
ISA_FLAGS = {"amx_tile": "AMX", "avx512_bf16": "AVX-512 BF16", "avx512_vnni": "AVX-512 VNNI",
             "avx_vnni": "AVX-VNNI", "avx512f": "AVX-512", "avx2": "AVX2"}


def rss_mb():
    """This process's resident memory in MB (Linux), for the soak scripts."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_description():
    """The CPU's model and the vector instructions that matter for reduced precision, e.g.
    'Intel(R) Xeon(R) Processor, 2 logical CPUs, AVX-512 BF16, AVX-512 VNNI, AVX-512, AVX2'."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and name in ("", platform.machine(), platform.processor()):
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    isa = [label for flag, label in ISA_FLAGS.items() if flag in flags]
    return f"{name}, {os.cpu_count()} logical CPUs" + (f", {', '.join(isa)}" if isa else "")


def versions():
    parts = [f"torch {torch.__version__} ({torch.get_num_threads()} threads)"]
    for package in ("onnxruntime", "openvino"):
        try:
            parts.append(f"{package} {__import__(package).__version__}")
        except ImportError:
            pass
    return ", ".join(parts + [f"Python {platform.python_version()}", f"{platform.system()} {platform.release()}"])


def section(text, title):
    """The Markdown section ``title`` (up to the next ``## ``) of ``text``, or ''."""
    match = re.search(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", text, flags=re.DOTALL | re.MULTILINE)
    return match.group(0) if match else ""


def replace_section(path, title, body):
    """Writes ``body`` (starting with ``title``) as that section of the Markdown file, keeping the rest."""
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    old = section(text, title)
    text = text.replace(old, body.rstrip() + "\n\n") if old else text.rstrip() + "\n\n" + body
    write_atomic(path, text.strip() + "\n")
