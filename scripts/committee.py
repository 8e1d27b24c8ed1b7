#!/usr/bin/env python3
"""The shipped committee recipe: four preprocessings of `configs/best-gray.yaml` and three seeds of
`configs/best.yaml`, each image scored on 9 views (`--tta 9`).

    python scripts/committee.py cv    --data DIR [--folds 3] [--out runs/committee-cv] [--jobs N]
    python scripts/committee.py final --data DIR [--out runs/committee] [--jobs N]
    ... [--members a,b] [--tta N] [--set key=value]... [--dry-run]

`cv` cross-validates every member on the same track-disjoint folds, then scores them together
(`signclf cv-score ... --tta 9`): the committee's honest figure. `final` trains every member on all
labelled images (`train.final`) and prints the commands that evaluate and use the committee.
`--data DIR` is a folder with the Udacity pickles (train.p, valid.p); other layouts go through
`--set data.train=... --set data.valid=...`. `--dry-run` prints the commands instead, e.g. to spread
them over several machines. Each member's output goes to OUT/<member>.log; a member that fails does
not stop the others, and the script then exits 1 naming it.

Why these members: a committee gains from members that err on different images, and the
preprocessing decides most of what a member sees. Cross-validated (3 folds, last epoch, README
"What each accuracy lever is worth"), gray + CLAHE alone 99.53%, + RGB 99.63%, + gray with plain
histogram equalisation 99.69%, + RGB with histogram equalisation 99.73%, although the two
histogram members are the weakest alone (99.17%, 99.15%): they see the dark and over-exposed
tracks, where the CLAHE members share their errors, differently. Light noise
(`augment.noise_max=0`) because the committee scored higher with it than with best-gray.yaml's
per-image noise (99.63 against 99.55 for gray + RGB). `best.yaml`, the best single model (it sees
all three normalisations at once), joins as three seeds: the seven with `--tta 9` scored 99.755%
± 0.13 (96 errors), the four preprocessings alone 99.72% (`--tta 9`) and 99.71% (without), the
seven without views 99.73%. `--members gray-clahe,rgb-clahe,gray-hist,rgb-hist --tta 1` is the
light committee: 4 models and one view per image against 7 × 9.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from signclf.tta import MAX_VIEWS

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
LIGHT_NOISE = ["augment.noise_max=0"]
# name: (config, overrides)
MEMBERS = {
    "gray-clahe": ("best-gray.yaml", LIGHT_NOISE),
    "rgb-clahe": ("best-gray.yaml", LIGHT_NOISE + ["preprocess.color=rgb"]),
    "gray-hist": ("best-gray.yaml", LIGHT_NOISE + ["preprocess.equalize=hist"]),
    "rgb-hist": ("best-gray.yaml", LIGHT_NOISE + ["preprocess.color=rgb", "preprocess.equalize=hist"]),
    "best-s0": ("best.yaml", ["train.seed=0"]),
    "best-s1": ("best.yaml", ["train.seed=1"]),
    "best-s2": ("best.yaml", ["train.seed=2"]),
}
TTA = 9  # views per image when the committee is scored or used (signclf.tta)


def member_config(name: str) -> Path:
    return CONFIGS / MEMBERS[name][0]


def member_overrides(name: str, extra=()) -> list[str]:
    return list(MEMBERS[name][1]) + list(extra)


def _sets(overrides) -> list[str]:
    return [arg for item in overrides for arg in ("--set", item)]


def member_command(mode: str, name: str, out: Path, folds: int, extra=()) -> list[str] | None:
    """The member's signclf command; None when its final model is already trained. `cv` resumes by
    itself; an interrupted final model resumes from its run directory (its saved config)."""
    from signclf.crossval import run_state

    run = out / name
    if mode == "cv":
        return ["signclf", "cv", "--config", str(member_config(name)), "--folds", str(folds)] + \
            _sets(member_overrides(name, extra)) + ["--out", str(run), "--no-progress"]
    state = run_state(run) if run.is_dir() else "new"
    if state == "done":
        return None
    if state == "resumable":
        return ["signclf", "train", "--resume", str(run), "--no-progress"]
    return ["signclf", "train", "--config", str(member_config(name))] + \
        _sets(member_overrides(name, extra) + ["train.final=true"]) + ["--run", str(run), "--no-progress"]


def follow_up(mode: str, names, out: Path, tta: int = TTA) -> list[list[str]]:
    """What to run once every member is trained."""
    dirs = [str(out / name) for name in names]
    views = ["--tta", str(tta)] if tta > 1 else []
    if mode == "cv":
        return [["signclf", "cv-score", *dirs, *views]]
    runs = [arg for d in dirs for arg in ("--run", d)]
    return [["signclf", "evaluate", *runs, "--split", "test", *views],
            ["signclf", "predict", *runs, *views, "IMAGE.png"]]


def _run(cmd, log: Path, cores: int) -> int:
    if cmd is None:
        return 0  # trained before
    env = dict(os.environ, SIGNCLF_CPUS=str(cores))
    with open(log, "w") as f:
        # `python -m signclf` rather than the `signclf` entry point: the same interpreter as this script.
        return subprocess.run([sys.executable, "-m", "signclf", *cmd[1:]], stdout=f, stderr=subprocess.STDOUT,
                              env=env).returncode


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["cv", "final"])
    p.add_argument("--data", help="folder with train.p and valid.p (sets data.train and data.valid)")
    p.add_argument("--out", help="parent folder of the members (default runs/committee-cv or runs/committee)")
    p.add_argument("--folds", type=int, default=3, help="cv only (default 3)")
    p.add_argument("--members", help=f"comma-separated subset of {','.join(MEMBERS)} (default all)")
    p.add_argument("--tta", type=int, default=TTA, choices=range(1, MAX_VIEWS + 1), metavar="N",
                   help=f"views per image when scoring and using the committee "
                        f"(1..{MAX_VIEWS}, default {TTA}; 1 = none)")
    p.add_argument("--jobs", type=int, default=1, help="members trained at once, the cores shared (default 1)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="more overrides for every member (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = p.parse_args(argv)

    names = args.members.split(",") if args.members else list(MEMBERS)
    unknown = [n for n in names if n not in MEMBERS]
    if unknown:
        return _usage_error(f"--members: unknown member(s) {', '.join(unknown)}; choose from {', '.join(MEMBERS)}")
    extra = list(args.overrides)
    if args.data:
        data = Path(args.data).expanduser()
        if not (data / "train.p").is_file() and not args.dry_run:
            return _usage_error(f"--data {args.data}: no train.p in it; `signclf data download --which udacity` "
                                f"puts the pickles in data/traffic-signs-data (then --data data/traffic-signs-data), "
                                f"or pass --set data.train=... --set data.valid=...")
        extra = [f"data.{split}={data / (split + '.p')}" for split in ("train", "valid", "test")] + extra
    out = Path(args.out or ("runs/committee-cv" if args.mode == "cv" else "runs/committee"))
    commands = {name: member_command(args.mode, name, out, args.folds, extra) for name in names}

    if args.dry_run:
        for name, cmd in commands.items():
            print(shlex.join(cmd) if cmd else f"# {name}: trained already ({out / name})")
        for cmd in follow_up(args.mode, names, out, args.tta):
            print(shlex.join(cmd))
        return 0

    out.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(args.jobs, len(names)))
    cores = max(1, (os.cpu_count() or 1) // jobs)
    print(f"{len(names)} member(s), {jobs} at a time on {cores} core(s) each; logs in {out}/<member>.log")
    with ThreadPoolExecutor(jobs) as pool:
        codes = dict(zip(names, pool.map(lambda n: _run(commands[n], out / f"{n}.log", cores), names)))
    failed = [n for n, code in codes.items() if code != 0]
    for name in names:
        if codes[name]:
            print(f"  {name:12s} failed (exit {codes[name]}), see {out / (name + '.log')}")
        else:
            print(f"  {name:12s} {'trained before' if commands[name] is None else 'done'}")
    then = follow_up(args.mode, names, out, args.tta)
    if failed:
        print(f"error: {len(failed)} member(s) failed: {', '.join(failed)}; fix the cause named at the end of the "
              f"log, then rerun the same command (finished members are kept, interrupted ones resume)", file=sys.stderr)
        return 1
    if args.mode == "cv":
        return subprocess.run([sys.executable, "-m", "signclf", *then[0][1:]]).returncode
    print("the committee is trained; use it with:")
    for cmd in then:
        print("  " + shlex.join(cmd))
    return 0


if __name__ == "__main__":
    sys.exit(main())
