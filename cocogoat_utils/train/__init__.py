"""The training loops: one loop (``loop``) with what plugs into it — GANs (``gan``), diffusion models
(``diffusion``), the progressive GAN's levels (``progressive``), callbacks (``callbacks``), the record of
quality evaluations the loop makes (``evaluation``) — and the
short task-specific loops: classifiers (``classifier``), inpainters (``inpaint``), the box regressor
(``emboxer``). ``optim`` holds Adam and the weight average every trainer uses.

Everything is re-exported here: ``from cocogoat_utils.train import GANTrainer, train_classifier``.
"""

from .callbacks import (Callback, DieAt, LiveLossPlot, PerScaleLosses, SampleGridSaver, ScaleGridSaver, ShadowEMA,
                        TensorBoardLogger)
from .classifier import (information_maximisation_loss, predict, prediction_spread, pretrain_information_max,
                         pseudo_label, self_train, train_classifier)
from .diffusion import DiffusionTrainConfig, DiffusionTrainer
from .emboxer import box_scores, evaluate_boxes, predict_boxes, train_emboxer
from .gan import HISTORY_KEYS, GANTrainConfig, GANTrainer
from .inpaint import evaluate_inpainter, fill_holes, inpainting_row, mean_colour_l1, train_inpainter
from .evaluation import QualityTracker
from .loop import Clock, ConfigMismatch, TrainConfig, Trainer
from .optim import EMA, PrecisionStep, make_adam
from .progressive import FadeIn, LevelPlan, ProgressiveTrainer, level_plan
from ..runtime import eval_mode

__all__ = ["Callback", "Clock", "ConfigMismatch", "TrainConfig", "Trainer", "DiffusionTrainConfig", "DiffusionTrainer", "EMA", "PrecisionStep",
           "HISTORY_KEYS", "GANTrainConfig", "GANTrainer", "eval_mode", "make_adam", "predict", "pseudo_label", "information_maximisation_loss",
           "prediction_spread", "pretrain_information_max",
           "self_train", "train_classifier", "evaluate_inpainter", "fill_holes", "inpainting_row", "mean_colour_l1",
           "train_inpainter", "box_scores",
           "evaluate_boxes", "predict_boxes", "train_emboxer", "FadeIn", "LevelPlan", "ProgressiveTrainer", "level_plan",
           "DieAt", "LiveLossPlot", "PerScaleLosses", "QualityTracker", "SampleGridSaver", "ScaleGridSaver", "ShadowEMA",
           "TensorBoardLogger"]
