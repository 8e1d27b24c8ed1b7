"""robustness.py: accuracy per corruption × severity, its JSON, its table, and `evaluate --corruptions`."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from export_fixtures import train_tiny_run, write_tiny_data

from conftest import TINY_CLASSES, make_dataset, write_pickle
from signclf.cli import main
from signclf.corruptions import CORRUPTIONS, corrupt
from signclf.robustness import (
    evaluate_corruptions,
    format_table,
    measure,
    parse_severities,
    robustness_path,
    weakest,
)

SCHEMA = {"format", "split", "dataset", "runs", "images", "seed", "severities", "clean_acc", "mean_corruption_acc",
          "relative_drop", "corruptions", "corruption_means"}
SCORES = SCHEMA - {"format", "split", "dataset", "runs"}


class Fussy:
    """A fake model: right on an image unless it moved more than `tolerance` levels from the clean one.
    It records every batch it was shown."""

    def __init__(self, clean, labels, tolerance=12.0):
        self.clean, self.labels, self.tolerance = clean.astype(np.int16), labels, tolerance
        self.class_names, self.cfg, self.seen = TINY_CLASSES, None, []

    def probabilities(self, images, batch_size):
        self.seen.append((images.copy(), batch_size))
        moved = np.abs(images.astype(np.int16) - self.clean).mean(axis=(1, 2, 3))
        predicted = np.where(moved <= self.tolerance, self.labels, (self.labels + 1) % len(self.class_names))
        return np.eye(len(self.class_names))[predicted]


@pytest.fixture(scope="module")
def signs():
    return make_dataset(3, seed=5)


def expected_accuracy(images, labels, name, severity, seed=0, tolerance=12.0):
    moved = np.abs(corrupt(images, name, severity, seed).astype(np.int16) - images).mean(axis=(1, 2, 3))
    return float(np.mean(moved <= tolerance))


def test_every_cell_is_scored_from_its_own_corrupted_copy(signs):
    images, labels = signs
    model = Fussy(images, labels)
    results = evaluate_corruptions(model, images, labels, severities=[1, 3, 5], seed=0, batch_size=7)
    assert set(results) == SCORES and results["images"] == 12 and results["seed"] == 0
    assert results["severities"] == [1, 3, 5] and list(results["corruptions"]) == list(CORRUPTIONS)
    assert results["clean_acc"] == 1.0
    for name in ("gaussian_noise", "fog", "contrast"):
        assert results["corruptions"][name] == pytest.approx(
            [expected_accuracy(images, labels, name, s) for s in (1, 3, 5)], abs=1e-5)
    cells = [a for accs in results["corruptions"].values() for a in accs]
    assert results["mean_corruption_acc"] == pytest.approx(np.mean(cells), abs=1e-5)
    assert results["corruption_means"]["fog"] == pytest.approx(np.mean(results["corruptions"]["fog"]), abs=1e-5)
    assert results["relative_drop"] == pytest.approx(1 - results["mean_corruption_acc"], abs=1e-5)
    assert 0 < results["mean_corruption_acc"] < 1
    assert len(model.seen) == 1 + 15 * 3 and {size for _, size in model.seen} == {7}  # one call per cell


def test_two_models_see_the_very_same_corrupted_images(signs):
    """What a committee and its members are compared on: the cells depend on the seed, not the model."""
    images, labels = signs
    first, second, other_seed = Fussy(images, labels), Fussy(images, labels, tolerance=30), Fussy(images, labels)
    names = ["snow", "elastic_transform"]
    evaluate_corruptions(first, images, labels, [2], seed=3, names=names)
    evaluate_corruptions(second, images, labels, [2], seed=3, names=names)
    evaluate_corruptions(other_seed, images, labels, [2], seed=4, names=names)
    assert len(first.seen) == len(second.seen) == 3
    for a, b in zip(first.seen, second.seen):
        np.testing.assert_array_equal(a[0], b[0])
    assert all(not np.array_equal(a[0], c[0]) for a, c in zip(first.seen[1:], other_seed.seen[1:]))


def test_a_subset_of_corruptions_and_a_model_that_never_fails(signs):
    images, labels = signs
    results = evaluate_corruptions(Fussy(images, labels, tolerance=255), images, labels, [4], names=["fog", "snow"])
    assert results["corruptions"] == {"fog": [1.0], "snow": [1.0]}
    assert results["mean_corruption_acc"] == 1.0 and results["relative_drop"] == 0.0


@pytest.mark.parametrize("values, expected", [
    ((), [1, 2, 3, 4, 5]), (("3",), [3]), (("1-3",), [1, 2, 3]), (("1..5",), [1, 2, 3, 4, 5]),
    (("5,1", "2"), [1, 2, 5]), (("2-2", "2"), [2]),
])
def test_severities_are_numbers_ranges_or_lists(values, expected):
    assert parse_severities(values) == expected


@pytest.mark.parametrize("value", ["7", "0", "3-1", "a", "1-2-3", "", "1-6"])
def test_severities_outside_1_to_5_are_refused(value):
    with pytest.raises(ValueError, match=r"severity must be 1\.\.5 \(e\.g\. 3, 1-3 or 1,3,5\)"):
        parse_severities([value])


def sample_results():
    accs = {name: [0.9 - i / 100, 0.8 - i / 100] for i, name in enumerate(CORRUPTIONS)}
    return {"format": 1, "split": "valid", "dataset": "data/valid.p", "runs": ["runs/a"], "images": 4560, "seed": 0,
            "severities": [1, 5], "clean_acc": 0.99, "mean_corruption_acc": 0.78, "relative_drop": 0.21212,
            "corruptions": accs, "corruption_means": {n: round(float(np.mean(a)), 5) for n, a in accs.items()}}


def test_the_table_has_a_row_per_corruption_a_mean_row_and_names_the_weakest_three():
    results = sample_results()
    table = format_table(results)
    lines = table.splitlines()
    assert "(4,560 images, seed 0)" in lines[0] and lines[1].split() == ["corruption", "sev", "1", "sev", "5", "mean"]
    assert lines[2].split() == ["gaussian_noise", "0.900", "0.800", "0.850"]
    assert lines[17].split()[0] == "mean" and len({len(line) for line in lines[1:18]}) == 1  # aligned columns
    assert "mean corruption accuracy 0.7800 (relative drop 21.2%)" in table
    assert weakest(results) == ["jpeg_compression", "pixelate", "elastic_transform"]
    assert lines[-1] == "  weakest: jpeg_compression 0.710, pixelate 0.720, elastic_transform 0.730"


def test_results_go_to_robustness_json_or_beside_it_for_a_committee(tmp_path):
    assert robustness_path(tmp_path, committee=False) == tmp_path / "robustness.json"
    assert robustness_path(tmp_path, committee=True) == tmp_path / "robustness-committee.json"


def write_class_names(path):
    path.write_text("ClassId,SignName\n" + "".join(f"{i},{name}\n" for i, name in enumerate(TINY_CLASSES)))


class FussyWithConfig(Fussy):
    def __init__(self, cfg, images, labels):
        super().__init__(images, labels)
        self.cfg = cfg


def test_measure_loads_the_split_and_writes_the_schema(tmp_path):
    from signclf.config import load_config

    data = tmp_path / "data"
    data.mkdir()
    images, labels = make_dataset(2, seed=9)
    write_pickle(data / "valid.p", images, labels)
    write_class_names(data / "names.csv")
    cfg = load_config(None, [f"data.valid={data / 'valid.p'}", "data.train=", f"data.class_names={data / 'names.csv'}"])
    out = tmp_path / "run"
    out.mkdir()
    results, path = measure(FussyWithConfig(cfg, images, labels), ["run"], out, severities=[1], names=["fog"],
                            log=lambda line: None)
    assert path == out / "robustness.json" and json.loads(path.read_text()) == results
    assert set(results) == SCHEMA and results["split"] == "valid" and results["runs"] == ["run"]
    assert results["dataset"].endswith("valid.p") and results["images"] == 8


def test_a_read_only_folder_costs_the_file_not_the_scores(tmp_path, monkeypatch):
    import errno

    from signclf import atomic
    from signclf.config import load_config

    images, labels = make_dataset(2, seed=9)
    write_pickle(tmp_path / "valid.p", images, labels)
    write_class_names(tmp_path / "names.csv")
    cfg = load_config(None, [f"data.valid={tmp_path / 'valid.p'}", "data.train=",
                             f"data.class_names={tmp_path / 'names.csv'}"])

    def read_only(fd):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic.os, "fsync", read_only)
    lines = []
    results, path = measure(FussyWithConfig(cfg, images, labels), ["bundle"], tmp_path, severities=[1],
                            names=["fog"], log=lines.append)
    assert path is None and results["images"] == 8 and list(results["corruptions"]) == ["fog"]
    assert lines[-1].startswith("note: the results are printed but not saved: ") and "Read-only" in lines[-1]
    assert not (tmp_path / "robustness.json").exists() and not list(tmp_path.glob(".*.tmp"))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run trained for one epoch on four easy classes (valid.p beside train.p)."""
    root = tmp_path_factory.mktemp("robust")
    return train_tiny_run(write_tiny_data(root / "tiny"), root / "run")


def test_cli_corruptions_json_covers_all_15_by_5_cells_and_matches_the_file(tiny_run):
    result = CliRunner().invoke(main, ["evaluate", "--run", str(tiny_run), "--corruptions", "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert set(printed) == SCHEMA and printed["format"] == 1 and printed["images"] == 32
    assert list(printed["corruptions"]) == list(CORRUPTIONS) and printed["severities"] == [1, 2, 3, 4, 5]
    assert all(len(accs) == 5 and all(0 <= a <= 1 for a in accs) for accs in printed["corruptions"].values())
    assert json.loads((tiny_run / "robustness.json").read_text()) == printed
    assert "wrote" in result.stderr and "robustness.json" in result.stderr
    assert not (tiny_run / "confusion-valid.csv").exists()  # the clean evaluation's files are not touched


def test_cli_table_for_a_committee_with_filters(tiny_run):
    result = CliRunner().invoke(main, ["evaluate", "--run", str(tiny_run), "--run", str(tiny_run), "--corruption",
                                       "fog", "--corruption", "snow", "--severity", "1,5", "--no-progress"])
    assert result.exit_code == 0, result.output
    rows = [line.split()[0] for line in result.stdout.splitlines()[2:5]]
    assert rows == ["fog", "snow", "mean"] and "weakest: " in result.stdout
    saved = json.loads((tiny_run / "robustness-committee.json").read_text())
    assert saved["runs"] == [str(tiny_run)] * 2 and saved["severities"] == [1, 5]


@pytest.mark.parametrize("args, message", [
    (["--corruptions", "--severity", "7"],
     "Invalid value for '--severity': severity must be 1..5 (e.g. 3, 1-3 or 1,3,5), not '7'"),
    (["--corruption", "rain"],
     "Invalid value for '--corruption': 'rain' is not a corruption; valid: gaussian_noise, shot_noise, "),
])
def test_bad_severities_and_names_are_one_line_before_anything_loads(args, message, tmp_path):
    result = CliRunner().invoke(main, ["evaluate", "--run", str(tmp_path / "nothing"), *args])
    assert result.exit_code == 2 and message in result.stderr
    assert "Traceback" not in result.output and len([line for line in result.stderr.splitlines()
                                                     if line.startswith("Error")]) == 1


def test_members_of_different_input_sizes_share_corrupted_copies_made_at_the_largest_size(tiny_data, tmp_path):
    from test_evaluate import FakeCommittee, FakeMember, config_at

    def cfg(size):
        return config_at(tiny_data, size)

    seen, lines = [], []
    committee = FakeCommittee([FakeMember(cfg(16), seen, 4), FakeMember(cfg(24), seen, 4)])
    results, path = measure(committee, ["a", "b"], tmp_path, names=["gaussian_noise"], severities=[1],
                            committee=True, log=lines.append)
    assert {images.shape[1] for images in seen} == {24} and path.is_file()
    assert "input sizes differ (16, 24 pixels): the corrupted copies are made at 24×24" in "\n".join(lines)
