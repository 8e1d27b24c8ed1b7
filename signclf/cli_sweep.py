"""`signclf sweep`: the click command; the sweep itself is signclf.sweep (Ray Tune).

Everything about the inputs (config, space, --set, options, the output folder) is checked before
Ray or TensorFlow is imported, so a typo costs neither's start-up.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from signclf.cli_options import verbose, verbose_option
from signclf.errors import SIGINT_EXIT, ConfigError, SignclfError

RAY_MISSING = "Ray Tune is not installed; install it with: pip install 'signclf[sweep]'"


def _require_ray() -> None:
    try:
        import ray.tune  # noqa: F401
    except ImportError:
        raise SignclfError(RAY_MISSING) from None


def _new_spec(config_path, space_path, overrides, trials, scheduler, cpus, gpus):
    from signclf.config import config_to_dict, load_config, resolve_paths
    from signclf.config_yaml import parse_override
    from signclf.data.loading import check_data_paths
    from signclf.sweep import SweepSpec
    from signclf.sweep_space import grid_size, load_space

    cfg = load_config(config_path, overrides)
    check_data_paths(cfg)
    # Absolute data paths: trials run in Ray's workers, whose working folder is not this one.
    base = config_to_dict(resolve_paths(cfg, Path.cwd()))
    space = load_space(space_path, base)
    fixed = {".".join(parse_override(text)[0]) for text in overrides}
    both = sorted(fixed & set(space))
    if both:
        raise ConfigError(f"{', '.join(both)}: both fixed by --set and searched in {space_path}; drop one")
    if trials is None:  # a pure grid needs one pass; anything random gets 8 samples
        trials = 1 if len(space) == sum(d.kind == "grid" for d in space.values()) else 8
    spec = SweepSpec(base, space, trials, scheduler, cpus, gpus)
    return spec, cfg.name or "run", grid_size(space) * trials


@click.command("sweep")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), metavar="BASE.yaml",
              help="Base config every trial starts from (default: LeNet-5 defaults).")
@click.option("--space", "space_path", type=click.Path(dir_okay=False), metavar="SPACE.yaml",
              help="Config keys → domains (choice, grid, uniform, loguniform, randint); see configs/sweep-lenet.yaml.")
@click.option("--trials", type=click.IntRange(1), default=None,
              help="Samples drawn from the space (default 8; 1 for a pure grid). Each sample runs the whole grid.")
@click.option("--address", metavar="HOST:PORT",
              help="Join this Ray cluster (`ray start --head` prints it); default: a local Ray on this machine.")
@click.option("--cpus-per-trial", type=click.FloatRange(0.5), default=1, show_default=True,
              help="CPUs Ray reserves for each trial; its towers and threads use that many.")
@click.option("--gpus-per-trial", type=click.FloatRange(0), default=0, show_default=True,
              help="GPUs Ray reserves for each trial (fractions share a GPU).")
@click.option("--scheduler", type=click.Choice(["asha", "none"]), default="asha", show_default=True,
              help="asha: Ray Tune's ASHA stops weak trials early; none: every trial runs all its epochs.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Fix a config key for every trial, e.g. --set train.epochs=5 (repeatable).")
@click.option("--out", type=click.Path(file_okay=False), metavar="DIR",
              help="Sweep folder: its trials' runs, Ray Tune's state, the results (default runs/sweep-<name>).")
@click.option("--resume", type=click.Path(file_okay=False), metavar="DIR",
              help="Continue an interrupted sweep; finished trials are not run again.")
@click.option("--committee", type=click.IntRange(2), metavar="K",
              help="At the end, evaluate the top K trials as a committee.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (progress is on stderr).")
@verbose_option
@click.pass_context
def sweep_command(ctx, config_path, space_path, trials, address, cpus_per_trial, gpus_per_trial, scheduler,
                  overrides, out, resume, committee, as_json):
    """Search hyperparameters with Ray Tune: one signclf run per trial, here or on a Ray cluster."""
    from signclf.sweep import SPEC_FILE, SweepSpec

    if resume:
        given = [name for name, value in (("--config", config_path), ("--space", space_path), ("--set", overrides),
                                          ("--trials", trials), ("--out", out)) if value]
        if given:
            raise click.UsageError(f"--resume continues the sweep as it was defined (its {SPEC_FILE}); "
                                   f"drop {', '.join(given)}")
        out = Path(resume)
        spec = SweepSpec.load(out)
        planned = None
    else:
        if not space_path:
            raise click.UsageError("--space SPACE.yaml is required (see configs/sweep-lenet.yaml)")
        spec, name, planned = _new_spec(config_path, space_path, overrides, trials, scheduler, cpus_per_trial,
                                        gpus_per_trial)
        out = Path(out or Path("runs") / f"sweep-{name}")
        if out.exists() and any(out.iterdir()):
            raise ConfigError(f"{out}: folder exists and is not empty; continue that sweep with "
                              f"signclf sweep --resume {out}, or pick another --out DIR")
    if address:
        from signclf.sweep import check_reachable, use_cluster_token

        use_cluster_token()  # before Ray is imported: it reads RAY_AUTH_MODE once
    _require_ray()
    if address:
        check_reachable(address)
    from signclf.tensorflow_import import quiet_tensorflow

    quiet_tensorflow(verbose(ctx))
    from signclf.sweep import committee as evaluate_committee
    from signclf.sweep import format_table, run_sweep

    log = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    if planned:
        log(f"{planned} trial(s), {spec.cpus_per_trial:g} CPU(s) and {spec.gpus_per_trial:g} GPU(s) each, "
            f"scheduler: {spec.scheduler}")
    result = run_sweep(spec, out, address=address, resume=bool(resume), log=log)
    if committee and not result["interrupted"]:
        from signclf.tensorflow_import import import_tensorflow

        import_tensorflow(verbose(ctx))
        evaluate_committee(result, committee, log=log)
    click.echo(json.dumps(result, indent=2) if as_json else format_table(result))
    if result["interrupted"]:
        raise SignclfError(f"sweep interrupted: {result['finished']} of {len(result['trials'])} trials finished; "
                           f"continue it with: signclf sweep --resume {out}", SIGINT_EXIT)
