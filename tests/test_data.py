"""cocogoat_utils.data: the embedded OpenMoji set, image folders, the device-resident dataset."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cocogoat_utils.data import ImageSet, load_image_folder, to_float, to_uint8
from cocogoat_utils.openmoji import CATEGORIES, OPENMOJI_SIZES, load_openmoji
from cocogoat_utils.device_dataset import DeviceImageDataset


# --------------------------------------------------------------------------- OpenMoji


@pytest.fixture(scope="module")
def openmoji8():
    # the default cache under data/: the first call renders (or resizes the 128 px cache),
    # later calls and later test runs read the cached file
    return load_openmoji(8)


def test_openmoji_shape_and_labels(openmoji8):
    images = openmoji8.images
    assert images.dtype == torch.uint8
    assert images.ndim == 4 and images.shape[1:] == (3, 8, 8)
    assert len(openmoji8) > 4000
    assert len(openmoji8.names) == len(openmoji8.categories) == images.shape[0]
    assert set(openmoji8.categories) <= set(CATEGORIES.values())
    assert "Animals & Nature" in openmoji8.categories
    assert "OpenMoji" in openmoji8.source


def test_openmoji_is_not_blank(openmoji8):
    images = openmoji8.images.float()
    # composited on white: most pixels are near white, but every glyph draws something
    assert images.mean() > 128
    per_image_min = images.flatten(1).min(dim=1).values
    assert (per_image_min < 250).float().mean() > 0.95


def test_openmoji_keeps_alpha_without_background(openmoji8):
    rgba = load_openmoji(8, background=None)
    assert rgba.images.shape == (len(openmoji8), 4, 8, 8)
    alpha = rgba.images[:, 3]
    assert alpha.min() == 0 and alpha.max() == 255  # transparent corners, opaque glyph centres


def test_openmoji_black_background_differs(openmoji8):
    black = load_openmoji(8, background="black")
    assert black.images.shape == openmoji8.images.shape
    assert black.images.float().mean() < openmoji8.images.float().mean()


def test_openmoji_category_filter(openmoji8):
    animals = load_openmoji(8, categories="animals")
    assert 0 < len(animals) < len(openmoji8)
    assert set(animals.categories) == {"Animals & Nature"}
    assert len(animals) == openmoji8.categories.count("Animals & Nature")
    both = load_openmoji(8, categories=["animals", "Food & Drink"])
    assert set(both.categories) == {"Animals & Nature", "Food & Drink"}
    assert len(both) == len(animals) + openmoji8.categories.count("Food & Drink")


def test_openmoji_unknown_category():
    with pytest.raises(ValueError, match="dinosaurs"):
        load_openmoji(8, categories="dinosaurs")


def test_openmoji_bad_size_names_the_sizes():
    with pytest.raises(ValueError) as info:
        load_openmoji(48)
    message = str(info.value)
    assert "48" in message
    assert str(OPENMOJI_SIZES) in message


def test_openmoji_bad_background():
    with pytest.raises(ValueError, match="background"):
        load_openmoji(8, background="purple")


def test_imageset_subset_and_validation(openmoji8):
    sub = openmoji8.subset([3, 1])
    assert torch.equal(sub.images, openmoji8.images[[3, 1]])
    assert sub.names == [openmoji8.names[3], openmoji8.names[1]]
    with pytest.raises(ValueError):
        ImageSet(torch.zeros(2, 3, 4, 4), ["a", "b"], ["c", "c"])  # float, not uint8
    with pytest.raises(ValueError):
        ImageSet(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), ["a"], ["c", "c"])


def test_imageset_class_labels_index_sorted_categories():
    images = ImageSet(torch.zeros(4, 3, 4, 4, dtype=torch.uint8), list("abcd"), ["people", "animals", "people", "faces"])
    classes, labels = images.class_labels()
    assert classes == ["animals", "faces", "people"]
    assert labels.tolist() == [2, 0, 2, 1] and labels.dtype == torch.long


# --------------------------------------------------------------------------- image folders

SIZE = 16


def _noise(h, w, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(h, w, channels), dtype=np.uint8)


@pytest.fixture()
def image_tree(tmp_path):
    """A folder of good images in several formats, sizes and modes, plus three bad files."""
    root = tmp_path / "pics"
    (root / "a" / "deep").mkdir(parents=True)
    (root / "b").mkdir()
    # RGBA PNG at the target size: left half fully transparent (with a colour behind), right half opaque red
    rgba = np.zeros((SIZE, SIZE, 4), dtype=np.uint8)
    rgba[:, : SIZE // 2] = (10, 200, 30, 0)
    rgba[:, SIZE // 2 :] = (255, 0, 0, 255)
    Image.fromarray(rgba, "RGBA").save(root / "rgba.png")
    # palette PNG, odd non-square size
    Image.fromarray(_noise(21, 13, seed=1)).convert("P").save(root / "a" / "palette.png")
    # grayscale JPEG, non-square
    Image.fromarray(_noise(30, 40, 1, seed=2)[..., 0], "L").save(root / "a" / "deep" / "gray.jpg")
    # WebP
    Image.fromarray(_noise(17, 23, seed=3)).save(root / "b" / "photo.webp")
    # animated GIF, three frames
    frames = [Image.fromarray(_noise(12, 20, seed=s)).convert("P") for s in (4, 5, 6)]
    frames[0].save(root / "b" / "anim.GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    # BMP, upper-case suffix
    Image.fromarray(_noise(9, 9, seed=7)).save(root / "b" / "small.BMP")
    # a non-image file without an image suffix: not even a candidate
    (root / "notes.md").write_text("hello")
    good = {"rgba.png", "a/palette.png", "a/deep/gray.jpg", "b/photo.webp", "b/anim.GIF", "b/small.BMP"}

    # bad files: a truncated PNG, a text file named .png, an empty .jpg
    real = tmp_path / "real.png"
    Image.fromarray(_noise(64, 64, seed=8)).save(real)
    data = real.read_bytes()
    (root / "b" / "truncated.png").write_bytes(data[: len(data) // 2])
    (root / "a" / "text.png").write_text("this is not a picture\n" * 20)
    (root / "empty.jpg").write_bytes(b"")
    bad = {"b/truncated.png", "a/text.png", "empty.jpg"}
    return root, good, bad


def test_image_folder_loads_every_format_and_skips_bad_files(image_tree):
    root, good, bad = image_tree
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images = load_image_folder(root, SIZE, progress=False)
    ours = [w for w in caught if "skipped" in str(w.message)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    message = str(ours[0].message)
    assert "skipped 3 " in message
    assert issubclass(ours[0].category, UserWarning)

    assert images.images.shape == (len(good), 3, SIZE, SIZE)
    assert images.images.dtype == torch.uint8
    assert {Path(n).as_posix() for n in images.names} == good
    assert {Path(s).as_posix() for s in images.skipped} == bad
    by_name = {Path(n).as_posix(): i for i, n in enumerate(images.names)}
    assert images.categories[by_name["a/deep/gray.jpg"]] == str(Path("a/deep"))
    assert images.categories[by_name["rgba.png"]] == "."

    # RGBA composited on white: fully transparent pixels become pure white, opaque red stays red
    rgba = images.images[by_name["rgba.png"]]
    assert (rgba[:, :, : SIZE // 2] == 255).all()
    assert (rgba[0, :, SIZE // 2 :] == 255).all()
    assert (rgba[1:, :, SIZE // 2 :] == 0).all()

    # grayscale becomes three equal channels
    gray = images.images[by_name["a/deep/gray.jpg"]]
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])


def test_image_folder_pytest_warns_counts(image_tree):
    root, good, bad = image_tree
    with pytest.warns(UserWarning, match=r"skipped 3 unreadable") as record:
        load_image_folder(root, 8, progress=False)
    assert len([w for w in record if "skipped" in str(w.message)]) == 1


def test_a_lesson_can_word_the_skipped_files_itself(image_tree):
    from cocogoat_utils.data import load_dataset

    root, _, bad = image_tree
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warn=False: no English warning; the names stay on the set, a subset too
        images = load_dataset(root, 8, warn=False, max_images=2)
    assert len(images) == 2 and {Path(s).as_posix() for s in images.skipped} == bad


def test_image_folder_keeps_alpha(image_tree):
    root, good, _ = image_tree
    with pytest.warns(UserWarning):
        images = load_image_folder(root, SIZE, background=None, progress=False)
    assert images.images.shape == (len(good), 4, SIZE, SIZE)
    i = [Path(n).as_posix() for n in images.names].index("rgba.png")
    assert (images.images[i, 3, :, : SIZE // 2] == 0).all()
    assert (images.images[i, 3, :, SIZE // 2 :] == 255).all()


def test_image_folder_without_bad_files_does_not_warn(tmp_path):
    Image.fromarray(_noise(10, 10)).save(tmp_path / "one.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images = load_image_folder(tmp_path, 8, progress=False)
    assert images.images.shape == (1, 3, 8, 8)
    assert images.skipped == []


def test_image_folder_missing(tmp_path):
    missing = tmp_path / "nowhere" / "at_all"
    with pytest.raises(FileNotFoundError) as info:
        load_image_folder(missing, 8)
    assert str(missing) in str(info.value)


def test_image_folder_with_no_images(tmp_path):
    (tmp_path / "readme.txt").write_text("no pictures here")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "sub" / "fake.png").write_text("not a png")
    with pytest.raises(ValueError) as info:
        load_image_folder(tmp_path, 8, progress=False)
    message = str(info.value)
    assert "looked at 3 files" in message
    assert str(tmp_path) in message


# --------------------------------------------------------------------------- device-resident batches


def test_to_float_to_uint8_round_trip():
    every = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    as_float = to_float(every)
    assert as_float.dtype == torch.float32
    assert as_float.min() == -1.0 and as_float.max() == 1.0
    assert torch.equal(to_uint8(as_float), every)


def test_to_uint8_clamps():
    out = to_uint8(torch.tensor([-3.0, -1.0, 0.0, 1.0, 5.0]))
    assert out.tolist() == [0, 0, 128, 255, 255]


def test_device_dataset_sample():
    images = torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8)
    data = DeviceImageDataset(images, seed=3)
    assert len(data) == 10
    assert data.image_shape == (3, 8, 8)
    batch = data.sample(7)
    assert batch.shape == (7, 3, 8, 8)
    assert batch.dtype == torch.float32
    assert batch.min() >= -1.0 and batch.max() <= 1.0
    # every sampled image is one of the dataset's images
    back = to_uint8(batch)
    for image in back:
        assert any(torch.equal(image, original) for original in images)


def test_device_dataset_reproducible_with_seed():
    images = torch.randint(0, 256, (50, 3, 4, 4), dtype=torch.uint8)
    a = DeviceImageDataset(images, seed=11)
    b = DeviceImageDataset(images, seed=11)
    c = DeviceImageDataset(images, seed=12)
    first, second = a.sample(16), b.sample(16)
    assert torch.equal(first, second)
    assert not torch.equal(first, c.sample(16))
    assert not torch.equal(a.sample(16), first)  # the stream moves on


def test_device_dataset_from_imageset_and_channels_last():
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    data = DeviceImageDataset(ImageSet(images, list("abcd"), ["x"] * 4), channels_last=True, seed=0)
    batch = data.sample(2)
    assert batch.is_contiguous(memory_format=torch.channels_last)


def test_device_dataset_rejects_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        DeviceImageDataset(torch.rand(4, 3, 8, 8))
    with pytest.raises(ValueError, match="empty"):
        DeviceImageDataset(torch.zeros(0, 3, 8, 8, dtype=torch.uint8))


# --------------------------------------------------------------------------- the OpenMoji cache


@pytest.fixture()
def fake_render(monkeypatch):
    """Replace the font rendering with three tiny glyphs and count the calls."""
    import cocogoat_utils.openmoji as data_module

    calls = []

    def render():
        calls.append(1)
        rgba = np.zeros((3, 128, 128, 4), dtype=np.uint8)
        for i in range(3):
            rgba[i, 32:96, 32:96] = (80 * i, 255 - 80 * i, 40, 255)
        return rgba, ["a", "b", "c"], ["Animals & Nature", "Flags", "Extras"]

    monkeypatch.setattr(data_module, "_render_openmoji", render)
    return calls


def test_openmoji_cache_written_and_reused(tmp_path, fake_render):
    first = load_openmoji(8, cache_dir=tmp_path)
    assert fake_render == [1]
    assert first.images.shape == (3, 3, 8, 8)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and names[0].endswith("_128.pt") and names[1].endswith("_8.pt")
    assert not any(n.startswith(".") for n in names)  # no temporary files left
    again = load_openmoji(8, cache_dir=tmp_path)
    assert torch.equal(again.images, first.images)
    other = load_openmoji(16, cache_dir=tmp_path)  # resized from the 128 px cache, not rendered
    assert other.images.shape == (3, 3, 16, 16)
    assert fake_render == [1]
    assert load_openmoji(8, cache_dir=tmp_path, categories="flags").names == ["b"]


@pytest.mark.parametrize("damage", [b"", b"not a torch file at all\n" * 10, "truncated"])
def test_openmoji_damaged_cache_is_rebuilt(tmp_path, fake_render, damage):
    first = load_openmoji(8, cache_dir=tmp_path)
    (cached,) = tmp_path.glob("*_8.pt")
    if damage == "truncated":
        damage = cached.read_bytes()[: cached.stat().st_size // 2]
    cached.write_bytes(damage)
    again = load_openmoji(8, cache_dir=tmp_path)
    assert torch.equal(again.images, first.images)
    assert torch.load(cached, weights_only=True)["names"] == ["a", "b", "c"]  # the cache was rewritten


def test_save_image_folder_round_trip_and_name_clashes(tmp_path):
    from cocogoat_utils.data import save_image_folder

    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    paths = save_image_folder(images, tmp_path / "out", names=["a b", "a b", "x/../c:d.jpg", "sub/e.png"])
    assert [p.relative_to(tmp_path / "out").as_posix() for p in paths] == ["a_b.png", "a_b_2.png", "x/c_d.png",
                                                                        "sub/e.png"]
    back = load_image_folder(tmp_path / "out", 8)
    assert sorted(back.names) == ["a_b.png", "a_b_2.png", "sub/e.png", "x/c_d.png"]
    assert torch.equal(back.images[[back.names.index(n) for n in ["a_b.png", "a_b_2.png", "x/c_d.png", "sub/e.png"]]],
                       images)
    with pytest.raises(ValueError, match="3 names for 4 images"):
        save_image_folder(images, tmp_path / "bad", names=["a", "b", "c"])


def test_torchvision_dataset_as_rgb_at_the_size_asked(monkeypatch, tmp_path):
    import numpy as np
    import torchvision

    from cocogoat_utils.data import load_torchvision_dataset

    class FakeFashion:  # the attributes torchvision's dataset has: uint8 (N, 28, 28) data, targets, classes
        def __init__(self, root, train, download):
            self.data = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8))
            self.targets = torch.tensor([0, 1, 2, 1, 0])
            self.classes = ["T-shirt/top", "Trouser", "Pullover"]

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", FakeFashion)
    result = load_torchvision_dataset("fashion_mnist", 32, root=tmp_path, max_images=4)
    assert result.images.shape == (4, 3, 32, 32) and result.images.dtype == torch.uint8
    assert torch.equal(result.images[:, 0], result.images[:, 2])  # grey repeated into RGB
    assert result.categories == ["T-shirt/top", "Trouser", "Pullover", "Trouser"]


def test_torchvision_dataset_offline_says_what_to_do(monkeypatch, tmp_path):
    import torchvision

    from cocogoat_utils.data import load_torchvision_dataset

    def offline(root, train, download):
        raise RuntimeError("Dataset not found. You can use download=True to download it")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", offline)
    with pytest.raises(RuntimeError, match=r"fashion_mnist is not under .* could not be downloaded.*data_dir=None"):
        load_torchvision_dataset("fashion_mnist", root=tmp_path)
    with pytest.raises(ValueError, match="choose from"):
        load_torchvision_dataset("imagenet")
