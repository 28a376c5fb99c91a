"""``python -m model train``: multi-task training on asymmetric annotations, on a CPU, one GPU or many (torchrun).

    python -m model train --config train.yaml [--epochs 50 --batch-size 6 ...]
    torchrun --nproc-per-node 4 -m model train --config train.yaml

Each setting comes from its default (shown below), else a YAML/JSON file (``--config``, keys as the flags with
underscores: ``batch_size``), else its flag. Writes into ``--out``: ``best.ckpt`` and ``last.ckpt`` (checkpoints
that ``run_demo.py --weights`` and every command here load), ``last.state`` (optimiser and schedule for
``--resume``), ``config.json``, ``log.csv`` and ``curves.png``. Under torchrun every process trains on its share
of each batch (``--batch-size`` is per process) and only rank 0 validates and writes.
"""
import json
import math
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from model import processing as pp
from model.data.datalist import ListError
from model.data.datasets import DataError, JointTransform, MultiTaskDataset, collate, load_samples
from model.errors import first_line
from model.evaluation.metrics import DepthMeter, NormalsMeter, SegmentationMeter
from model.files import write_atomic, write_png
from model.inference.run_settings import resolve_device
from model.network.encoders.imagenet import WeightsUnavailable, load_imagenet
from model.network.lwrefinenet import LWRefineNet, build_model
from model.presets import generic_preset, get_preset
from model.weights.catalogue import WeightsError, resolve
from model.weights.checkpoint import (
    CheckpointError,
    atomic_torch_save,
    describe_state_dict,
    read_state_dict,
    save_checkpoint,
)

from .config import ConfigError, checked, parse_args
from .log import plot_curves, write_log
from .losses import multitask_loss

# ---------------------------------------------------------------- set-up

class Distributed:
    """The process's place under torchrun (WORLD_SIZE, RANK, LOCAL_RANK), or a single process."""

    def __init__(self, device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        try:
            self.device = resolve_device(device)
        except RuntimeError as e:
            raise ConfigError(str(e)) from None
        if self.device.type == "cuda":
            self.device = torch.device("cuda", self.local_rank if self.world > 1 else (self.device.index or 0))
            torch.cuda.set_device(self.device)
            torch.backends.cudnn.benchmark = True  # fixed crop size: the fastest kernels are found once
        if self.world > 1:
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            # validation runs on rank 0 alone while the others wait: allow it time
            dist.init_process_group(backend, timeout=timedelta(hours=2))

    @property
    def main(self):
        return self.rank == 0

    def barrier(self):
        if self.world > 1:
            dist.barrier()

    def close(self):
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def resolve_preset(config):
    try:
        preset = get_preset(config["preset"])
    except KeyError as e:
        raise ConfigError(e.args[0]) from None
    tasks = tuple(config["tasks"] or preset.tasks)
    if config["classes"]:
        preset = generic_preset(len(config["classes"]), tasks, classes=config["classes"],
                                max_depth=preset.max_depth)
    png_scale = float(config["depth_png_scale"] or get_preset(config["preset"]).depth_png_scale)
    return preset, tasks, png_scale


def create_model(config, preset, tasks, log=print):
    """The network: from ``init`` (all that fits; a new segmentation head when the classes differ), else with an
    ImageNet encoder (``pretrained: imagenet``), else random."""
    encoder = config["encoder"]
    init = None
    if config["init"]:
        try:
            path = resolve(config["init"])
            state_dict, _ = read_state_dict(path)
        except (WeightsError, CheckpointError) as e:
            raise ConfigError(f"--init: {e}") from None
        encoder = describe_state_dict(state_dict)[0]  # read_state_dict refuses what this cannot describe
        init = (path, state_dict)
    model = build_model(encoder, preset.num_classes, tasks)
    if init:
        path, state_dict = init
        own = model.state_dict()
        kept = {k: v for k, v in state_dict.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(kept, strict=False)
        fresh = sorted({k.rsplit(".", 1)[0] for k in own if k not in kept and not k.endswith("num_batches_tracked")})
        log(f"initialised from {path}; newly initialised: {', '.join(fresh) or 'nothing'}")
    elif config["pretrained"] == "imagenet":
        load_imagenet(model.encoder, encoder)
    elif config["pretrained"] != "none":
        raise ConfigError(f"pretrained must be imagenet or none, got {config['pretrained']!r}")
    model.preset = preset
    return model


def sync_batchnorm(model):
    """The same network with SyncBatchNorm, converted part by part so the parts and the flat keys stay shared."""
    convert = nn.SyncBatchNorm.convert_sync_batchnorm
    synced = LWRefineNet(model.encoder_name, convert(model.encoder), convert(model.decoder),
                         {task: convert(head) for task, head in model.heads.items()})
    if hasattr(model, "preset"):
        synced.preset = model.preset
    return synced


def param_groups(model, lr_encoder, lr_decoder):
    encoder = list(model.encoder.parameters())
    ids = {id(p) for p in encoder}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return [{"params": encoder, "lr": lr_encoder, "name": "encoder"},
            {"params": rest, "lr": lr_decoder, "name": "decoder"}]


def freeze_batchnorm(model):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


# ---------------------------------------------------------------- training

class Trainer:
    """One network, its optimiser and schedule; ``step`` trains on one batch."""

    def __init__(self, model, config, device, world=1):
        self.config = config
        self.device = device
        self.raw = model.to(device)
        self.model = self.raw
        if world > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.model = nn.parallel.DistributedDataParallel(self.raw, device_ids=ids)
        self.tasks = model.tasks
        self.optimizer = torch.optim.SGD(param_groups(self.raw, config["lr_encoder"], config["lr_decoder"]),
                                         momentum=config["momentum"], weight_decay=config["weight_decay"])
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, config["lr_step"], config["lr_gamma"])
        self.amp = bool(config["amp"]) and device.type == "cuda"
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp)

    def train_mode(self):
        self.model.train()
        if self.config["freeze_bn"]:
            freeze_batchnorm(self.model)

    def step(self, batch):
        """One optimiser step; returns ``(loss, {task: loss})`` as floats."""
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            outputs = self.model(batch["image"])
        loss, parts = multitask_loss(outputs, batch, self.tasks, self.config["loss_weights"])
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.item(), {t: v.item() for t, v in parts.items()}

    def state(self):
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict()}

    def load_state(self, state):
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


@torch.no_grad()
def validate(model, loader, tasks, preset, device, loss_weights=None, progress=False):
    """Validation loss and the evaluation metrics over a loader, prefixed ``val_``."""
    model.eval()
    segm = SegmentationMeter(preset.num_classes)
    depth = DepthMeter()
    normals = NormalsMeter()
    losses = []
    for batch in tqdm(loader, desc="validate", leave=False, disable=not progress):
        batch = {k: v.to(device) for k, v in batch.items()}
        outputs = model(batch["image"])
        loss, _ = multitask_loss(outputs, batch, tasks, loss_weights, sync=False)
        losses.append(loss.item())
        size = batch["image"].shape[-2:]
        for task, out in zip(tasks, outputs):
            has = batch[f"has_{task}"]
            if not has.any():
                continue
            if task == "segm":
                segm.update(pp.labels_from_logits(out, size)[has], batch["segm"][has])
            elif task == "depth":
                depth.update(pp.depth_metres(out, size)[has], batch["depth"][has][:, 0])
            else:
                normals.update(pp.resize(out, size)[has].permute(0, 2, 3, 1), batch["normals"][has].permute(0, 2, 3, 1))
    scores = {"val_loss": float(np.mean(losses)) if losses else math.nan}
    if "segm" in tasks and segm.confusion.sum():
        s = segm.compute()
        scores.update(val_miou=s["miou"], val_pixel_acc=s["pixel_acc"], val_mean_acc=s["mean_acc"])
    if "depth" in tasks and depth.pixels:
        d = depth.compute()
        scores.update(val_rmse=d["rmse"], val_rmse_log=d["rmse_log"], val_abs_rel=d["abs_rel"],
                      val_delta1=d["delta1"])
    if "normals" in tasks and normals.pixels:
        n = normals.compute()
        scores.update(val_mean_angle=n["mean_angle"], val_median_angle=n["median_angle"])
    return scores


def score_of(row):
    """Higher is better: validation mIoU, else minus the validation RMSE, else minus the training loss."""
    for key, sign in (("val_miou", 1), ("val_rmse", -1), ("train_loss", -1)):
        if key in row and not math.isnan(row[key]):
            return sign * row[key]
    return -math.inf


def make_loader(samples, tasks, png_scale, preset, config, dist_info, train):
    transform = JointTransform(config["crop"], tuple(config["scale"]), config["flip"]) if train else None
    dataset = MultiTaskDataset(samples, tasks, png_scale, preset.colours, transform, seed=config["seed"])
    if train:
        # Always a DistributedSampler (one replica when alone): the same order for any number of processes.
        sampler = DistributedSampler(dataset, num_replicas=dist_info.world, rank=dist_info.rank, shuffle=True,
                                     seed=config["seed"], drop_last=True)
        if len(sampler) < config["batch_size"]:
            raise ConfigError(f"{config['train']}: {len(dataset)} samples do not fill one batch of "
                              f"{config['batch_size']} per process on {dist_info.world} process(es)")
        return DataLoader(dataset, batch_size=config["batch_size"], sampler=sampler, drop_last=True,
                          num_workers=config["workers"], collate_fn=collate,
                          pin_memory=dist_info.device.type == "cuda")
    return DataLoader(dataset, batch_size=1, shuffle=False, num_workers=config["workers"], collate_fn=collate)


def train(config, resume=False, log=print):
    """Runs a whole training as configured; returns the history (one dict per epoch). Rank 0 writes ``out``.
    Bad settings raise SettingsInvalid before anything runs."""
    config = checked(config)
    torch.manual_seed(config["seed"])
    place = Distributed(config["device"])
    if config["sync_bn"] and place.device.type != "cuda":
        place.close()
        raise ConfigError("sync_bn needs CUDA (PyTorch's SyncBatchNorm runs on GPUs only); "
                          "on the CPU use freeze_bn instead")
    try:
        return _train(config, resume, place, log if place.main else (lambda *a: None))
    finally:
        place.close()


def _train(config, resume, place, log):
    out = Path(config["out"])
    preset, tasks, png_scale = resolve_preset(config)
    try:
        train_samples = load_samples(config["train"], config["root"])
        val_samples = load_samples(config["val"], config["root"]) if config["val"] else None
    except (ListError, DataError) as e:
        raise ConfigError(str(e)) from None
    model = create_model(config, preset, tasks, log)
    if config["sync_bn"] and place.world > 1:
        model = sync_batchnorm(model)
    trainer = Trainer(model, config, place.device, place.world)
    start, best, history = 0, -math.inf, []
    if resume:
        start, best, history = _resume(out, trainer, place.device)
        log(f"resuming {out} after epoch {start}")
    elif place.main:
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "config.json", json.dumps(config, indent=1).encode())
    train_loader = make_loader(train_samples, tasks, png_scale, preset, config, place, train=True)
    val_loader = make_loader(val_samples, tasks, png_scale, preset, config, place, train=False) \
        if val_samples and place.main else None
    progress = config["progress"] and place.main
    for epoch in range(start, config["epochs"]):
        # Dropout (ResNet decoder) draws from this: the same whether resumed or not, different per process.
        torch.manual_seed(config["seed"] + 1000 * epoch + place.rank)
        train_loader.sampler.set_epoch(epoch)
        train_loader.dataset.set_epoch(epoch)
        trainer.train_mode()
        lrs = [g["lr"] for g in trainer.optimizer.param_groups]
        sums, steps, tic = {}, 0, time.perf_counter()
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{config['epochs']}", leave=False, disable=not progress)
        for batch in bar:
            loss, parts = trainer.step(batch)
            if not math.isfinite(loss):
                raise FloatingPointError(f"the loss became {loss} at epoch {epoch + 1}, step {steps + 1}; "
                                         "lower the learning rates")
            for key, value in (("loss", loss), *parts.items()):
                sums[key] = sums.get(key, 0.0) + value
            steps += 1
            bar.set_postfix(loss=f"{sums['loss'] / steps:.4f}")
        trainer.scheduler.step()
        seconds = time.perf_counter() - tic
        row = {"epoch": epoch + 1, "lr_encoder": lrs[0], "lr_decoder": lrs[1],
               **{f"train_{k}": v / steps for k, v in sums.items()}, "seconds": seconds,
               "images_per_s": steps * config["batch_size"] * place.world / seconds}
        if val_loader is not None:
            row.update(validate(trainer.raw, val_loader, tasks, preset, place.device, config["loss_weights"],
                                progress))
        history.append(row)
        if place.main:
            best = _write_epoch(out, trainer, config, history, best)
            log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        place.barrier()
    return history


def _meta(config, row):
    return {"trained": f"{row['epoch']} epochs on {config['train']} ({datetime.now():%Y-%m-%d})",
            "epoch": row["epoch"], "metrics": {k: v for k, v in row.items() if isinstance(v, float)}}


def _write_epoch(out, trainer, config, history, best):
    row = history[-1]
    model = trainer.raw
    save_checkpoint(model, out / "last.ckpt", **_meta(config, row))
    score = score_of(row)
    if score > best:
        best = score
        save_checkpoint(model, out / "best.ckpt", **_meta(config, row))
    # The model's own copy travels with the optimiser's: a crash between two writes cannot mismatch them.
    atomic_torch_save({"model": model.state_dict(), **trainer.state(), "epoch": row["epoch"], "best": best,
                       "history": history}, out / "last.state")
    write_log(history, out / "log.csv")
    write_png(out / "curves.png", plot_curves(history))
    return best


def _resume(out, trainer, device):
    path = out / "last.state"
    if not path.is_file():
        raise ConfigError(f"--resume: {path} not found (no finished epoch to resume from)")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        trainer.raw.load_state_dict(state["model"])
        trainer.load_state(state)
    except Exception as e:
        raise ConfigError(f"--resume: {path}: unusable ({first_line(e, 160)})") from None
    return state["epoch"], state["best"], list(state["history"])


def main(argv=None):
    try:
        config, resume = parse_args(argv, __doc__)
        config = checked(config)
    except ConfigError as e:  # settings refused before anything runs: each bad one on its own line
        for problem in getattr(e, "problems", [str(e)]):
            print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        history = train(config, resume)
    except (ConfigError, WeightsUnavailable, DataError, FloatingPointError) as e:
        # A DataLoader worker's error arrives with the worker's traceback; its last line is the message.
        message = str(e).strip().splitlines()[-1].removeprefix(f"{type(e).__module__}.{type(e).__name__}: ")
        print(f"error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; --resume continues from the last finished epoch", file=sys.stderr)
        return 130
    if history and int(os.environ.get("RANK", "0")) == 0:
        print(f"done: {config['out']}/best.ckpt and last.ckpt")
    return 0
