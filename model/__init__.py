"""Real-time joint semantic segmentation and depth: Light-Weight RefineNet, multi-task (Nekrasov et al., ICRA 2019)."""
from .checkpoint import CheckpointError, load_model, save_checkpoint
from .engine import Predictor, Result
from .network import build_model
from .presets import get_preset, presets
from .settings import RunSettings

__all__ = ["CheckpointError", "Predictor", "Result", "RunSettings", "build_model", "get_preset",
           "load_model", "presets", "save_checkpoint"]
