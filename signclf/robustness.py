"""How a model holds up under real-world corruptions: accuracy on corrupted copies of an evaluation set.

`evaluate_corruptions` scores anything with `class_names` and `probabilities(images, batch_size)` (a
Committee, a runtime.BundleModel) on the clean images and on every (corruption, severity) cell of
signclf.corruptions, each cell corrupted in one batch call and scored in one probabilities() call.
The model does its own preprocessing: corruptions hit the camera image, before it.
`signclf evaluate --corruptions` records the results in robustness.json (`signclf report` reads it).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from signclf.config import INFERENCE_BATCH_SIZE
from signclf.corruptions import CORRUPTIONS, SEVERITIES, corrupt
from signclf.evaluate import members, metrics_from_probabilities
from signclf.text import printable

FORMAT = 1


def parse_severities(values) -> list[int]:
    """`--severity` values ("3", "1-3", "1..5", "1,3,5"; repeatable) → sorted severities; all when none."""
    chosen = set()
    for value in values:
        for part in str(value).replace("..", "-").split(","):
            bounds = part.strip().split("-")
            try:
                low, high = int(bounds[0]), int(bounds[-1])
            except ValueError:
                low = high = None
            if len(bounds) > 2 or low is None or not (1 <= low <= high <= 5):
                raise ValueError(f"severity must be 1..5 (e.g. 3, 1-3 or 1,3,5), not {value!r}")
            chosen.update(range(low, high + 1))
    return sorted(chosen) or list(SEVERITIES)


def evaluate_corruptions(model, images: np.ndarray, labels: np.ndarray, severities=SEVERITIES, seed: int = 0,
                         names=None, batch_size: int = INFERENCE_BATCH_SIZE, progress: bool = False) -> dict:
    """Clean accuracy and accuracy per corruption × severity of `model` on uint8 N×H×W×3 RGB images;
    the corrupted copies depend only on (seed, corruption, severity), never on the model. No names or no
    severities: all of them."""
    from signclf.progress import bar

    names = list(names or CORRUPTIONS)
    severities = [int(s) for s in severities or SEVERITIES]
    labels = np.asarray(labels)

    def accuracy(batch) -> float:
        probs = model.probabilities(batch, batch_size)
        return metrics_from_probabilities(probs, labels, model.class_names)["accuracy"]

    clean = accuracy(images)
    cells = [(name, severity) for name in names for severity in severities]
    table = {name: [] for name in names}
    # The next cell's images are made in a second thread while the model scores this one's.
    with ThreadPoolExecutor(1, thread_name_prefix="signclf-corrupt") as pool, \
            bar(total=len(cells), unit="cell", desc="corruptions", show=progress) as done:
        upcoming = [pool.submit(corrupt, images, name, severity, seed) for name, severity in cells[:1]]
        for i, (name, severity) in enumerate(cells):
            corrupted = upcoming.pop().result()
            upcoming += [pool.submit(corrupt, images, *cell, seed) for cell in cells[i + 1:i + 2]]
            done.set_postfix_str(f"{name} {severity}")
            table[name].append(round(accuracy(corrupted), 5))
            done.update()
    means = {name: round(float(np.mean(accs)), 5) for name, accs in table.items()}
    overall = float(np.mean([acc for accs in table.values() for acc in accs]))
    return {"images": int(len(labels)), "seed": int(seed), "severities": severities, "clean_acc": round(clean, 5),
            "mean_corruption_acc": round(overall, 5),
            "relative_drop": round((clean - overall) / clean, 5) if clean > 0 else 0.0,
            "corruptions": table, "corruption_means": means}


def robustness_path(out_dir, committee: bool) -> Path:
    from signclf.rundir import RunPaths

    paths = RunPaths(out_dir)
    return paths.robustness_committee if committee else paths.robustness


def measure(model, sources, out_dir, split: str = "valid", data_path=None, severities=SEVERITIES, seed: int = 0,
            names=None, batch_size: int = INFERENCE_BATCH_SIZE, committee: bool = False, log=print,
            progress: bool = False) -> tuple[dict, Path | None]:
    """Load data.<split> of the model's config (or `data_path`), evaluate it under every corruption and
    write the results into `out_dir`; (results, the file written, or None where the folder is read-only:
    minutes of scoring are still printed)."""
    from signclf.atomic import FileWriteError, atomic_write_json
    from signclf.data.loading import load_split
    from signclf.errors import DataError

    # One set of corrupted copies for every member, so that all see the same corruption: made at the
    # largest input size, which the smaller members shrink (area averaging) as they would a photo.
    cfg = max((m.cfg for m in members(model)), key=lambda c: c.data.image_size)
    sizes = sorted({m.cfg.data.image_size for m in members(model)})
    if len(sizes) > 1:
        log(f"note: the members' input sizes differ ({', '.join(map(str, sizes))} pixels): the corrupted copies "
            f"are made at {sizes[-1]}×{sizes[-1]} and each member resizes them")
    dataset = load_split(cfg, split, data_path, log=log)
    if dataset.num_classes != len(model.class_names):
        raise DataError(f"{dataset.source}: has {dataset.num_classes} classes but the run was trained on "
                        f"{len(model.class_names)}")
    scores = evaluate_corruptions(model, dataset.images, dataset.labels, severities, seed, names, batch_size,
                                  progress)
    results = {"format": FORMAT, "split": split if data_path is None else Path(data_path).name,
               "dataset": str(dataset.source), "runs": [str(s) for s in sources], **scores}
    try:
        return results, atomic_write_json(robustness_path(out_dir, committee), results)
    except FileWriteError as e:
        log(f"note: the results are printed but not saved: {e}")
        return results, None


def measure_runs(run_dirs, **options) -> tuple[dict, Path | None]:
    """`measure` for a run, or a committee of runs (results in the first run's folder)."""
    from signclf.inference import Committee

    with Committee(run_dirs) as model:
        return measure(model, run_dirs, Path(run_dirs[0]), committee=len(run_dirs) > 1, **options)


def measure_bundles(model_paths, **options) -> tuple[dict, Path | None]:
    """`measure` for exported bundle(s) (no TensorFlow; several are a committee); results in the
    (first) bundle folder."""
    from signclf.runtime import open_models

    with open_models(model_paths) as model:
        return measure(model, list(model_paths), model.root, committee=len(model.sources) > 1, **options)


def weakest(results: dict, count: int = 3) -> list[str]:
    """The corruptions with the lowest mean accuracy, worst first."""
    return sorted(results["corruption_means"], key=results["corruption_means"].get)[:count]


def format_table(results: dict) -> str:
    """What `signclf evaluate --corruptions` prints: corruptions × severities, then the summary."""
    severities = results["severities"]
    width = max(len("corruption"), *(len(name) for name in results["corruptions"]))
    runs = ", ".join(printable(r) for r in results["runs"])
    lines = [f"evaluated {runs} on corrupted copies of {printable(results['dataset'])} "
             f"({results['images']:,} images, seed {results['seed']})",
             f"  {'corruption':{width}s} " + " ".join(f"{f'sev {s}':>6s}" for s in severities) + "    mean"]
    for name, accs in results["corruptions"].items():
        lines.append(f"  {name:{width}s} " + " ".join(f"{a:6.3f}" for a in accs)
                     + f"  {results['corruption_means'][name]:6.3f}")
    columns = np.array(list(results["corruptions"].values())).mean(0)
    lines.append(f"  {'mean':{width}s} " + " ".join(f"{a:6.3f}" for a in columns)
                 + f"  {results['mean_corruption_acc']:6.3f}")
    lines += [f"  clean accuracy           {results['clean_acc']:.4f}",
              f"  mean corruption accuracy {results['mean_corruption_acc']:.4f} "
              f"(relative drop {results['relative_drop']:.1%})",
              "  weakest: " + ", ".join(f"{name} {results['corruption_means'][name]:.3f}" for name in weakest(results))]
    return "\n".join(lines)
