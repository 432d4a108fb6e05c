"""The held-out split by group, the label plan and the filter that writes the kept images."""

import pytest
import torch

from cocogoat_utils.data import ImageSet, load_image_folder
from cocogoat_utils.selection import check_label_plan, filter_dataset, name_group, split_held_out


def test_name_group_joins_variants_of_one_glyph():
    assert name_group("waving hand: medium skin tone") == "waving hand"
    assert name_group("waving hand") == "waving hand"
    assert name_group("waving hand: dark skin tone [blur] #2") == "waving hand"
    assert name_group("cat face [jpeg]") == name_group("cat face #3") == "cat face"
    assert name_group("holiday/beach 01.jpg") == "holiday/beach 01.jpg"


def test_split_keeps_groups_on_one_side_and_is_reproducible():
    names = [f"glyph {g}" + (f": tone {t}" if t else "") for g in range(30) for t in range(3)]
    train, test = split_held_out(names, held_out=20, seed=1)
    assert 18 <= len(test) <= 20 and len(train) + len(test) == len(names)
    assert not {name_group(n) for n in train} & {name_group(n) for n in test}
    assert split_held_out(names, held_out=20, seed=1) == (train, test)
    assert split_held_out(names, held_out=20, seed=2) != (train, test)
    assert train == [n for n in names if n in set(train)], "training names keep the labelling order"


def test_split_refuses_when_nothing_would_be_left_to_train():
    with pytest.raises(ValueError, match="cannot hold out"):
        split_held_out(["a", "b", "c"], held_out=3)
    with pytest.raises(ValueError, match="cannot hold out"):
        split_held_out(["a: x", "a: y"], held_out=1)
    with pytest.raises(ValueError, match="at least 1"):
        split_held_out(["a", "b"], held_out=0)
    train, test = split_held_out(["a: x", "a: y", "b", "c"], held_out=1, seed=0)
    assert len(test) == 1 and test[0] in ("b", "c"), "a group larger than held_out is passed over"


def test_label_plan_names_the_numbers():
    check_label_plan(100, 30, [50, 70])
    with pytest.raises(ValueError, match=r"40 images, but held_out=30 .* 70 need 100"):
        check_label_plan(40, 30, [50, 70])
    with pytest.raises(ValueError, match="positive"):
        check_label_plan(40, 0, [5])


def _task():
    images = torch.arange(6, dtype=torch.uint8).mul(40).view(6, 1, 1, 1).expand(6, 3, 8, 8).contiguous()
    names = ["cat", "dog: brown", "sub/fish.png", "cat #2", "ant", "bee"]
    return ImageSet(images, names, ["x"] * 6)


def test_filter_writes_exactly_the_confident_keeps(tmp_path):
    task = _task()
    predicted = torch.tensor([0, 0, 0, 1, 2, 0])
    confidence = torch.tensor([0.95, 0.99, 0.91, 0.99, 0.99, 0.5])
    truth = torch.tensor([0, 1, 0, 1, 2, 0])
    report = filter_dataset(task, predicted, confidence, ["keep", "low_quality", "off_target"], threshold=0.9,
                            folder=tmp_path / "kept", truth=truth)
    assert report["keep"].tolist() == [True, True, True, False, False, False]
    assert report["kept"] == 3
    assert report["dropped"] == {"low_quality": 1, "off_target": 1, "keep, below threshold": 1}
    assert report["kept_precision"] == pytest.approx(2 / 3)
    back = load_image_folder(tmp_path / "kept", 8)
    assert sorted(back.names) == ["cat.png", "dog_brown.png", "sub/fish.png"]
    by_name = dict(zip(back.names, back.images))
    assert torch.equal(by_name["sub/fish.png"], task.images[2])
    assert torch.equal(by_name["dog_brown.png"], task.images[1])


def test_filter_replaces_an_old_folder_and_handles_nothing_kept(tmp_path):
    task = _task()
    folder = tmp_path / "kept"
    folder.mkdir()
    (folder / "stale.png").write_bytes(b"old")
    report = filter_dataset(task, torch.ones(6, dtype=torch.long), torch.ones(6), ["keep", "bad"], threshold=0.5,
                            folder=folder, truth=torch.zeros(6, dtype=torch.long))
    assert report["kept"] == 0 and report["kept_precision"] is None
    assert folder.is_dir() and not any(folder.iterdir())
    assert not (tmp_path / "kept.partial").exists() and not (tmp_path / "kept.old").exists()


def test_filter_rejects_mismatched_inputs():
    task = _task()
    with pytest.raises(ValueError, match="keep_class"):
        filter_dataset(task, torch.zeros(6), torch.ones(6), ["good", "bad"], threshold=0.5)
    with pytest.raises(ValueError, match="6 images, 5 predictions"):
        filter_dataset(task, torch.zeros(5), torch.ones(6), ["keep", "bad"], threshold=0.5)
