"""The helpers notebooks 01 (DataSelector) and 02 (DataAugmentator/Emboxer) moved into the package."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from cocogoat_utils import viz  # noqa: E402
from cocogoat_utils.boxes import add_own_boxes, split_boxed  # noqa: E402
from cocogoat_utils.data import ImageSet  # noqa: E402
from cocogoat_utils.experiment import warnings_as_notes  # noqa: E402
from cocogoat_utils.labels import BoxStore, LabelStore  # noqa: E402
from cocogoat_utils.selection import (CURVE_TITLES, curve_scores, filter_dataset, label_curve_verdicts,  # noqa: E402
                                      label_split, labels_from_truth)
from cocogoat_utils.train import evaluate_boxes  # noqa: E402
from cocogoat_utils.train.classifier import collapsed_models  # noqa: E402


def _set(names, size=8):
    return ImageSet(torch.zeros(len(names), 3, size, size, dtype=torch.uint8), list(names), ["x"] * len(names), "folder")


def test_labels_from_truth_fills_the_store_up_to_count_once(tmp_path):
    store = LabelStore(tmp_path / "labels.csv", ["a", "b"])
    names = [f"n{i}" for i in range(10)]
    truth = ["a" if i % 2 else "b" for i in range(10)]
    assert labels_from_truth(store, names, truth, 4, seed=1) == 4
    assert len(store) == 4 and all(store.get(n) == truth[names.index(n)] for n in store.labels)
    assert labels_from_truth(store, names, truth, 4, seed=1) == 0  # already enough labels


def test_label_split_keeps_near_copies_of_held_out_images_out_of_the_pool():
    names = ["cat", "cat [blur]", "dog", "dog #2", "owl", "fox"]
    labelled = {"cat": "a", "dog": "b", "owl": "a"}
    split = label_split(names, labelled, ["a", "b"], ["dog", "owl"], ["cat"])
    assert split.hand.tolist() == [2, 4] and split.labels.tolist() == [1, 0]
    assert split.test.tolist() == [0] and split.test_labels.tolist() == [0] and split.groups == 1
    assert split.pool.tolist() == [2, 3, 4, 5]  # "cat [blur]" is a near-copy of the held-out "cat"
    assert split.unlabelled.tolist() == [3, 5]
    text = split.describe(["a", "b"], largest=5)
    assert "3 labelled: 2 to train on" in text and "only 2 hand labels" in text
    assert "only" not in split.describe(["a", "b"], largest=2)


def test_curve_scores_and_verdicts_follow_the_numbers():
    today = [{"val_acc": 0.5}, {"val_acc": 0.6}]
    minent = [{"val_acc": 0.7, "pseudo_labels": 0, "pseudo_correct": None},
              {"val_acc": 0.65, "pseudo_labels": 9, "pseudo_correct": 7}]
    row = {"labels": 50, "supervised": 0.6} | curve_scores(today, minent)
    assert row["minent_fine_tuned"] == 0.7 and row["minent_self_learned"] == 0.65
    assert row["self_learning_change"] == pytest.approx(-0.05) and row["pseudo_right"] == 7
    assert set(row) <= set(CURVE_TITLES)
    verdicts, met = label_curve_verdicts([row])
    assert met is True and any("is met" in v for v in verdicts)
    assert any("lowered it at 1" in v and "conflict" in v for v in verdicts)
    worse = row | {"minent_self_learned": 0.5}
    assert label_curve_verdicts([worse])[1] is False


def test_filter_dataset_lets_a_hand_label_beat_the_network(tmp_path):
    images = _set(["a", "b", "c", "d"])
    predicted, confidence = torch.tensor([0, 0, 1, 0]), torch.tensor([0.95, 0.95, 0.99, 0.5])
    truth = torch.tensor([0, 1, 1, 0])
    report = filter_dataset(images, predicted, confidence, ["keep", "drop"], threshold=0.9, truth=truth,
                            hand_labels={"b": "drop", "d": "keep"})
    assert report["keep"].tolist() == [True, False, False, True]
    assert report["kept_by_hand"] == 1 and report["kept_precision_pseudo"] == 1.0
    assert predicted.tolist() == [0, 0, 1, 0], "the predictions passed in are not changed"
    assert "kept_by_hand" not in filter_dataset(images, predicted, confidence, ["keep", "drop"], threshold=0.9)


class _Constant(nn.Module):
    """The same output (logits, or a box) for every image."""

    def __init__(self, logits):
        super().__init__()
        self.logits = nn.Parameter(torch.tensor(logits))

    def forward(self, x):
        return self.logits.expand(len(x), -1)


def test_collapsed_models_names_the_ones_predicting_one_class():
    images = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    models = {"one": _Constant([5.0, 0.0]), "other": _Constant([0.0, 5.0])}
    assert collapsed_models(models, images, 2) == "one, other"
    assert collapsed_models({}, images, 2) == "none"


def test_evaluate_boxes_scores_and_says_so(capsys):
    images = torch.zeros(2, 3, 16, 16, dtype=torch.uint8)
    target = torch.tensor([[0.0, 0, 8, 8], [8.0, 8, 16, 16]])
    predicted, scores = evaluate_boxes(_Constant([0.0, 0, 8, 8]), images, target, "held out")
    assert predicted.shape == (2, 4) and scores["mean_iou"] == pytest.approx(0.5) and scores["iou50"] == 0.5
    assert "held out: mean IoU 0.500; IoU ≥ 0.5: 50.0%" in capsys.readouterr().out


def test_split_boxed_and_add_own_boxes(tmp_path, capsys):
    images = _set([f"img{i}.png" for i in range(6)], size=10)
    store = BoxStore(tmp_path / "boxes.csv")
    for name in ("img0.png", "img2.png", "img3.png", "img5.png", "gone.png"):
        store.add(name, (0.1, 0.2, 0.5, 0.6))
    pictures, boxes, train, test = split_boxed(images, store, 10, 0.25, seed=0)
    out = capsys.readouterr().out
    assert "gone.png" in out and "4 with a box" in out and "3 of them join the training canvases, 1 are held out" in out
    assert pictures.shape == (4, 3, 10, 10) and boxes[0].tolist() == pytest.approx([1.0, 2.0, 5.0, 6.0])
    assert len(train[0]) == 3 and len(test[0]) == 1 and len(train[1]) == 3
    canvases, canvas_boxes = torch.zeros(24, 3, 10, 10, dtype=torch.uint8), torch.zeros(24, 4)
    mixed, mixed_boxes = add_own_boxes(canvases, canvas_boxes, train)
    assert len(mixed) == 24 + 3 * 2 and len(mixed_boxes) == len(mixed)  # 24 // (4 · 3) = 2 repeats
    assert add_own_boxes(canvases, canvas_boxes, None)[0] is canvases
    one = BoxStore(tmp_path / "one.csv")
    one.add("img1.png", (0.0, 0.0, 1.0, 1.0))
    assert split_boxed(images, one, 10)[2:] == (None, None)


def test_warnings_as_notes_prints_every_warning(capsys):
    with warnings_as_notes():
        for _ in range(2):
            warnings.warn("box of x.png clipped")
    assert capsys.readouterr().out.count("note: box of x.png clipped") == 2


def test_the_plots_draw_what_they_are_given():
    ax = viz.show_boxes(torch.zeros(20, 3, 8, 8, dtype=torch.uint8), torch.tensor([[1.0, 1, 6, 6]] * 20), title="t")
    assert ax.get_title() == "t" and ax.images[0].get_array().shape[1] == 8 * 8 + 9 * 2  # 16 shown, 8 a row
    plt.close("all")
