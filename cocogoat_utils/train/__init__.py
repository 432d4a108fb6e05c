"""The training loops: GANs (``gan``), diffusion models (``diffusion``), classifiers (``classifier``),
inpainters (``inpaint``), the box regressor (``emboxer``) and the progressive GAN's
levels (``progressive``, on top of ``gan``).

Everything is re-exported here: ``from cocogoat_utils.train import GANTrainer, train_classifier``.
"""

from .classifier import predict, pseudo_label, self_train, train_classifier
from .diffusion import DiffusionTrainConfig, DiffusionTrainer
from .emboxer import box_scores, predict_boxes, train_emboxer
from .gan import EMA, HISTORY_KEYS, Callback, GANTrainConfig, GANTrainer, PerScaleLosses, eval_mode, make_adam
from .inpaint import evaluate_inpainter, fill_holes, train_inpainter
from .progressive import FadeIn, LevelPlan, ProgressiveTrainer, level_plan

__all__ = ["DiffusionTrainConfig", "DiffusionTrainer", "EMA", "HISTORY_KEYS", "Callback", "GANTrainConfig",
           "GANTrainer", "PerScaleLosses", "eval_mode", "make_adam", "predict", "pseudo_label", "self_train",
           "train_classifier", "evaluate_inpainter", "fill_holes", "train_inpainter", "box_scores", "predict_boxes",
           "train_emboxer",
           "FadeIn", "LevelPlan", "ProgressiveTrainer", "level_plan"]
