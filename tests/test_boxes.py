"""Subject boxes: exact canvases, crop-and-resize maths, IoU scores, and the Emboxer learning."""

import pytest
import torch

from cocogoat_utils.boxes import UpscaledCrops, check_boxes, crop_boxes, make_canvases
from cocogoat_utils.models.emboxer import Emboxer, box_loss
from cocogoat_utils.train import box_scores, predict_boxes, train_emboxer


def _glyphs(n=6, size=16):
    """RGBA glyphs: an opaque square of a random colour in the middle, transparent around it."""
    g = torch.zeros(n, 4, size, size, dtype=torch.uint8)
    g[:, :3] = torch.randint(0, 256, (n, 3, 1, 1), dtype=torch.uint8, generator=torch.Generator().manual_seed(n))
    g[:, 3, 4:12, 2:14] = 255  # rows 4..11, cols 2..13
    return g


def test_canvases_are_exact_and_reproducible():
    images, boxes, subjects = make_canvases(_glyphs(), 40, canvas_size=48, scale=(0.3, 0.9), seed=3)
    assert images.shape == (40, 3, 48, 48) and images.dtype == torch.uint8 and boxes.shape == (40, 4)
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 48).all() and (boxes[:, 2:] > boxes[:, :2]).all()
    again = make_canvases(_glyphs(), 40, canvas_size=48, scale=(0.3, 0.9), seed=3)
    assert torch.equal(images, again[0]) and torch.equal(boxes, again[1]) and torch.equal(subjects, again[2])
    assert not torch.equal(images, make_canvases(_glyphs(), 40, canvas_size=48, seed=4)[0])
    # the glyph's opaque part is 12 wide and 8 high out of 16: the box keeps that shape
    ratio = (boxes[:, 2] - boxes[:, 0]) / (boxes[:, 3] - boxes[:, 1])
    assert ((ratio - 1.5).abs() < 0.35).all(), ratio


def test_canvas_box_holds_the_subject_colour():
    glyphs = _glyphs(1)
    glyphs[0, :3] = torch.tensor([255, 0, 255], dtype=torch.uint8)[:, None, None]  # magenta: not in the clutter
    images, boxes, _ = make_canvases(glyphs, 5, canvas_size=48, clutter=0, scale=(0.5, 0.8), seed=0)
    for image, (x0, y0, x1, y1) in zip(images, boxes.long().tolist()):
        inside = image[:, y0 + 1:y1 - 1, x0 + 1:x1 - 1].float()
        assert (inside[0] > 200).float().mean() > 0.95 and (inside[1] < 60).float().mean() > 0.95


def test_white_canvases_are_white_outside_the_glyphs():
    images, boxes, _ = make_canvases(_glyphs(), 6, canvas_size=48, clutter=0, background="white", seed=2)
    for image, (x0, y0, x1, y1) in zip(images, boxes.long().tolist()):
        outside = torch.ones(48, 48, dtype=torch.bool)
        outside[max(0, y0 - 4):y1 + 4, max(0, x0 - 4):x1 + 4] = False  # the paste square can reach past the box
        assert (image[:, outside] == 255).all()
    with pytest.raises(ValueError, match="background"):
        make_canvases(_glyphs(), 2, background="black")


def test_crop_of_a_whole_pixel_box_at_its_size_returns_those_pixels():
    images = torch.randint(0, 256, (2, 3, 20, 20), dtype=torch.uint8)
    boxes = torch.tensor([[3.0, 5.0, 11.0, 13.0], [0.0, 0.0, 8.0, 8.0]])
    crops = crop_boxes(images, boxes, 8)
    assert torch.equal(crops[0], images[0, :, 5:13, 3:11]) and torch.equal(crops[1], images[1, :, :8, :8])


def test_crop_upscales_small_boxes_with_a_warning_and_margin_grows_the_box():
    images = torch.zeros(1, 3, 20, 20, dtype=torch.uint8)
    images[0, :, 8:12, 8:12] = 200
    with pytest.warns(UpscaledCrops, match="1 of 2 crops are smaller than 16 px") as caught:
        crop = crop_boxes(images.expand(2, -1, -1, -1), torch.tensor([[8.0, 8.0, 12.0, 12.0], [0.0, 0.0, 20.0, 20.0]]),
                          16)[:1]
    assert (caught[0].message.count, caught[0].message.total) == (1, 2)  # the count, for code that reports it
    assert crop.shape == (1, 3, 16, 16) and crop[0, :, 4:12, 4:12].min() == 200  # bilinear ramps only at the edges
    with pytest.warns(UserWarning):
        wide = crop_boxes(images, torch.tensor([[8.0, 8.0, 12.0, 12.0]]), 16, margin=0.5)
    assert wide[0, 0, 0, 0] < 50 and wide[0, 0, 8, 8] > 150, "the margin brings in the dark border"


def test_check_boxes_clips_and_rejects_with_names():
    boxes = torch.tensor([[-5.0, 2.0, 10.0, 30.0], [4.0, 4.0, 4.0, 9.0], [1.0, 1.0, 5.0, 5.0]])
    with pytest.warns(UserWarning) as record:
        clipped, usable = check_boxes(boxes, (20, 20), names=["a.png", "b.png", "c.png"])
    messages = " ".join(str(w.message) for w in record)
    assert "clipped to the image: a.png" in messages and "empty, skipped: b.png" in messages
    assert clipped[0].tolist() == [0.0, 2.0, 10.0, 20.0] and usable.tolist() == [True, False, True]
    with pytest.raises(ValueError, match="empty box"), pytest.warns(UserWarning):
        crop_boxes(torch.zeros(3, 3, 20, 20, dtype=torch.uint8), boxes, 8)


def test_box_scores_against_hand_iou():
    target = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
    predicted = torch.tensor([[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0]])  # IoU 1 and 50/150
    scores = box_scores(predicted, target)
    assert scores["mean_iou"] == pytest.approx((1 + 1 / 3) / 2)
    assert scores["iou50"] == 0.5 and scores["iou75"] == 0.5


def test_emboxer_outputs_boxes_inside_the_image_and_learns():
    torch.manual_seed(0)
    images, boxes, _ = make_canvases(_glyphs(8), 160, canvas_size=32, clutter=1, seed=1)
    model = Emboxer(image_size=32, width=8, hidden=64)
    out = model(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, 4) and (out >= 0).all() and (out <= 32).all() and (out[:, 2:] >= out[:, :2]).all()
    assert box_loss(boxes[:4], boxes[:4], 32).item() == pytest.approx(0.0, abs=1e-6)
    before = box_scores(predict_boxes(model, images[128:]), boxes[128:])["mean_iou"]
    history = train_emboxer(model, images[:128], boxes[:128], steps=150, batch_size=32, lr=3e-3,
                            val=(images[128:], boxes[128:]), val_every=50, progress=False)
    after = box_scores(predict_boxes(model, images[128:]), boxes[128:])["mean_iou"]
    assert history["val_step"] == [50, 100, 150] and after > before + 0.05, (before, after)
    with pytest.raises(ValueError, match="supports"):
        Emboxer(image_size=48)
