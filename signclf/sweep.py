"""`signclf sweep`: many training runs of one base config, scheduled by Ray Tune.

Ray Tune does everything a sweep needs beyond one run: it samples the space, places trials on
this machine or a cluster with the CPUs and GPUs each asks for, stops weak trials early (ASHA)
and keeps the experiment's state so an interrupted sweep resumes. Each trial is an ordinary
signclf run, made by `signclf.train.train` in the trial's worker, in OUT/trials/<trial id>:
its run directory is its checkpoint, so a trial that Ray restarts resumes its run.

OUT holds: sweep-spec.yaml (base config, space and options: what --resume needs), ray/ (Ray Tune's
experiment state), trials/ (the runs), and at the end sweep.csv, sweep.json and best.yaml.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from signclf import rundir
from signclf.atomic import atomic_write_json, atomic_write_text
from signclf.config import config_to_yaml
from signclf.errors import ConfigError, SignclfError
from signclf.sweep_space import Domain, parse_space, space_to_yaml_dict, trial_config

SPEC_FILE = "sweep-spec.yaml"
RAY_DIR = "ray"
TOKEN_FILE = "~/.ray/auth_token"  # where `ray start` and `ray get-auth-token --generate` keep the cluster's token
TRIALS_DIR = "trials"
CSV_FILE, JSON_FILE, BEST_FILE = "sweep.csv", "sweep.json", "best.yaml"
SCHEDULERS = ("asha", "none")
FINISHED = ("completed", "early stopping")  # a run's summary.json status once it ran to its end


@dataclass
class SweepSpec:
    """Everything that defines a sweep; saved in OUT so that --resume needs nothing else."""

    base: dict  # the base config (with --set applied, data paths absolute) as a dict
    space: dict[str, Domain]
    trials: int  # Ray Tune's num_samples: with grid keys, each sample runs the whole grid
    scheduler: str = "asha"
    cpus_per_trial: float = 1
    gpus_per_trial: float = 0

    def save(self, out: Path) -> None:
        fields = dataclasses.asdict(self) | {"space": space_to_yaml_dict(self.space)}
        atomic_write_text(out / SPEC_FILE, yaml.safe_dump(fields, sort_keys=False))

    @classmethod
    def load(cls, out: Path) -> SweepSpec:
        path = out / SPEC_FILE
        if not path.is_file():
            raise ConfigError(f"--resume {out}: no {SPEC_FILE} there, so it is not a sweep folder; "
                              f"start one with signclf sweep --config BASE.yaml --space SPACE.yaml --out {out}")
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        raw["space"] = parse_space(raw["space"], raw["base"], str(path))
        return cls(**raw)

    @property
    def max_epochs(self) -> int:
        epochs = self.space.get("train.epochs")
        return max(epochs.values) if epochs else self.base["train"]["epochs"]


# ---- inside a Ray worker: one trial ------------------------------------------------------------

def _run_trial(params: dict, base: dict, out: str, cpus: float) -> None:
    """Train the trial's run (resuming it if Ray restarted the trial) and report every epoch."""
    import ray
    from ray import tune

    from signclf.device import CORES_ENV
    from signclf.tensorflow_import import import_tensorflow

    # Towers and thread pools are sized by the CPUs Ray reserved for this trial, not the machine's.
    os.environ[CORES_ENV] = str(max(1, int(cpus)))
    import_tensorflow()
    from signclf.train import train

    trial_id = tune.get_context().get_trial_id()
    run = Path(out) / TRIALS_DIR / trial_id
    cfg = trial_config(base, params, f"trial {trial_id}")
    where = {"node": ray.get_runtime_context().get_node_id(), "pid": os.getpid()}

    def report(row: dict):
        metrics = {"epoch": int(row["epoch"]), "valid_acc": float(row["valid_acc"]),
                   "valid_loss": float(row["valid_loss"]), "train_acc": float(row["train_acc"])}
        try:
            tune.report(metrics | where)
        except SystemExit:  # Ray's way of telling a trial the scheduler stopped it
            if metrics["epoch"] < cfg.train.epochs:  # ASHA also "stops" a trial at its last epoch
                return "stopped by the sweep (its scheduler, or the sweep stopping)"
        return None

    status = rundir.read_summary(run).get("status", "") if run.is_dir() else ""
    if status.startswith(FINISHED):
        report(rundir.read_metrics(run)[-1])  # finished before Ray Tune saved that it had: say so again
    elif run.is_dir() and rundir.RunPaths(run).has_checkpoint():
        train(cfg, resume=run, progress=False, on_epoch=report)
    else:
        train(cfg, run_dir=run, force=run.exists(), progress=False, on_epoch=report)


# ---- the driver --------------------------------------------------------------------------------

def start_ray(address: str | None, log) -> bool:
    """Join the cluster at `address`, or start a quiet local Ray with this machine's cores; False if
    this process had already connected to Ray (the caller then leaves it running)."""
    import logging

    if address:
        use_cluster_token()  # takes effect only where Ray is not imported yet (the CLI calls it earlier)
    import ray

    from signclf.device import usable_cores

    if ray.is_initialized():
        log(f"using the Ray this process already runs: {_resources_line()}")
        return False
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    if address:
        check_reachable(address)
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise SignclfError(f"--address {address}: cannot join the Ray cluster ({first}); check that "
                               f"`ray start --head` runs there and, if it asks for a token, that `ray get-auth-token` "
                               f"there prints what {TOKEN_FILE} holds here; or leave out --address to sweep on "
                               f"this machine")
        log(f"joined the Ray cluster at {address}: {_resources_line()}")
    else:
        try:
            ray.init(num_cpus=usable_cores(), **quiet)
        except Exception as e:  # Ray's start-up failures (e.g. a raylet that timed out) are plain Exceptions
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise SignclfError(f"Ray could not start on this machine ({first}); run the same command again "
                               f"once the machine is less busy, or join a cluster with --address") from None
        log(f"started a local Ray: {_resources_line()}")
    return True


def use_cluster_token() -> None:
    """Send the cluster token when there is one. Recent Ray starts `ray start --head` clusters with token
    authentication yet leaves clients in RAY_AUTH_MODE=disabled, so they cannot join; a client in token
    mode joins clusters with and without authentication alike. A RAY_AUTH_MODE the user set is kept."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or \
            Path(TOKEN_FILE).expanduser().is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def check_reachable(address: str) -> None:
    """An unreachable address fails in seconds with one line (Ray itself would retry for a minute)."""
    import socket

    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address {address}: expected HOST:PORT of a Ray head, e.g. --address 10.0.0.5:6379")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise SignclfError(f"--address {address}: no Ray cluster answers there ({e.strerror or e}); start one "
                           f"with `ray start --head --port {port}` on that machine, or leave out --address "
                           f"to sweep on this machine") from None


def _resources_line() -> str:
    import ray

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    total = ray.cluster_resources()
    gpus = f", {total['GPU']:g} GPUs" if total.get("GPU") else ""
    return f"{len(nodes)} node(s), {total.get('CPU', 0):g} CPUs{gpus}"


def _check_resources(spec: SweepSpec) -> None:
    """A trial that no node can host would wait forever: say so instead."""
    import ray

    need = {"CPU": spec.cpus_per_trial, "GPU": spec.gpus_per_trial}
    for node in ray.nodes():
        have = node.get("Resources", {})
        if node.get("Alive") and all(have.get(k, 0) >= v for k, v in need.items() if v):
            return
    raise ConfigError(f"no node of the Ray cluster has {spec.cpus_per_trial:g} CPUs and "
                      f"{spec.gpus_per_trial:g} GPUs for one trial ({_resources_line()}); "
                      f"lower --cpus-per-trial / --gpus-per-trial")


def _progress_callback():
    from ray import tune

    class ProgressLines(tune.Callback):
        """One line per trial epoch and per trial end on stderr, instead of Ray Tune's status tables.
        (Ray Tune saves its callbacks with the experiment and a resumed sweep reuses them, so this
        one holds nothing of the process that started the sweep.)"""

        def on_trial_result(self, iteration, trials, trial, result, **info):
            _progress(f"trial {trial.trial_id}: epoch {result['epoch']} valid acc {result['valid_acc']:.4f}")

        def on_trial_complete(self, iteration, trials, trial, **info):
            _progress(f"trial {trial.trial_id}: done")

        def on_trial_error(self, iteration, trials, trial, **info):
            _progress(f"trial {trial.trial_id}: failed ({_error_line(trial)})")

    return ProgressLines()


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _error_line(trial) -> str:
    """The last line of the trial's traceback: the SignclfError's own message, where it is one."""
    text = ""
    try:
        text = Path(trial.error_file or "").read_text(encoding="utf-8", errors="replace") if trial.error_file else ""
    except OSError:
        pass
    lines = [line for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "the trial's worker failed"
    return last.split(": ", 1)[1] if last.split(": ", 1)[0].endswith(("Error", "Stopped", "Exception")) else last


def _trainable(spec: SweepSpec, out: Path):
    from ray import tune

    trainable = tune.with_parameters(_run_trial, base=spec.base, out=str(out), cpus=spec.cpus_per_trial)
    return tune.with_resources(trainable, {"cpu": spec.cpus_per_trial, "gpu": spec.gpus_per_trial})


def _tuner(spec: SweepSpec, out: Path):
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from signclf.sweep_space import to_tune

    scheduler = None
    if spec.scheduler == "asha":
        # Rungs at about a fifth of the epochs, then ×3: weak trials stop after a few epochs,
        # while one noisy first epoch does not decide.
        scheduler = ASHAScheduler(time_attr="epoch", max_t=spec.max_epochs,
                                  grace_period=max(1, spec.max_epochs // 5), reduction_factor=3)
    return tune.Tuner(
        _trainable(spec, out), param_space=to_tune(spec.space),
        # No reuse_actors: a reused worker must see its last trial's thread end within 2 s, and a
        # busy machine misses that and fails the next trial; a fresh worker per trial costs only imports.
        tune_config=tune.TuneConfig(metric="valid_acc", mode="max", num_samples=spec.trials, scheduler=scheduler,
                                    trial_dirname_creator=lambda trial: trial.trial_id),
        run_config=tune.RunConfig(name=RAY_DIR, storage_path=str(out), verbose=0, log_to_file=True,
                                  callbacks=[_progress_callback()],
                                  failure_config=tune.FailureConfig(max_failures=0)))


def run_sweep(spec: SweepSpec, out, address: str | None = None, resume: bool = False, log=print) -> dict:
    """Run (or, with `resume`, continue) the sweep in OUT; returns its summary (see summarize)."""
    import ray
    from ray import tune

    out = Path(out).absolute()
    if resume and not tune.Tuner.can_restore(str(out / RAY_DIR)):
        raise ConfigError(f"--resume {out}: Ray Tune saved no experiment state there (the sweep never "
                          f"started); remove the folder and start the sweep again")
    started = start_ray(address, log)
    try:
        _check_resources(spec)
        if resume:
            log(f"resuming the sweep in {out}: finished trials are kept, unfinished ones resume their runs")
            tuner = tune.Tuner.restore(str(out / RAY_DIR), trainable=_trainable(spec, out),
                                       resume_unfinished=True, resume_errored=False)
        else:
            out.mkdir(parents=True, exist_ok=True)  # only now: a sweep that cannot start leaves no folder
            spec.save(out)
            log(f"sweep of {len(spec.space)} key(s), {spec.trials} sample(s) into {out}")
            tuner = _tuner(spec, out)
        tuner.fit()
        return summarize(spec, out)
    finally:
        if started:
            ray.shutdown()


# ---- results -----------------------------------------------------------------------------------

def _status(trial, run: Path) -> str:
    summary = rundir.read_summary(run) if run.is_dir() else {}
    if trial.status == "ERROR":
        return f"failed: {_error_line(trial)}"
    if summary.get("status", "").startswith(FINISHED):
        return "completed"
    if trial.status == "TERMINATED":
        return f"stopped early at epoch {summary.get('epochs_completed', 0)}"
    return "unfinished"  # the sweep was interrupted: --resume continues it


def saved_trials(out: Path) -> list:
    """The trials as Ray Tune saved them last: what --resume would do with each. (After Ctrl-C, the
    Tuner's in-memory trials all read TERMINATED; the saved state still says which were running.)"""
    from ray.tune import ExperimentAnalysis

    return ExperimentAnalysis(str(out / RAY_DIR)).trials


def summarize(spec: SweepSpec, out: Path) -> dict:
    """Rows for every trial, best first, written to sweep.csv and sweep.json; best.yaml for the best."""
    trials = saved_trials(out)
    rows = []
    for trial in trials:
        run = out / TRIALS_DIR / trial.trial_id
        summary = rundir.read_summary(run) if run.is_dir() else {}
        last = trial.last_result or {}
        rows.append({"trial": trial.trial_id, "status": _status(trial, run),
                     "best_valid_acc": summary.get("best_valid_acc"), "best_epoch": summary.get("best_epoch"),
                     "epochs": summary.get("epochs_completed", 0), "node": last.get("node"),
                     "run": str(run) if rundir.RunPaths(run).has_checkpoint() else None,
                     **{key: trial.config.get(key) for key in spec.space}})
    rows.sort(key=lambda r: (-(r["best_valid_acc"] or -1), r["trial"]))
    finished = sum(t.status in ("TERMINATED", "ERROR") for t in trials)
    result = {"out": str(out), "trials": rows, "finished": finished, "interrupted": finished < len(trials),
              "keys": list(spec.space)}
    best = next((r for r in rows if r["run"] and r["best_valid_acc"] is not None), None)
    if best:
        cfg = trial_config(spec.base, {k: best[k] for k in spec.space}, f"trial {best['trial']}")
        header = (f"# Best of the sweep in {out}: trial {best['trial']}, valid acc {best['best_valid_acc']:.4f} "
                  f"at epoch {best['best_epoch']}.\n# Train it again with: signclf train --config {out / BEST_FILE}\n")
        atomic_write_text(out / BEST_FILE, header + config_to_yaml(cfg))
        result["best"] = {"trial": best["trial"], "valid_acc": best["best_valid_acc"], "run": best["run"],
                          "config": str(out / BEST_FILE)}
    atomic_write_text(out / CSV_FILE, _csv(rows))
    atomic_write_json(out / JSON_FILE, result)
    return result


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()}
                         for r in rows)
    return buf.getvalue()


def committee(result: dict, k: int, log=print) -> dict:
    """Evaluate the top `k` trials (those with a checkpoint) as a committee on their validation set."""
    from signclf.evaluate import evaluate

    runs = [r["run"] for r in result["trials"] if r["run"]][:k]
    if not runs:
        raise SignclfError(f"{result['out']}: no trial saved a checkpoint, so there is no committee to evaluate")
    scores = evaluate(runs, split="valid", log=log)
    result["committee"] = {"runs": runs, "valid_acc": scores["accuracy"]}
    atomic_write_json(Path(result["out"]) / JSON_FILE, result)
    return result["committee"]


def format_table(result: dict) -> str:
    keys = result["keys"]
    widths = [max(len(k), 10) for k in keys]
    head = f"  {'#':>2}  {'trial':<12} {'valid acc':>9} {'epoch':>5} {'epochs':>6}  " + \
        "  ".join(f"{k:<{w}}" for k, w in zip(keys, widths)) + "  status"
    lines = [f"sweep in {result['out']}: {len(result['trials'])} trials, best first", head]
    for i, r in enumerate(result["trials"], 1):
        acc = f"{r['best_valid_acc']:.4f}" if r["best_valid_acc"] is not None else "-"
        values = "  ".join(f"{_short(r[k]):<{w}}" for k, w in zip(keys, widths))
        lines.append(f"  {i:2d}  {r['trial']:<12} {acc:>9} {r['best_epoch'] or '-':>5} {r['epochs']:>6}  "
                     f"{values}  {r['status']}")
    if "best" in result:
        lines.append(f"best: trial {result['best']['trial']} ({result['best']['valid_acc']:.4f}); "
                     f"its config: {result['best']['config']}")
    if "committee" in result:
        c = result["committee"]
        lines.append(f"committee of the top {len(c['runs'])}: valid acc {c['valid_acc']:.4f} (on the set the sweep "
                     f"selected on; signclf evaluate --split test --run ... for an unbiased figure)")
    lines.append(f"wrote {Path(result['out']) / CSV_FILE} and {JSON_FILE}")
    return "\n".join(lines)


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
