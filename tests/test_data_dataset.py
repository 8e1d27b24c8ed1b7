"""The in-memory Dataset every reader returns: its checks, subsets, notes and the class-name default."""

import numpy as np
import pytest

from signclf.data.dataset import Dataset, class_names_or_default, gtsrb_class_names, read_class_names
from signclf.errors import DataError


def _images(n, size=4):
    return np.zeros((n, size, size, 3), np.uint8)


def test_gtsrb_names_and_the_default():
    names = gtsrb_class_names()
    assert len(names) == 43 and names[14] == "Stop"
    assert class_names_or_default(None) == list(names) and class_names_or_default(["a", "b"]) == ["a", "b"]


def test_read_class_names_orders_by_id_and_refuses_gaps(tmp_path):
    good = tmp_path / "names.csv"
    good.write_text("ClassId,SignName\n1,b\n0,a\n")
    assert read_class_names(good) == ["a", "b"]
    gap = tmp_path / "gap.csv"
    gap.write_text("ClassId,SignName\n0,a\n2,c\n")
    with pytest.raises(DataError, match="ClassId must run 0..1 without gaps"):
        read_class_names(gap)


@pytest.mark.parametrize("images, labels, words", [
    (np.zeros((2, 4, 4), np.uint8), [0, 1], "uint8 N×H×W×3"),
    (np.zeros((2, 0, 0, 3), np.uint8), [0, 1], "0×0 pixels"),
    (_images(2), [0], "2 images but 1 labels"),
    (_images(2), [0, 5], "labels must lie in 0..1"),
    (_images(0), [], "empty"),
])
def test_bad_datasets_are_one_line_errors(images, labels, words):
    with pytest.raises(DataError, match=words):
        Dataset(images, np.asarray(labels, np.int64), ["a", "b"], source="x.p")


def test_subset_keeps_every_per_image_field_and_the_notes():
    ds = Dataset(_images(3), np.array([0, 1, 0]), ["a", "b"], track_ids=np.array([7, 8, 9]),
                 sizes=np.array([[1, 1], [2, 2], [3, 3]]), notes=["scaled"])
    sub = ds.subset(np.array([2, 0]))
    assert sub.labels.tolist() == [0, 0] and sub.track_ids.tolist() == [9, 7] and sub.sizes[0].tolist() == [3, 3]
    assert sub.notes == ["scaled"] and sub.notes is not ds.notes and len(sub) == 2 and sub.num_classes == 2
