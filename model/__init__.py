"""Real-time joint semantic segmentation and depth: Light-Weight RefineNet, multi-task (Nekrasov et al., ICRA 2019)."""
from model.inference.engine import Predictor, Result
from model.inference.run_settings import RunSettings
from model.network.lwrefinenet import build_model
from model.weights.checkpoint import CheckpointError, load_model, save_checkpoint

from .presets import get_preset, presets

__all__ = ["CheckpointError", "Predictor", "Result", "RunSettings", "build_model", "get_preset",
           "load_model", "presets", "save_checkpoint"]
