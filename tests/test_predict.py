"""predict.py without TensorFlow: a stand-in committee whose probabilities are known."""

import json

import cv2
import numpy as np
import pytest

from signclf import predict
from signclf.predict import Prediction, TableLayout, format_table_row, predict_files, to_json_line

NAMES = ["Speed limit (20km/h)", "Yield", "Right-of-way at the next intersection with a very long name"]


class FakeCommittee:
    """Class = the image's mean red value // 100: probabilities that a test can predict."""

    class_names = NAMES

    def __init__(self):
        self.batches = []

    def probabilities(self, images, batch_size):
        self.batches.append(len(images))
        probs = np.full((len(images), len(NAMES)), 0.1, np.float32)
        for row, img in enumerate(images):
            probs[row, min(int(img[..., 0].mean()) // 100, 2)] = 0.8
        return probs


def write_png(path, red):
    img = np.zeros((20, 24, 3), np.uint8)
    img[..., 2] = red  # OpenCV writes BGR
    assert cv2.imwrite(str(path), img)
    return path


def test_predictions_stream_in_input_order_with_errors_in_place(tmp_path, monkeypatch):
    monkeypatch.setattr(predict, "FILES_PER_CHUNK", 2)  # several chunks: order must hold across them
    a = write_png(tmp_path / "a.png", 10)
    b = write_png(tmp_path / "b.png", 250)
    (tmp_path / "bad.png").write_text("not an image")
    c = write_png(tmp_path / "c.png", 150)
    committee = FakeCommittee()
    preds = list(predict_files(committee, [a, tmp_path / "bad.png", b, c, tmp_path / "missing"], top_k=2))
    assert [p.path.rsplit("/", 1)[-1] for p in preds] == ["a.png", "bad.png", "b.png", "c.png", "missing"]
    assert "not a decodable image" in preds[1].error and preds[1].top_k == []
    assert preds[4].error.startswith(str(tmp_path / "missing"))
    assert [p.top_k[0]["class_id"] for p in (preds[0], preds[2], preds[3])] == [0, 2, 1]
    assert preds[0].top_k[0] == {"class_id": 0, "name": NAMES[0], "prob": pytest.approx(0.8)}
    assert all(len(p.top_k) == 2 for p in preds if not p.error)
    assert committee.batches == [1, 2]  # the unreadable file is never sent to the network


def test_an_empty_folder_is_reported_first(tmp_path):
    (tmp_path / "empty").mkdir()
    preds = list(predict_files(FakeCommittee(), [write_png(tmp_path / "a.png", 0), tmp_path / "empty"]))
    assert [p.error is None for p in preds] == [False, True] and "no image files" in preds[0].error


def test_top_k_larger_than_the_classes_is_capped(tmp_path):
    (pred,) = predict_files(FakeCommittee(), [write_png(tmp_path / "a.png", 0)], top_k=10)
    assert len(pred.top_k) == len(NAMES)


def test_json_is_unchanged_and_escapes_itself():
    pred = Prediction("\x1b[2Jevil\n.png", [{"class_id": 1, "name": "Yield", "prob": 0.5}])
    line = to_json_line(pred)
    assert "\n" not in line and "\x1b" not in line
    assert json.loads(line) == {"path": "\x1b[2Jevil\n.png", "top_k": [{"class_id": 1, "name": "Yield", "prob": 0.5}]}
    assert json.loads(to_json_line(Prediction("x.png", error="x.png: broken"))) == {"path": "x.png",
                                                                                    "error": "x.png: broken"}


def test_table_escapes_control_characters_in_paths_and_names():
    pred = Prediction("dir/\x1b[2J\x1b[Hevil\r\n.png", [{"class_id": 0, "name": "bad\x1bname", "prob": 0.9}])
    row = format_table_row(pred, TableLayout.for_classes(["bad\x1bname"]))
    assert "\x1b" not in row and "\r" not in row and "\n" not in row
    assert "\\x1b[2J\\x1b[Hevil\\r\\n.png" in row and "bad\\x1bname" in row
    error = format_table_row(Prediction("a\nb.png", error="a\nb.png: not a decodable image"))
    assert error == "a\\nb.png: cannot predict: not a decodable image"


def test_table_keeps_the_file_name_of_long_paths():
    path = "/home/someone/datasets/gtsrb/Final_Test/Images/extra/folders/deep/00012.ppm"
    row = format_table_row(Prediction(path, [{"class_id": 1, "name": "Yield", "prob": 0.9}]), TableLayout())
    shown = row.split("  ")[0]
    assert len(shown) == 40 and shown.endswith("/00012.ppm") and shown.startswith("/home") and "…" in shown


def test_probability_column_lines_up_whatever_the_names():
    layout = TableLayout.for_classes(NAMES)
    assert layout.name_width == 42 and layout.id_width == 1
    preds = [Prediction("a.png", [{"class_id": c, "name": NAMES[c], "prob": p} for c, p in ((2, 0.7), (1, 0.2))]),
             Prediction("some/where/b.png", [{"class_id": 1, "name": NAMES[1], "prob": 0.05}])]
    lines = "\n".join(format_table_row(p, layout) for p in preds).splitlines()
    assert len(lines) == 3 and len({line.index("%") for line in lines}) == 1
    assert "Right-of-way at the next intersection wit…" in lines[0]
    short = TableLayout.for_classes(["Yield", "Stop"], path_width=40)
    assert short.name_width == 5
    assert format_table_row(Prediction("a.png", [{"class_id": 1, "name": "Stop", "prob": 1.0}]), short) == \
        f"{'a.png':40s}  1 Stop  100.0%"


def test_the_path_column_takes_the_rest_of_the_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "150")
    layout = TableLayout.for_classes(NAMES)
    assert layout.path_width == 150 - (2 + 1 + 1 + 42 + 1 + 6)
    monkeypatch.setenv("COLUMNS", "60")
    assert TableLayout.for_classes(NAMES).path_width == 40  # never narrower than 40
    assert TableLayout.for_classes(NAMES, longest_path=11).path_width == 11  # no wider than the paths


def test_class_id_column_widens_past_99_classes():
    layout = TableLayout.for_classes([f"c{i}" for i in range(150)])
    rows = [format_table_row(Prediction("a.png", [{"class_id": c, "name": f"c{c}", "prob": 0.5}]), layout)
            for c in (3, 42, 149)]
    assert layout.id_width == 3 and len({row.index("%") for row in rows}) == 1
