"""cocogoat_utils.labels: a crash-safe CSV of hand labels and the ipywidgets labeller."""

import warnings

import pytest
import torch

from cocogoat_utils.label_widgets import Labeller, png_bytes
from cocogoat_utils.labels import LabelStore

CLASSES = ("keep", "low_quality", "off_target")


@pytest.fixture
def path(tmp_path):
    return tmp_path / "labels" / "selection.csv"


def test_round_trip_and_resume(path):
    store = LabelStore(path, CLASSES)
    store.add("cat", "keep")
    store.add("dog, blurred", "low_quality")  # a comma in a name is quoted
    assert path.read_text().splitlines()[0] == "name,label"
    again = LabelStore(path, CLASSES)  # a new kernel on the same file
    assert again.labels == {"cat": "keep", "dog, blurred": "low_quality"} == store.load()
    assert again.counts() == {"keep": 1, "low_quality": 1, "off_target": 0}
    again.add("car", "off_target")
    assert len(LabelStore(path, CLASSES)) == 3


def test_last_label_wins(path):
    store = LabelStore(path, CLASSES)
    store.add("cat", "keep")
    store.add("cat", "off_target")
    assert store.labels == {"cat": "off_target"} == LabelStore(path, CLASSES).labels
    assert len(path.read_text().splitlines()) == 3  # header and both rows: append only


def test_corrupt_lines_are_reported_by_number_and_skipped(path):
    path.parent.mkdir(parents=True)
    path.write_text("name,label\ncat,keep\nbroken\n,keep\ndog,low_quality\n")
    with pytest.warns(UserWarning, match=r"lines 3, 4") as record:
        store = LabelStore(path, CLASSES)
    assert len(record) == 1
    assert store.labels == {"cat": "keep", "dog": "low_quality"}


def test_a_row_cut_short_by_a_crash_does_not_swallow_the_next_one(path):
    path.parent.mkdir(parents=True)
    path.write_text("name,label\ncat,keep\ndog,lo")  # the kernel died mid-write
    with pytest.warns(UserWarning, match="line 3"):
        store = LabelStore(path, CLASSES)
    store.add("dog", "low_quality")
    with pytest.warns(UserWarning, match="line 3"):
        assert LabelStore(path, CLASSES).labels == {"cat": "keep", "dog": "low_quality"}


def test_unknown_class(path):
    store = LabelStore(path, CLASSES)
    with pytest.raises(ValueError, match="keep.*low_quality.*off_target"):
        store.add("cat", "good")
    assert not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("name,label\ncat,keep\ndog,good\n")
    with pytest.warns(UserWarning, match=r"line 3 .*keep"):
        assert LabelStore(path, CLASSES).labels == {"cat": "keep"}


def test_resolve_reports_names_that_no_longer_exist(path):
    store = LabelStore(path, CLASSES)
    for name, label in [("cat", "keep"), ("gone", "off_target"), ("dog", "low_quality")]:
        store.add(name, label)
    with pytest.warns(UserWarning, match="'gone'"):
        found, missing = store.resolve(["cat", "dog", "cow"])
    assert found == {"cat": "keep", "dog": "low_quality"} and missing == ["gone"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.resolve(["cat", "dog", "gone"])[1] == []


def _tiny():
    images = torch.randint(0, 256, (5, 3, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return images, [f"im{i}" for i in range(5)]


def test_png_bytes_enlarges_with_nearest():
    from io import BytesIO

    from PIL import Image

    image = _tiny()[0][0]
    pil = Image.open(BytesIO(png_bytes(image, scale=4)))
    assert pil.size == (16, 16)
    assert pil.getpixel((5, 6)) == tuple(image[:, 1, 1].tolist())


def test_labeller_headless(path):
    images, names = _tiny()
    store = LabelStore(path, CLASSES)
    lab = Labeller(images, store, names=names, scale=2)
    assert lab.current == "im0" and lab.progress.value == "0 / 5 labelled"
    assert bytes(lab.image.value).startswith(b"\x89PNG")
    lab.label("keep")
    lab.label("off_target")
    assert lab.current == "im2" and lab.progress.value == "2 / 5 labelled"
    lab.back()
    assert lab.current == "im1"
    lab.label("low_quality")  # label again: the last one wins
    assert lab.current == "im2"
    lab.skip()
    assert lab.current == "im3" and lab.progress.value == "2 / 5 labelled"
    resumed = LabelStore(path, CLASSES)  # what is on disk
    assert resumed.labels == {"im0": "keep", "im1": "low_quality"}
    again = Labeller(images, resumed, names=names)  # a new kernel starts at the first unlabelled image
    assert again.current == "im2"
    for _ in range(3):
        again.label("keep")
    assert again.current is None and again.progress.value == "5 / 5 labelled"
    again.back()
    assert again.current == "im4"
    with pytest.raises(ValueError, match="distinct"):
        Labeller(images, store, names=["a", "a", "b", "c", "d"])


def test_labeller_skipped_images_come_round_again(path):
    images, names = _tiny()
    lab = Labeller(images, LabelStore(path, CLASSES), names=names, order=[4, 3])
    assert lab.current == "im4"
    lab.skip()
    lab.label("keep")
    assert lab.current == "im4"  # the skipped one, last unlabelled
    lab.skip()
    assert lab.current == "im4"


def test_labeller_keyboard(path):
    images, names = _tiny()
    store = LabelStore(path, CLASSES)
    lab = Labeller(images, store, names=names)

    def type_and_enter(text):
        lab.keys.value = text
        if lab._submit_on_enter:  # ipywidgets 7: the frontend's submit event
            lab.keys._submission_callbacks(lab.keys)

    type_and_enter("2")
    assert store.labels == {"im0": "low_quality"} and lab.keys.value == ""
    type_and_enter("o")
    type_and_enter("b")
    assert lab.current == "im1"
    type_and_enter("K")
    type_and_enter("s")
    assert lab.current == "im3"
    type_and_enter("9")
    assert "9" in lab.status.value and lab.current == "im3"
    assert LabelStore(path, CLASSES).labels == {"im0": "low_quality", "im1": "keep"}


# ------------------------------------------------------------------ subject boxes

def test_box_store_round_trip_resume_and_last_box_wins(tmp_path):
    from cocogoat_utils.labels import BoxStore

    path = tmp_path / "boxes.csv"
    store = BoxStore(path)
    store.add("a.png", (0.1, 0.2, 0.5, 0.6))
    store.add("b.png", (0.0, 0.0, 1.0, 1.0))
    store.add("a.png", (0.2, 0.2, 0.4, 0.4))  # drawn again
    resumed = BoxStore(path)  # a restarted kernel
    assert resumed.boxes == {"a.png": (0.2, 0.2, 0.4, 0.4), "b.png": (0.0, 0.0, 1.0, 1.0)}
    found, boxes = resumed.pixel_boxes(["c.png", "b.png", "a.png"], 64)
    assert found == [1, 2]
    torch.testing.assert_close(boxes, torch.tensor([[0.0, 0.0, 64.0, 64.0], [12.8, 12.8, 25.6, 25.6]]))


def test_box_store_clips_or_refuses_bad_boxes_naming_the_image(tmp_path):
    from cocogoat_utils.labels import BoxStore

    store = BoxStore(tmp_path / "boxes.csv")
    with pytest.warns(UserWarning, match=r"cat\.png: box .* reaches outside the image, clipped to \(0\.0, 0\.5, 1\.0, 1\.0\)"):
        assert store.add("cat.png", (-0.2, 0.5, 1.3, 1.0)) == (0.0, 0.5, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"dog\.png: box .* has no area"):
        store.add("dog.png", (0.3, 0.3, 0.3, 0.8))
    with pytest.raises(ValueError, match=r"owl\.png: box .* has no area"):
        store.add("owl.png", (1.2, 0.1, 1.5, 0.4))  # wholly outside
    assert list(store.boxes) == ["cat.png"]


def test_box_store_skips_corrupt_lines_with_their_numbers(tmp_path):
    from cocogoat_utils.labels import BoxStore

    path = tmp_path / "boxes.csv"
    path.write_text("name,x0,y0,x1,y1\na.png,0.1,0.1,0.5,0.5\nb.png,0.1,zero,0.5,0.5\nc.png,0.5,0.5,0.5,0.9\nd.png,0.1,0.1,0.9,0.9\ne.png,0.1")
    with pytest.warns(UserWarning, match=r"skipped 3 corrupt lines 3, 4, 6"):
        store = BoxStore(path)
    assert sorted(store.boxes) == ["a.png", "d.png"]
    store.add("f.png", (0.2, 0.2, 0.3, 0.3))  # the row cut short by a crash does not swallow this one
    with pytest.warns(UserWarning, match="skipped 3 corrupt"):
        assert "f.png" in BoxStore(path).boxes


def test_box_labeller_headless(tmp_path):
    pytest.importorskip("jupyter_bbox_widget")
    from cocogoat_utils.label_widgets import BoxLabeller
    from cocogoat_utils.labels import BoxStore

    images, names = _tiny()  # 5 images of 4×4
    store = BoxStore(tmp_path / "boxes.csv")
    lab = BoxLabeller(images, store, names=names, scale=4)  # shown at 16×16
    assert lab.current == "im0" and lab.progress.value == "0 / 5 boxed"
    assert bytes(lab.drawing.image_bytes).startswith(b"\x89PNG")
    lab.drawing.bboxes = []
    lab._on_submit()  # Submit with nothing drawn: stays, says so
    assert lab.current == "im0" and "draw a box" in lab.status.value
    lab.drawing.bboxes = [{"x": 4, "y": 0, "width": 8, "height": 16, "label": "subject"}]
    lab._on_submit()  # as the widget's Submit button does
    assert lab.current == "im1"
    assert store.boxes["im0"] == (0.25, 0.0, 0.75, 1.0)
    lab.submit_box((16, 16, 0, 8))  # corners in any order
    assert store.boxes["im1"] == (0.0, 0.5, 1.0, 1.0)
    lab.submit_box((3, 3, 3, 9))  # no area: refused, nothing stored, same image
    assert lab.current == "im2" and "no area" in lab.status.value and "im2" not in store.boxes
    lab.skip()
    assert lab.current == "im3"
    lab.back()
    assert lab.current == "im2"
    lab.back()
    assert lab.current == "im1" and len(lab.drawing.bboxes) == 1  # its saved box is shown, to redraw
    assert lab.drawing.bboxes[0]["y"] == pytest.approx(8.0)
    again = BoxLabeller(images, BoxStore(tmp_path / "boxes.csv"), names=names)  # a new kernel
    assert again.current == "im2" and again.progress.value == "2 / 5 boxed"
