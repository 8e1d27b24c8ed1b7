"""The report's pictures from made-up arrays (no TensorFlow, no training)."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from signclf import report_figures as figures
from signclf.config import PreprocessConfig
from signclf.preprocess import views

NAMES = ["red disc", "blue square", "green triangle", "a very long class name that must be cut short"]
ROBUSTNESS = Path(__file__).parent / "robustness_fixture.json"


def png_size(path):
    img = cv2.imread(str(path))
    assert img is not None, f"{path} is not a readable PNG"
    return img.shape[1], img.shape[0]


def test_class_label_cuts_and_escapes_names():
    assert figures.class_label(NAMES, 3, 12) == "3 a very long…"
    assert figures.class_label(["\x1b[2Jclear"], 0) == "0 \\x1b[2Jclear"


def test_feature_mosaic_tiles_each_channel_scaled_to_its_own_maximum():
    maps = np.zeros((4, 5, 8), np.float32)
    maps[1, 2, 0] = 3.0  # channel 0: one bright pixel
    maps[:, :, 1] = 0.5  # channel 1: flat; channel 2..7: dead (all zero)
    mosaic = figures.feature_mosaic(maps)
    columns = 4  # ceil(sqrt(2 * 8)): about twice as wide as high
    assert mosaic.shape == (2 * 5 - 1, columns * 6 - 1)
    assert mosaic[1, 2] == 1.0 and np.nansum(mosaic[:4, :5]) == 1.0  # scaled to its own maximum
    assert np.all(mosaic[:4, 6:11] == 1.0)  # the flat channel is all at its maximum
    assert np.all(mosaic[5:9, :5] == 0.0)  # a dead channel stays black
    assert np.isnan(mosaic[4, 0]) and np.isnan(mosaic[0, 5])  # the gaps between tiles


def test_grad_cam_weights_channels_by_their_mean_gradient_and_keeps_the_positive_part():
    activations = np.zeros((4, 4, 2))
    activations[0, 0, 0] = 1.0  # channel 0 fires top left, channel 1 bottom right
    activations[3, 3, 1] = 1.0
    gradients = np.stack([np.full((4, 4), 2.0), np.full((4, 4), -1.0)], axis=-1)  # channel 1 counts against
    cam = figures.grad_cam(activations, gradients, side=4)
    assert cam.shape == (4, 4) and cam.dtype == np.float32
    assert cam[0, 0] == pytest.approx(1.0) and cam[3, 3] == 0.0  # ReLU removes the negative evidence
    big = figures.grad_cam(activations, gradients, side=32)
    assert big.shape == (32, 32) and 0.0 <= big.min() and big.max() <= 1.0
    assert np.unravel_index(big.argmax(), big.shape)[0] < 8  # the evidence stays top left when upsampled


def test_grad_cam_of_no_positive_evidence_is_all_zero():
    cam = figures.grad_cam(np.ones((2, 2, 3)), -np.ones((2, 2, 3)), side=8)
    assert cam.shape == (8, 8) and not cam.any()


def test_overlay_and_pair_keep_the_image_visible_under_the_heatmap():
    image = np.full((50, 40, 3), 200, np.uint8)
    cam = np.zeros((16, 16), np.float32)
    out = figures.overlay(image, cam)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert 100 < out[..., 0].mean() < 200  # a blend: neither the plain image nor the pure colour map
    pair = figures.saliency_pair(image, cam, gap=4)
    assert pair.shape == (16, 36, 3) and np.all(pair[:, 16:20] == 255)


def metrics_rows(epochs=5):
    return [{"epoch": str(e), "train_loss": f"{1 / e:.4f}", "train_acc": f"{1 - 0.1 / e:.4f}",
             "valid_loss": f"{1.2 / e:.4f}", "valid_acc": f"{1 - 0.12 / e:.4f}", "lr": f"{0.001 / e:g}"}
            for e in range(1, epochs + 1)]


def test_learning_curves_png_draws_even_rows_with_missing_values(tmp_path):
    rows = metrics_rows()
    rows[2]["valid_loss"] = ""  # a damaged cell is a gap, not a crash
    path = figures.plot_learning_curves(rows, tmp_path / "curves.png", "runs/x", best_epoch=4)
    width, height = png_size(path)
    assert (width, height) == (11 * figures.DPI, round(3.2 * figures.DPI))


def test_confusion_matrix_is_evaluates_picture(tmp_path):
    path = figures.plot_confusion_matrix([[3, 1, 0, 0], [0, 4, 0, 0], [0, 0, 4, 0], [1, 0, 0, 3]], NAMES,
                                         tmp_path / "confusion.png", "valid: accuracy 0.875")
    width, height = png_size(path)
    assert min(width, height) >= 400


def test_mistakes_grid_has_a_cell_per_mistake_in_full_rows(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (7, 32, 32, 3), dtype=np.uint8)
    top_ids = np.array([[1, 0, 2]] * 7)
    top_probs = np.array([[0.7, 0.2, 0.1]] * 7)
    path = figures.plot_mistakes(images, np.zeros(7, int), top_ids, top_probs, NAMES, tmp_path / "m.png", columns=6)
    width, height = png_size(path)
    assert width == round(6 * 2.1 * 90) and height == round(2 * 2.7 * 90)  # 7 mistakes: two rows of six


def test_feature_maps_and_input_pictures(tmp_path):
    maps = np.random.default_rng(1).random((8, 8, 64)).astype(np.float32)
    width, height = png_size(figures.plot_feature_maps(maps, tmp_path / "f.png", "stage 1: 64 maps of 8×8"))
    assert width == round(3.7 * figures.DPI) and height < width  # 12 × 6 tiles: wider than high
    image = np.zeros((60, 45, 3), np.uint8)
    prepared = np.zeros((32, 32, 1), np.uint8)
    path = figures.plot_input(image, views(prepared, PreprocessConfig(color="gray")), tmp_path / "in.png",
                              ["sign.png", "pred 1 blue square 0.93"])
    assert png_size(path) == (round(2.6 * figures.DPI), round(1.75 * figures.DPI))
    stacked = views(np.zeros((32, 32, 5), np.uint8), PreprocessConfig(color="rgb", extra=["hist", "lcn"]))
    assert [(name, v.shape[-1]) for name, v in stacked] == [("rgb, none", 3), ("hist", 1), ("lcn", 1)]
    path = figures.plot_input(image, stacked, tmp_path / "in5.png", ["sign.png"])
    assert png_size(path) == (round(4 * 1.3 * figures.DPI), round(1.75 * figures.DPI))  # a panel per view


def test_saliency_figure_fits_its_columns_to_the_images(tmp_path):
    images = [np.zeros((32, 32, 3), np.uint8)] * 3
    cams = [np.ones((figures.SALIENCY_SIDE,) * 2, np.float32)] * 3
    path = figures.plot_saliency(images, cams, [("true 0 red disc", "pred 1 blue square 0.60")] * 3,
                                 tmp_path / "s.png", "Grad-CAM")
    assert png_size(path)[0] == round(3 * 2.8 * figures.DPI)  # three images: three columns, not four


def test_robustness_heatmap_has_a_row_per_corruption(tmp_path):
    record = json.loads(ROBUSTNESS.read_text())
    path = figures.plot_robustness(record, tmp_path / "r.png")
    width, height = png_size(path)
    assert width == round(6.4 * figures.DPI) and height == round((0.32 * 15 + 1.5) * figures.DPI)
    partial = {**record, "severities": [1, 2, 3, 4, 5], "corruptions": {"fog": [0.9, 0.5]}}  # labels 1..2 instead
    assert abs(png_size(figures.plot_robustness(partial, tmp_path / "p.png"))[1] - (0.32 + 1.5) * figures.DPI) < 1
