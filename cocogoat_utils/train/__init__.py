"""The training loops: GANs (``gan``) and classifiers (``classifier``), with their callbacks.

Everything is re-exported here: ``from cocogoat_utils.train import GANTrainer, train_classifier``.
"""

from .classifier import predict, pseudo_label, self_train, train_classifier
from .gan import EMA, HISTORY_KEYS, Callback, GANTrainConfig, GANTrainer, eval_mode, make_adam

__all__ = ["EMA", "HISTORY_KEYS", "Callback", "GANTrainConfig", "GANTrainer", "eval_mode", "make_adam",
           "predict", "pseudo_label", "self_train", "train_classifier"]
