"""`signclf report`: one HTML page showing what a run (or a committee) learnt and where it fails.

The page is self-contained (pictures embedded as base64 PNG, CSS inline, no script) so it opens
offline and can be mailed; its pictures are also written beside it (RUN/report.html and
RUN/report/). Accuracy, mistakes and the confusion matrix come from a fresh evaluation through
the path `signclf evaluate` uses (Committee, load_split, metrics_from_probabilities); nothing is
recorded in the run's evaluation files. Feature maps and Grad-CAM read the first member's graph
at its `model/stage<i>` tensors (each convolution stage's output after ReLU and pooling).

Whatever cannot be shown (a run still training, no metrics yet, an unreadable --image) becomes a
note: printed, and shown at the top of the page; the rest of the page is still written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from signclf import report_figures as figures
from signclf import rundir
from signclf.config import INFERENCE_BATCH_SIZE, Config, load_config
from signclf.errors import CheckpointError, DataError
from signclf.preprocess import views
from signclf.report_html import esc, image_tag, page_html, per_class_table, summary_table
from signclf.runs_table import run_status

MISTAKES_SHOWN = 24  # the most confident mistakes in the grid
SALIENCY_MISTAKES = 8  # of those, how many get a Grad-CAM overlay
SAMPLE_IMAGES = 3  # validation images (distinct classes) shown when no --image is given
MAX_IMAGES = 12  # --image files shown (each adds a picture per stage to the page)
# The pictures a report writes (and only these are removed from its folder before it writes anew).
PICTURE_PREFIXES = ("curves-", "confusion", "mistakes", "input-", "features-", "saliency-", "robustness")
STEPS = ["read runs", "load model", "evaluate", "curves", "confusion", "mistakes", "feature maps",
         "saliency", "robustness", "write page"]
CORRUPTIONS_HINT = "signclf evaluate --corruptions"


@dataclass
class Member:
    """What one run's files say, read without TensorFlow."""

    run: Path
    cfg: Config
    summary: dict
    metrics: list
    status: str
    detail: str


def assets_folder(page: Path) -> Path:
    """Where the page's pictures go: beside it, named like it without .html (RUN/report.html → RUN/report/)."""
    page = Path(page)
    return page.with_suffix("") if page.suffix else page.with_name(page.name + "-pictures")


@dataclass
class Report:
    page: Path
    assets: Path
    pictures: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    seconds: float = 0.0


def read_member(run) -> Member:
    run = Path(run)
    status, detail = run_status(run)
    try:
        summary = rundir.read_summary(run)
    except CheckpointError:  # run_status says so in its detail
        summary = {}
    return Member(run, load_config(rundir.RunPaths(run).config), summary, rundir.read_metrics(run), status, detail)


def robustness_of(run) -> dict | None:
    """RUN/robustness.json if it exists and has the fields the heatmap needs; DataError if damaged."""
    path = rundir.RunPaths(run).robustness
    if not path.exists():
        return None
    try:
        record = rundir.read_json(path)
    except CheckpointError as e:
        raise DataError(f"{e}; recompute it with {CORRUPTIONS_HINT} --run {run}") from None
    number = lambda x: isinstance(x, (int, float)) and not isinstance(x, bool)  # noqa: E731
    cells = record.get("corruptions") if isinstance(record, dict) else None
    ok = (isinstance(cells, dict) and cells
          and all(isinstance(v, list) and v and all(map(number, v)) for v in cells.values())
          and len({len(v) for v in cells.values()}) == 1
          and all(number(record.get(k)) for k in ("clean_acc", "mean_corruption_acc")))
    if not ok:
        raise DataError(f"{path}: not a robustness record (corruptions, clean_acc, mean_corruption_acc); "
                        f"recompute it with {CORRUPTIONS_HINT} --run {run}")
    return record


class StageProbe:
    """Feature maps and Grad-CAM gradients of one loaded run, read at its `model/stage<i>` tensors.

    One image per Session.run: with several towers a batch is split between them and only the
    first tower's tensors carry these names; a single image is always (padded and) in that tower."""

    def __init__(self, run):
        import tensorflow.compat.v1 as tf

        self.run = run
        graph = run.net.graph
        self.stages = [graph.get_tensor_by_name(f"model/stage{i}:0") for i in range(len(run.cfg.model.conv))]
        with graph.as_default():
            self.class_id = tf.placeholder(tf.int32, [], name="report_class_id")
            self.gradient = tf.gradients(run.net.logits[0, self.class_id], self.stages[-1])[0]

    def look(self, image_rgb, class_id: int):
        """(prepared image, [stage output H×W×C per stage], gradient of class_id's logit at the last stage)."""
        from signclf.preprocess import prepare_images

        cfg = self.run.cfg
        prepared = prepare_images([image_rgb], cfg.preprocess, cfg.data.image_size)
        maps, gradient = self.run.sess.run([self.stages, self.gradient],
                                           {self.run.net.images: prepared, self.class_id: int(class_id)})
        return prepared[0], [np.asarray(m[0], np.float32) for m in maps], np.asarray(gradient[0], np.float32)


def sample_indices(labels: np.ndarray, count: int = SAMPLE_IMAGES) -> list[int]:
    """The first image of `count` classes spread evenly over the classes present."""
    present = np.unique(labels)
    picks = present[np.linspace(0, len(present) - 1, min(count, len(present))).round().astype(int)]
    return [int(np.flatnonzero(labels == c)[0]) for c in dict.fromkeys(picks.tolist())]


def confident_mistakes(probs: np.ndarray, labels: np.ndarray, count: int = MISTAKES_SHOWN) -> np.ndarray:
    """Indices of misclassified images, the most confidently wrong first."""
    predicted = probs.argmax(1)
    wrong = np.flatnonzero(predicted != labels)
    return wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")][:count]


def _top3(probs: np.ndarray):
    ids = np.argsort(-probs, axis=1)[:, :3]
    return ids, np.take_along_axis(probs, ids, 1)


def _read_images(paths, note) -> list[tuple[str, np.ndarray]]:
    from signclf.data.images import read_image

    if len(paths) > MAX_IMAGES:
        note(f"{len(paths)} --image files given: the first {MAX_IMAGES} are shown")
    images = []
    for path in paths[:MAX_IMAGES]:
        try:
            images.append((str(path), read_image(path)))
        except DataError as e:
            note(f"--image {e}; left out of the report")
    return images


class _Builder:
    """Runs the steps in order, each adding its section (or a note saying why it is missing)."""

    def __init__(self, run_dirs, out: Path, split, data_path, image_paths, batch_size, log, progress: bool):
        from signclf.progress import bar

        self.run_dirs = [Path(r) for r in run_dirs]
        self.out, self.assets = out, assets_folder(out)
        self.split, self.data_path, self.image_paths, self.batch_size = split, data_path, image_paths, batch_size
        self.log, self.notes, self.sections, self.pictures = log, [], {}, []
        self.bar = bar(total=len(STEPS), show=progress, unit="step", desc="report")
        self._remove_old_pictures()

    def _remove_old_pictures(self) -> None:
        """An earlier report's pictures go: one made for other images would be mistaken for this one's."""
        if self.assets.is_dir():
            for path in self.assets.glob("*.png"):
                if path.name.startswith(PICTURE_PREFIXES):
                    path.unlink()

    def note(self, line: str) -> None:
        self.notes.append(line)
        self.log(f"note: {line}")

    def step(self, name: str) -> None:
        self.bar.set_postfix_str(name, refresh=False)
        self.bar.update()

    def picture(self, path) -> str:
        self.pictures.append(Path(path))
        return image_tag(path)

    def section(self, key: str, body: str) -> None:
        self.sections[key] = body

    # ---- the steps ---------------------------------------------------------------------------

    def members(self) -> list[Member]:
        members = [read_member(r) for r in self.run_dirs]
        for m in members:
            if m.status != "completed":
                self.note(f"{m.run}: {m.status} ({m.detail}); the page shows what it has saved so far")
        self.step("read runs")
        return members

    def curves(self, members: list[Member]) -> None:
        parts = []
        for i, m in enumerate(members):
            if not m.metrics:
                self.note(f"{m.run}: no metrics.csv yet (no epoch finished): no learning curves for it")
                continue
            path = figures.plot_learning_curves(m.metrics, self.assets / f"curves-{i}.png", str(m.run),
                                                m.summary.get("best_epoch"))
            parts.append(self.picture(path))
        self.section("curves", "".join(parts) or "<p>No epoch has finished yet.</p>")
        self.step("curves")

    def evaluation(self, committee):
        from signclf.evaluate import metrics_from_probabilities, score_split

        probs, dataset = score_split(committee, self.split, self.data_path, self.batch_size, log=self.note)
        results = metrics_from_probabilities(probs, dataset.labels, committee.class_names)
        self.step("evaluate")
        return dataset, probs, results

    def confusion(self, results, class_names, title: str) -> None:
        path = figures.plot_confusion_matrix(results["confusion_matrix"], class_names, self.assets / "confusion.png",
                                             title)
        self.section("confusion", self.picture(path))
        self.section("classes", per_class_table(results["per_class"], results["confusion_matrix"]))
        self.step("confusion")

    def mistakes(self, dataset, probs, class_names) -> np.ndarray:
        worst = confident_mistakes(probs, dataset.labels)
        if len(worst):
            ids, top = _top3(probs[worst])
            path = figures.plot_mistakes(dataset.images[worst], dataset.labels[worst], ids, top, class_names,
                                         self.assets / "mistakes.png")
            body = (f"<p>The {len(worst)} most confidently wrong of {int((probs.argmax(1) != dataset.labels).sum()):,}"
                    f" mistakes: true class, then the top-3 classes and their probabilities.</p>" + self.picture(path))
        else:
            body = "<p>No mistakes on this dataset.</p>"
        self.section("mistakes", body)
        self.step("mistakes")
        return worst

    def network_views(self, committee, dataset, probs, worst) -> None:
        probe = StageProbe(committee.runs[0])
        names = committee.class_names
        if self.image_paths:
            given = _read_images(list(self.image_paths), self.note)
            images = [img for _, img in given]
            given_probs = committee.probabilities(images, self.batch_size) if images else np.zeros((0, len(names)))
            samples = [(Path(p).name, img, None, pr) for (p, img), pr in zip(given, given_probs)]
        else:
            where = Path(self.data_path).name if self.data_path else self.split
            samples = [(f"{where} image {i}", dataset.images[i], int(dataset.labels[i]), probs[i])
                       for i in sample_indices(dataset.labels)]
        self._feature_maps(probe, samples, names, len(committee.runs) > 1)
        mistakes = [(f"image {i}", dataset.images[i], int(dataset.labels[i]), probs[i])
                    for i in worst[:SALIENCY_MISTAKES]]
        self._saliency(probe, samples, mistakes, names, len(committee.runs) > 1)

    def _feature_maps(self, probe, samples, names, committee: bool) -> None:
        blocks = []
        for k, (label, image, true, p) in enumerate(samples):
            predicted = int(p.argmax())
            prepared, maps, _ = probe.look(image, predicted)
            caption = [label] + ([f"true {figures.class_label(names, true, 18)}"] if true is not None else []) \
                + [f"pred {figures.class_label(names, predicted, 18)} {p[predicted]:.2f}"]
            shown = views(prepared, probe.run.cfg.preprocess)
            row = [self.picture(figures.plot_input(image, shown, self.assets / f"input-{k}.png", caption))]
            for i, m in enumerate(maps):
                title = f"stage {i}: {m.shape[2]} maps of {m.shape[0]}×{m.shape[1]}"
                row.append(self.picture(figures.plot_feature_maps(m, self.assets / f"features-{k}-stage{i}.png",
                                                                  title)))
            blocks.append(f'<div class="row">{"".join(row)}</div>')
        intro = ("<p>Each convolution stage's output after ReLU and pooling, one tile per channel, each scaled to "
                 "its own maximum (black = 0)" + (", from the committee's first member" if committee else "")
                 + ".</p>")
        self.section("features", intro + ("".join(blocks) or "<p>No readable --image.</p>"))
        self.step("feature maps")

    def _saliency(self, probe, samples, mistakes, names, committee: bool) -> None:
        body = ("<p>Grad-CAM on the last convolution stage" + (" of the committee's first member" if committee else "")
                + ": where the gradient of the predicted class's logit says the evidence for it is (red = strong).</p>")
        for key, title, items in (("samples", "the images above", samples), ("mistakes", "the worst mistakes",
                                                                               mistakes)):
            if not items:
                continue
            images, cams, captions = [], [], []
            for label, image, true, p in items:
                predicted = int(p.argmax())
                _, maps, gradient = probe.look(image, predicted)
                images.append(image)
                cams.append(figures.grad_cam(maps[-1], gradient, figures.SALIENCY_SIDE))
                first = f"true {figures.class_label(names, true)}" if true is not None else label
                captions.append((first, f"pred {figures.class_label(names, predicted)} {p[predicted]:.2f}"))
            path = figures.plot_saliency(images, cams, captions, self.assets / f"saliency-{key}.png",
                                         f"Grad-CAM: {title}")
            body += self.picture(path)
        self.section("saliency", body)
        self.step("saliency")

    def robustness(self) -> None:
        run = self.run_dirs[0]
        try:
            record = robustness_of(run)
        except DataError as e:
            self.note(str(e))
            record = None
        if record is None:
            body = (f"<p>Not computed yet: <code>{CORRUPTIONS_HINT} --run {esc(run)}</code> measures accuracy on "
                    f"corrupted copies of the evaluation set and writes robustness.json, which this page shows.</p>")
        else:
            path = figures.plot_robustness(record, self.assets / "robustness.png")
            drop, images = record.get("relative_drop"), record.get("images")
            body = (f"<p>{f'{images:,}' if isinstance(images, int) else '?'} images of "
                    f"{esc(record.get('split', '?'))}: clean accuracy {record['clean_acc']:.4f}, mean corruption "
                    f"accuracy {record['mean_corruption_acc']:.4f}"
                    + (f", relative drop {drop:.1%}" if isinstance(drop, (int, float)) else "")
                    + ".</p>" + self.picture(path))
        self.section("robustness", body)
        self.step("robustness")


def write_report(run_dirs, out=None, split: str = "valid", data_path=None, image_paths=(),
                 batch_size: int = INFERENCE_BATCH_SIZE, log=print, progress: bool = True) -> Report:
    """Write the page for `run_dirs` (several = a committee) to `out` (default RUN/report.html) and its
    pictures into the folder beside it named like it (RUN/report/). Needs TensorFlow imported."""
    from signclf.atomic import atomic_write_text

    started = time.time()
    out = Path(out) if out else rundir.RunPaths(run_dirs[0]).report
    b = _Builder(run_dirs, out, split, data_path, image_paths, batch_size, log, progress)
    try:
        members = b.members()
        evaluation = None
        if all(rundir.RunPaths(m.run).has_checkpoint() for m in members):
            evaluation = _evaluate_and_look(b)
        else:
            if not any(m.metrics for m in members):
                raise CheckpointError(f"{members[0].run}: no checkpoint and no finished epoch yet: nothing to report;"
                                      f" wait for its first epoch, or train a run with signclf train")
            b.note("no checkpoint saved yet: only the summary and learning curves are shown")
        b.curves(members)
        b.robustness()
        html = page_html(summary_table(members, evaluation), b.sections, b.notes, title=_title(members))
        atomic_write_text(out, html)
        b.step("write page")
    finally:
        b.bar.close()
    return Report(out, b.assets, b.pictures, b.notes, time.time() - started)


def _evaluate_and_look(b: _Builder) -> dict:
    from signclf.inference import Committee

    with Committee(b.run_dirs) as committee:
        b.step("load model")
        for run in committee.runs:
            if run.checkpoint.note:
                b.note(run.checkpoint.note)
        dataset, probs, results = b.evaluation(committee)
        b.confusion(results, committee.class_names,
                    f"{Path(dataset.source).name}: accuracy {results['accuracy']:.4f} on {results['n']:,} images")
        worst = b.mistakes(dataset, probs, committee.class_names)
        b.network_views(committee, dataset, probs, worst)
        return {**{k: results[k] for k in ("accuracy", "top5_accuracy", "macro_f1", "n")},
                "dataset": str(dataset.source), "checkpoints": [str(r.checkpoint) for r in committee.runs],
                "device": committee.runs[0].device.describe()}


def _title(members: list[Member]) -> str:
    names = ", ".join(m.run.resolve().name for m in members)
    return f"signclf report: {names}" if len(members) == 1 else f"signclf report: committee of {names}"

