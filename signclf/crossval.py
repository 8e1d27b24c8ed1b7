"""`signclf cv`: k-fold cross-validation whose folds hold whole physical signs, each fold a run.

Every labelled image (data.train and data.valid pooled) is cut into `folds` folds by track,
stratified by class, the same folds for every config and seed (so two configs' results pair up
fold by fold). Fold i is exactly `signclf train --set data.folds=K --set data.fold=i`: an ordinary
run directory, so folds can run anywhere, one at a time here or spread out by a sweep. `cv` runs
the folds that are missing, resumes interrupted ones, and summarises what is there into cv.json.

The main figure is each fold's accuracy after its last epoch: nothing was chosen on that fold.
The best-epoch accuracy is reported beside it; it is optimistic, because the epoch was picked on
the very images it is measured on.
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path

from signclf import rundir
from signclf.atomic import atomic_write_json
from signclf.config import Config

CV_FILE = "cv.json"
FINISHED = ("completed", "early stopping")  # summary.json statuses of a fold that ran to its end


def fold_config(cfg: Config, folds: int, fold: int) -> Config:
    data = dataclasses.replace(cfg.data, folds=folds, fold=fold)
    return dataclasses.replace(cfg, data=data, name=f"{cfg.name or 'run'}-fold{fold}")


def fold_dir(out: Path, fold: int) -> Path:
    return Path(out) / f"fold-{fold}"


def run_state(run: Path) -> str:
    """'done', 'resumable' (has a checkpoint) or 'new'."""
    if rundir.read_summary(run).get("status", "").startswith(FINISHED):
        return "done"
    return "resumable" if rundir.RunPaths(run).has_checkpoint() else "new"


def run_folds(cfg: Config, out, folds: int, only=(), log=print, progress: bool = True) -> list[Path]:
    """Train the folds in `only` (default all) that are not done yet; returns their run directories."""
    from signclf.train import train

    runs = []
    for fold in (only or range(folds)):
        run, fold_cfg = fold_dir(out, fold), fold_config(cfg, folds, fold)
        state = run_state(run) if run.exists() else "new"
        if state == "done":
            log(f"fold {fold}: done already ({run})")
        elif state == "resumable":
            log(f"fold {fold}: resuming {run}")
            train(fold_cfg, resume=run, log=log, progress=progress)
        else:
            log(f"fold {fold} of {folds}:")
            train(fold_cfg, run_dir=run, force=run.exists(), log=log, progress=progress)
        runs.append(run)
    return runs


def _mean_sd(values) -> dict:
    return {"mean": round(statistics.fmean(values), 6),
            "sd": round(statistics.stdev(values), 6) if len(values) > 1 else 0.0}


def summarize(out, folds: int) -> dict:
    """Per-fold and mean ± sd accuracies of the folds trained so far, written to OUT/cv.json."""
    rows = []
    for fold in range(folds):
        run = fold_dir(out, fold)
        metrics = rundir.read_metrics(run) if run.is_dir() else []
        if not metrics:
            continue
        summary = rundir.read_summary(run)
        rows.append({"fold": fold, "run": str(run), "status": summary.get("status", "unknown"),
                     "epochs": len(metrics), "final_valid_acc": float(metrics[-1]["valid_acc"]),
                     "best_valid_acc": float(summary.get("best_valid_acc", 0.0)),
                     "best_epoch": summary.get("best_epoch") or 0, "wall_time_s": summary.get("wall_time_s"),
                     "valid_acc_by_epoch": [float(r["valid_acc"]) for r in metrics]})
    # Only finished folds enter the mean: an interrupted one has not had its last epoch yet.
    done = [r for r in rows if r["status"].startswith(FINISHED)]
    result = {"folds": folds, "completed": len(done), "per_fold": rows}
    if done:
        result["final_valid_acc"] = _mean_sd([r["final_valid_acc"] for r in done])
        result["best_valid_acc"] = _mean_sd([r["best_valid_acc"] for r in done])
        depth = min(len(r["valid_acc_by_epoch"]) for r in done)
        by_epoch = [statistics.fmean(r["valid_acc_by_epoch"][e] for r in done) for e in range(depth)]
        result["best_mean_epoch"] = by_epoch.index(max(by_epoch)) + 1
        result["final_epochs"], result["final_epochs_why"] = _final_epochs(Path(done[0]["run"]),
                                                                           result["best_mean_epoch"])
    atomic_write_json(Path(out) / CV_FILE, result)
    return result


def _final_epochs(fold_run: Path, best_mean_epoch: int) -> tuple[int, str]:
    """The epoch count a final model on all the data should train for, and why.

    A cosine schedule's shape depends on its length: epoch 28 of a 45-epoch cosine still has a
    large learning rate, which a 28-epoch run never reaches again, so stopping at the best epoch
    cannot be reproduced. Such a schedule keeps its full length, the one the folds' mean measured.
    Other schedules depend on the epoch alone, so the best epoch on average over folds carries over."""
    from signclf.config import load_config
    from signclf.errors import SignclfError

    try:
        train = load_config(rundir.RunPaths(fold_run).config).train
    except SignclfError:  # a fold folder without its config: fall back on the epochs alone
        return best_mean_epoch, "best mean accuracy over folds"
    if train.lr_schedule == "cosine":
        return train.epochs, (f"the folds' cosine schedule in full; stopped at the best mean epoch, "
                              f"{best_mean_epoch}, it could not be rerun as a shorter cosine")
    return best_mean_epoch, "best mean accuracy over folds"


def score(cv_dirs, tta: int = 1, log=print) -> dict:
    """Each fold's last-epoch model(s) on that fold: one cross-validation, or several (trained with the
    same folds) as a committee, optionally with test-time augmentation. Nothing is chosen on the fold,
    so the mean predicts unseen data as the cv summary's main figure does."""
    from signclf.errors import ConfigError
    from signclf.evaluate import evaluate

    folds = {d: _cv_folds(d) for d in cv_dirs}
    if len(set(folds.values())) > 1:
        raise ConfigError("cross-validations with different fold counts cannot form a committee: "
                          + ", ".join(f"{d} ({k} folds)" for d, k in folds.items()))
    count, rows = next(iter(folds.values())), []
    for fold in range(count):
        runs = [fold_dir(d, fold) for d in cv_dirs]
        unfinished = [str(r) for r in runs if not (r.is_dir() and run_state(r) == "done")]
        if unfinished:
            log(f"fold {fold}: skipped, not trained to the end: {', '.join(unfinished)}")
            continue
        result = evaluate(runs, tta=tta, checkpoint="last", log=lambda *a: None)
        rows.append({"fold": fold, "accuracy": round(result["accuracy"], 6), "n": result["n"],
                     "errors": int(round((1 - result["accuracy"]) * result["n"]))})
        log(f"fold {fold}: {result['accuracy']:.4f} ({rows[-1]['errors']} errors of {result['n']:,})")
    out = {"cv": [str(d) for d in cv_dirs], "folds": count, "tta": tta, "per_fold": rows}
    if rows:
        out["accuracy"] = _mean_sd([r["accuracy"] for r in rows])
    return out


def _cv_folds(cv_dir) -> int:
    from signclf.errors import ConfigError

    path = Path(cv_dir) / CV_FILE
    if not path.is_file():
        raise ConfigError(f"{cv_dir}: no {CV_FILE}; it is not a cross-validation folder "
                          f"(make one with: signclf cv --config CONFIG --out {cv_dir})")
    return int(rundir.read_json(path)["folds"])


def final_model_command(config_path: str | None, overrides, epochs: int) -> str:
    """The train command for the cross-validated config on all the data: the same --config and --set
    (so a tuned variant is the one trained), its epoch count from the folds."""
    import shlex

    kept = [o for o in overrides if o.split("=", 1)[0].strip() not in ("train.epochs", "train.final")]
    words = ["signclf", "train"] + (["--config", config_path] if config_path else [])
    for item in [*kept, "train.final=true", f"train.epochs={epochs}"]:
        words += ["--set", item]
    return shlex.join(words)


def format_summary(result: dict, out, config_path: str | None = None, overrides=()) -> str:
    lines = [f"cross-validation, {result['folds']} track-disjoint folds ({result['completed']} trained):",
             f"  {'fold':>4}  {'final acc':>9}  {'best acc':>8}  {'best epoch':>10}  {'epochs':>6}  {'wall s':>7}"]
    for r in result["per_fold"]:
        unfinished = "" if r["status"].startswith(FINISHED) else f"  ({r['status']}: not in the mean)"
        lines.append(f"  {r['fold']:4d}  {r['final_valid_acc']:9.4f}  {r['best_valid_acc']:8.4f}  "
                     f"{r['best_epoch']:10d}  {r['epochs']:6d}  {r['wall_time_s'] or 0:7.0f}{unfinished}")
    if result["completed"]:
        final, best = result["final_valid_acc"], result["best_valid_acc"]
        lines.append(f"  mean  {final['mean']:.4f} ± {final['sd']:.4f} after the last epoch "
                     f"(best epoch: {best['mean']:.4f} ± {best['sd']:.4f}, chosen on the fold itself)")
        lines.append(f"  epochs for a final model: {result['final_epochs']} ({result['final_epochs_why']})")
        lines.append("  final model on all the data: " + final_model_command(config_path, overrides,
                                                                            result["final_epochs"]))
    lines.append(f"  wrote {Path(out) / CV_FILE}")
    return "\n".join(lines)
