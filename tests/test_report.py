"""signclf report on tiny trained runs: every section, the pictures, the network views, bad input."""

import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from export_fixtures import train_tiny_run, write_tiny_data

from signclf import report
from signclf.errors import CheckpointError
from signclf.inference import LoadedRun
from signclf.report_html import ORDER
from signclf.rundir import RunLock, RunPaths

tf.disable_eager_execution()
ROBUSTNESS = Path(__file__).parent / "robustness_fixture.json"
STAGES = 2  # tiny_overrides: two convolution stages


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    data = write_tiny_data(root / "data")
    runs = {"a": train_tiny_run(data, root / "a"), "b": train_tiny_run(data, root / "b", **{"train.seed": 3})}
    return root, data, runs


def copy_run(tiny, tmp_path, name="a"):
    return Path(shutil.copytree(tiny[2][name], tmp_path / name))


def write(run_dirs, out, **kw):
    lines = []
    result = report.write_report(run_dirs, out, log=lines.append, progress=False, **kw)
    return result, result.page.read_text(encoding="utf-8"), lines


def embedded(html):
    return re.findall(r'<img src="([^"]*)"', html)


def test_the_page_has_every_section_and_embeds_every_picture(tiny, tmp_path):
    run = copy_run(tiny, tmp_path)
    before = sorted(p.name for p in run.iterdir())
    result, html, lines = write([run], None)
    assert result.page == RunPaths(run).report and lines == [] and result.notes == []
    assert sorted(p.name for p in run.iterdir()) == sorted(before + ["report", "report.html"])
    for key, title in ORDER:
        assert f'<section id="{key}"><h2>{title}</h2>' in html
    assert "Not available" not in html and "<script" not in html
    sources = embedded(html)
    assert len(sources) == len(result.pictures) and all(s.startswith("data:image/png;base64,") for s in sources)
    assert sorted(p.name for p in (run / "report").iterdir()) == sorted(p.name for p in result.pictures)
    assert result.page.stat().st_size < 5e6
    for k in range(report.SAMPLE_IMAGES):
        assert len(list((run / "report").glob(f"features-{k}-stage*.png"))) == STAGES
    assert re.search(r"<b>\d\.\d{4}</b>accuracy", html) and "(32 images)" in html
    assert "signclf evaluate --corruptions" in html  # no robustness.json yet: how to make one


def test_feature_maps_and_grad_cam_come_from_each_stage_of_the_first_tower(tiny):
    run = LoadedRun(tiny[2]["a"])
    try:
        probe = report.StageProbe(run)
        image = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
        prepared, maps, gradient = probe.look(image, 2)
        probs = run.probabilities([image])
    finally:
        run.close()
    assert prepared.shape == (32, 32, 3)
    assert [m.shape for m in maps] == [(15, 15, 8), (6, 6, 8)]  # 3×3 VALID then 2×2 pool, twice
    assert gradient.shape == maps[-1].shape and np.abs(gradient).sum() > 0  # the logit depends on this tensor
    assert probs.shape == (1, 4)
    cam = report.figures.grad_cam(maps[-1], gradient, 96)
    assert cam.shape == (96, 96) and 0 <= cam.min() and cam.max() <= 1


def test_given_images_are_shown_and_an_unreadable_one_is_one_note(tiny, tmp_path):
    good, bad = tmp_path / "sign.png", tmp_path / "broken.png"
    cv2.imwrite(str(good), np.full((48, 48, 3), 90, np.uint8))
    bad.write_bytes(b"not an image")
    result, html, lines = write([tiny[2]["a"]], tmp_path / "page" / "r.html", image_paths=[good, bad])
    assert lines == [f"note: --image {bad}: not a decodable image (truncated, corrupt, or not an image format); "
                     f"left out of the report"]
    assets = tmp_path / "page" / "r"
    assert len(list(assets.glob("features-0-stage*.png"))) == STAGES and not list(assets.glob("features-1-*"))
    assert (assets / "saliency-samples.png").is_file() and "sign.png" not in html  # shown in the pictures only
    assert not (tiny[2]["a"] / "report.html").exists()  # --out elsewhere writes nothing into the run


def test_many_images_are_capped_and_an_earlier_reports_pictures_replaced(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "MAX_IMAGES", 2)
    images = []
    for i in range(3):
        images.append(tmp_path / f"{i}.png")
        cv2.imwrite(str(images[-1]), np.full((32, 32, 3), 60 * i, np.uint8))
    out = tmp_path / "r.html"
    write([tiny[2]["a"]], out)  # three validation images
    (tmp_path / "r" / "mine.png").write_bytes(b"a user's file")
    result, html, lines = write([tiny[2]["a"]], out, image_paths=images)
    assert lines == ["note: 3 --image files given: the first 2 are shown"]
    assert sorted(p.name for p in (tmp_path / "r").glob("input-*.png")) == ["input-0.png", "input-1.png"]
    assert (tmp_path / "r" / "mine.png").exists()  # only the report's own pictures are replaced


def test_robustness_json_becomes_a_heatmap_and_a_damaged_one_a_note(tiny, tmp_path):
    run = copy_run(tiny, tmp_path)
    shutil.copy(ROBUSTNESS, RunPaths(run).robustness)
    result, html, _ = write([run], None)
    assert "mean corruption accuracy 0.7760" in html and "relative drop 20.8%" in html
    assert any(p.name == "robustness.png" for p in result.pictures)
    for damaged in ('{"format": 1}', '{"clean_acc": 1, "mean_corruption_acc": 0.5, "corruptions": {"fog": ["x"]}}',
                    '{"clean_acc": 1, "mean_corruption_acc": 0.5, "corruptions": {"fog": [0.5], "snow": [0.5, 1]}}',
                    "{not json"):
        RunPaths(run).robustness.write_text(damaged)
        result, html, lines = write([run], None)
        assert len(lines) == 1 and "robustness.json: " in lines[0] and "Not computed yet" in html
        assert lines[0].endswith(f"recompute it with signclf evaluate --corruptions --run {run}")
        assert "not a robustness record" in lines[0] or "unreadable" in lines[0]


def test_a_run_still_training_is_reported_as_far_as_it_got(tiny, tmp_path):
    run = copy_run(tiny, tmp_path)
    with RunLock(run):
        result, html, lines = write([run], None)
    assert len(lines) == 1 and f"{run}: running (being trained by process" in lines[0]
    assert "the page shows what it has saved so far" in html and "Not available" not in html


def test_a_run_without_metrics_skips_the_curves_only(tiny, tmp_path):
    run = copy_run(tiny, tmp_path)
    RunPaths(run).metrics.unlink()
    RunPaths(run).summary.write_text("{damaged")
    result, html, lines = write([run], None)
    assert len(lines) == 2 and f"{run}: failed ({RunPaths(run).summary}: unreadable" in lines[0]
    assert lines[1] == f"note: {run}: no metrics.csv yet (no epoch finished): no learning curves for it"
    assert "No epoch has finished yet." in html
    assert not (run / "report" / "curves-0.png").exists()


def test_a_run_without_a_checkpoint_shows_its_curves_or_says_there_is_nothing(tiny, tmp_path):
    run = copy_run(tiny, tmp_path)
    shutil.rmtree(RunPaths(run).checkpoints)
    result, html, lines = write([run], None)
    assert "no checkpoint saved yet" in lines[0] and html.count("Not available: the run has no checkpoint") == 5
    assert [p.name for p in result.pictures] == ["curves-0.png"]
    RunPaths(run).metrics.unlink()
    with pytest.raises(CheckpointError, match="nothing to report; wait for its first epoch, or train a run with "
                                              "signclf train"):
        write([run], None)


def test_a_committee_shows_every_member(tiny, tmp_path):
    result, html, _ = write([tiny[2]["a"], tiny[2]["b"]], tmp_path / "c.html")
    assert "<th>member 1</th><th>member 2</th>" in html and "committee of a, b" in html
    assert {"curves-0.png", "curves-1.png"} <= {p.name for p in result.pictures}
    assert "from the committee's first member" in html


def test_pictures_go_beside_the_page_in_a_folder_named_like_it():
    assert report.assets_folder(Path("runs/a/report.html")) == Path("runs/a/report")
    assert report.assets_folder(Path("out/page")) == Path("out/page-pictures")  # never the page's own name


def test_the_most_confident_mistakes_come_first():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7], [0.6, 0.4]])
    labels = np.array([0, 0, 0, 1, 1])  # wrong: 1 (0.8), 2 (0.6), 4 (0.6)
    assert report.confident_mistakes(probs, labels).tolist() == [1, 2, 4]
    assert report.confident_mistakes(probs, labels, count=1).tolist() == [1]


def test_sample_images_are_of_distinct_classes_spread_over_the_range():
    labels = np.array([3, 0, 0, 1, 2, 3, 1])
    assert report.sample_indices(labels, 3) == [1, 4, 0]  # classes 0, 2 and 3
    assert report.sample_indices(labels, 10) == [1, 3, 4, 0]
