"""Fetch GTSRB (or the Udacity pickles): resumable, verified, and unpacked where the readers look.

A download goes to `X.part` and becomes `X` only once it verifies, so an interrupted or corrupt
transfer never replaces a good copy; the next run resumes the .part with an HTTP Range request.
Each part of a dataset is unpacked into a temp folder beside it and renamed into place whole, so
a failed or killed run never leaves half of one where the readers look. The SHA-256 of every
verified archive is printed and kept in `DEST/<which>.manifest.json`: the one fingerprint a user can
compare with a colleague's for the training archive that nobody publishes a checksum for.
Only urllib: no extra dependency for something run once per machine.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Callable, NamedTuple
from urllib.parse import urlsplit

from signclf.atomic import atomic_write, atomic_write_json, atomic_write_text, replace_folder
from signclf.data import gtsrb_archive
from signclf.data.gtsrb import TEST_CSV
from signclf.errors import DataError, SignclfError
from signclf.progress import bar as progress_bar

GTSRB_URL = "https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/"
BASE_URLS = {
    "gtsrb": GTSRB_URL,
    "gtsrb-ijcnn": GTSRB_URL,
    "udacity": "https://s3-us-west-1.amazonaws.com/udacity-selfdrivingcar/",
}
FULL_TRAIN_ZIP = "GTSRB_Final_Training_Images.zip"  # 39,209 images: what published GTSRB results train on
IJCNN_TRAIN_ZIP = "GTSRB-Training_fixed.zip"  # 26,640 images: the IJCNN 2011 first release (torchvision's)
TEST_ZIP, LABELS_ZIP = "GTSRB_Final_Test_Images.zip", "GTSRB_Final_Test_GT.zip"  # 12,630 images + labels
UDACITY_ZIP = "traffic-signs-data.zip"
TEST_MD5S = {TEST_ZIP: "c7e4e6327067d32654124b0fe9e82185", LABELS_ZIP: "fe31e9c9270bbcd7b84b7f21a9d9d9e5"}
# File name → published MD5, None where nobody published one. Pass `checksums=` to use others.
CHECKSUMS = {
    "gtsrb": {FULL_TRAIN_ZIP: None, **TEST_MD5S},
    "gtsrb-ijcnn": {IJCNN_TRAIN_ZIP: "513f3c79a4c5141765e10e952eaa2478", **TEST_MD5S},
    "udacity": {UDACITY_ZIP: None},
}
# Where each GTSRB archive's part lands below DEST, as the zips name their members.
PARTS = {FULL_TRAIN_ZIP: "GTSRB/Final_Training", IJCNN_TRAIN_ZIP: "GTSRB/Training", TEST_ZIP: "GTSRB/Final_Test"}
UDACITY_PICKLES = ("train.p", "valid.p", "test.p")
READ_BLOCK_BYTES = 1 << 20  # per read() while hashing or downloading
TIMEOUT_S = 60
UNPACK_PREFIX = ".signclf-unpack-"  # temp folders in DEST; a killed run's are removed by the next


class GtsrbCounts(NamedTuple):
    """What the verifier insists on; tests pass small ones for their tiny archives."""

    training_images: int = gtsrb_archive.FULL_TRAINING_IMAGES
    classes: int = gtsrb_archive.GTSRB_CLASSES
    test_images: int = gtsrb_archive.TEST_IMAGES


GTSRB_COUNTS = GtsrbCounts()


def _say(message: str) -> None:
    print(message, file=sys.stderr)


class _Unreachable(Exception):
    """The server could not be contacted at all (as opposed to answering badly)."""


# ---- verification ------------------------------------------------------------------------------

class ContentCheck(NamedTuple):
    """How an archive without a published MD5 is verified instead, and the words for the manifest."""

    problem: Callable[[Path], str | None]
    description: str


def _digests(path: Path) -> tuple[str, str]:
    """(MD5, SHA-256) of the file, in one read."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(READ_BLOCK_BYTES):
            md5.update(block)
            sha256.update(block)
    return md5.hexdigest(), sha256.hexdigest()


def _zip_problem(path: Path, required=()) -> str | None:
    """Why `path` is not a sound zip holding `required` (by base name), or None."""
    try:
        with zipfile.ZipFile(path) as z:
            broken = z.testzip()
            names = {PurePosixPath(n).name for n in z.namelist()}
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
        return f"is not a readable zip ({e})"
    if broken:
        return f"is corrupt ({broken} fails its CRC check)"
    missing = [r for r in required if r not in names]
    return f"lacks {', '.join(missing)}" if missing else None


def content_check(name: str, counts: GtsrbCounts = GTSRB_COUNTS) -> ContentCheck:
    """What verifies the archive called `name` when it has no published MD5."""
    if name == FULL_TRAIN_ZIP:
        return ContentCheck(
            lambda p: gtsrb_archive.training_archive_problem(p, images=counts.training_images, classes=counts.classes),
            f"zip CRCs; {counts.training_images:,} images in {counts.classes} class folders, each with a "
            "GT-000NN.csv listing exactly its images; every image decodes")
    if name == UDACITY_ZIP:
        return ContentCheck(lambda p: _zip_problem(p, UDACITY_PICKLES), f"zip CRCs; holds {', '.join(UDACITY_PICKLES)}")
    return ContentCheck(_zip_problem, "zip CRCs")


def _problem(path: Path, md5: str | None, check: ContentCheck, known_sha256: str | None) -> tuple[str, str | None]:
    """(SHA-256 of `path`, why it is not the expected archive or None when it verifies)."""
    actual_md5, sha256 = _digests(path)
    if md5 is not None:
        return sha256, None if actual_md5 == md5.lower() else f"has MD5 {actual_md5}, expected {md5.lower()}"
    if sha256 == known_sha256:
        return sha256, None  # the very bytes an earlier run checked in full
    return sha256, check.problem(path)


# ---- transfer ----------------------------------------------------------------------------------

def _transfer(url: str, part: Path) -> bool:
    """Download `url` into `part`, continuing an existing partial file; True when it resumed."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            return True  # nothing past what we have: the .part is (probably) complete; verification decides
        raise DataError(f"{url}: the server answered {e.code} {e.reason}; check --base-url or try again later")
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        raise _Unreachable(getattr(e, "reason", e))
    with response:
        match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
        resumed = have > 0 and response.status == 206 and match is not None and int(match.group(1)) == have
        if have and not resumed:
            _say(f"{part.name}: the server ignored the resume request; downloading from the start")
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        written = have
        try:
            with open(part, "ab" if resumed else "wb") as f, \
                    progress_bar(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                                 desc=part.name[: -len(".part")]) as bar:
                while block := response.read(READ_BLOCK_BYTES):
                    f.write(block)
                    written += len(block)
                    bar.update(len(block))
        except (OSError, EOFError, http.client.HTTPException) as e:  # reset, timeout, bad chunk, disk full
            raise DataError(f"{url}: transfer interrupted after {written} bytes ({e}); "
                            f"run the command again to resume {part}")
    if total is not None and written != total:
        raise DataError(f"{url}: the connection closed after {written} of {total} bytes; "
                        f"run the command again to resume {part}")
    return resumed


def fetch_verified(url: str, target: Path, md5: str | None, check: ContentCheck | None = None,
                   known_sha256: str | None = None) -> str:
    """Make `target` a verified copy of `url`, downloading only what is missing; return its SHA-256.

    Verified by `md5` when given, else by `check` (default: the zip's CRCs); a file whose SHA-256 is
    `known_sha256` passed that check before and is not checked again. An existing `target` that
    verifies is kept as is; one that does not stays in place until a verified replacement arrives.
    A download that fails verification is renamed `X.bad`.
    """
    check = check or content_check(target.name)
    if target.exists():
        sha256, problem = _problem(target, md5, check, known_sha256)
        if problem is None:
            _say(f"{target.name}: already downloaded and verified, skipping (SHA-256 {sha256})")
            return sha256
        _say(f"{target.name}: the existing copy {problem}; downloading it again (kept until a good copy arrives)")
    if md5 is None:
        _say(f"{target.name}: no published MD5, so verified by {check.description}")
    part = target.with_name(target.name + ".part")
    resumed = _transfer(url, part)
    sha256, problem = _problem(part, md5, check, None)
    if problem and resumed:  # the old partial bytes may be stale or damaged: one fresh try
        _say(f"{target.name}: the resumed download {problem}; downloading it afresh")
        part.unlink()
        _transfer(url, part)
        sha256, problem = _problem(part, md5, check, None)
    if problem:
        bad = target.with_name(target.name + ".bad")
        os.replace(part, bad)
        kept = f"; the existing {target.name} is untouched" if target.exists() else ""
        raise DataError(f"{url}: the download {problem}; moved it to {bad}{kept}; "
                        "try again later or use another mirror with --base-url")
    os.replace(part, target)
    _say(f"{target.name}: downloaded and verified (SHA-256 {sha256})")
    return sha256


# ---- manifest ----------------------------------------------------------------------------------

def manifest_path(dest, which: str) -> Path:
    return Path(dest) / f"{which}.manifest.json"


def read_manifest(path: Path) -> dict:
    """The manifest's {file name: entry}; empty when there is none or it is unreadable (it is rewritten)."""
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return files if isinstance(files, dict) else {}


def _vouched_sha256(files: dict, name: str, verified_by: str) -> str | None:
    """The SHA-256 an earlier run recorded for `name` after checking it the way it is checked now."""
    entry = files.get(name)
    return entry.get("sha256") if isinstance(entry, dict) and entry.get("verified_by") == verified_by else None


def _record(path: Path, which: str, files: dict, name: str, entry: dict) -> None:
    files[name] = entry  # written after each archive, so an interrupted run keeps what it verified
    atomic_write_json(path, {"dataset": which, "files": files})


# ---- extraction --------------------------------------------------------------------------------

def _stamp(archives) -> str:
    return "\n".join(f"{a.name} {a.stat().st_size} {a.stat().st_mtime_ns}" for a in archives)


def _already_unpacked(archives, output: Path) -> bool:
    marker = archives[0].with_name(archives[0].name + ".extracted")
    return output.exists() and marker.exists() and marker.read_text() == _stamp(archives)


def _mark_unpacked(archives) -> None:
    atomic_write_text(archives[0].with_name(archives[0].name + ".extracted"), _stamp(archives))


def _unpack_part(dest: Path, part: str, archives: list[Path], build: Callable[[Path], Path]) -> None:
    """Make DEST/part from `archives` unless these same files were unpacked there already.

    `build(scratch)` assembles the part inside a temp folder in DEST and returns where; only a
    complete one is renamed into place.
    """
    target = dest / part
    if _already_unpacked(archives, target):
        return
    _say(f"{archives[0].name}: extracting into {target}")
    scratch = Path(tempfile.mkdtemp(prefix=UNPACK_PREFIX, dir=dest))
    try:
        replace_folder(build(scratch), target)
    except SignclfError:
        raise
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise DataError(f"{archives[0]}: cannot unpack into {dest} ({e}); free some space, or delete "
                        f"{archives[0].name} and run this command again")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _mark_unpacked(archives)  # last: an interrupted extraction is redone next time


def _extract(archive: Path, scratch: Path, part: str) -> Path:
    with zipfile.ZipFile(archive) as z:
        z.extractall(scratch)  # zipfile strips absolute paths and '..' from member names
    if not (scratch / part).is_dir():
        raise DataError(f"{archive}: did not unpack to {part}; delete it and run this command again")
    return scratch / part


def _copy_member(archive: Path, base_name: str, target: Path) -> None:
    """Copy the member called `base_name` (in any folder of the zip) to `target`, atomically."""
    with zipfile.ZipFile(archive) as z:
        name = next((n for n in z.namelist() if PurePosixPath(n).name == base_name), None)
        if name is None:
            raise DataError(f"{archive}: has no {base_name}; delete it and run this command again")
        target.parent.mkdir(parents=True, exist_ok=True)
        with z.open(name) as src:
            atomic_write(target, lambda dst: shutil.copyfileobj(src, dst))


def _unpack_gtsrb(dest: Path, train_zip: str, counts: GtsrbCounts) -> Path:
    test_zip, labels_zip = dest / TEST_ZIP, dest / LABELS_ZIP

    def build_test(scratch: Path) -> Path:
        problem = gtsrb_archive.final_test_problem(test_zip, labels_zip, images=counts.test_images)
        if problem:
            raise DataError(f"{test_zip.name} with {labels_zip.name}: the pair {problem}; delete both "
                            "and run this command again")
        built = _extract(test_zip, scratch, PARTS[TEST_ZIP])
        # The labels come in a zip of their own; the test reader expects them beside the images.
        _copy_member(labels_zip, TEST_CSV, built / "Images" / TEST_CSV)
        return built

    _unpack_part(dest, PARTS[train_zip], [dest / train_zip],
                 lambda scratch: _extract(dest / train_zip, scratch, PARTS[train_zip]))
    _unpack_part(dest, PARTS[TEST_ZIP], [test_zip, labels_zip], build_test)
    return dest / "GTSRB"


def _unpack_udacity(dest: Path) -> Path:
    archive, folder = dest / UDACITY_ZIP, dest / "traffic-signs-data"
    if not _already_unpacked([archive], folder / UDACITY_PICKLES[-1]):
        _say(f"{archive.name}: extracting into {folder}")
        for name in UDACITY_PICKLES:  # file by file: the folder may hold the user's own files too
            _copy_member(archive, name, folder / name)
        _mark_unpacked([archive])
    return folder


def _remove_stale_scratch(dest: Path) -> None:
    for folder in dest.glob(UNPACK_PREFIX + "*"):
        shutil.rmtree(folder, ignore_errors=True)


def download_dataset(which: str = "gtsrb", dest="data", *, base_url: str | None = None,
                     checksums: dict[str, str | None] | None = None, counts: GtsrbCounts | None = None) -> Path:
    """Download, verify and unpack `which` into `dest`; return the folder to point the readers at.

    `checksums` (file name → MD5 or None) replaces the release's files; `counts` the numbers the
    GTSRB verifier insists on (default GTSRB_COUNTS, the real archives').
    """
    if which not in CHECKSUMS:
        raise DataError(f"unknown dataset '{which}'; choose one of: {', '.join(CHECKSUMS)}")
    files = CHECKSUMS[which] if checksums is None else checksums
    counts = counts or GTSRB_COUNTS
    base = (base_url or BASE_URLS[which]).rstrip("/") + "/"
    dest = Path(dest).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    _remove_stale_scratch(dest)
    manifest = manifest_path(dest, which)
    recorded = read_manifest(manifest)
    for name, md5 in files.items():
        check = content_check(name, counts)
        verified_by = f"published MD5 {md5.lower()}" if md5 else check.description
        try:
            sha256 = fetch_verified(base + name, dest / name, md5, check, _vouched_sha256(recorded, name, verified_by))
        except _Unreachable as e:
            missing = [n for n in files if not (dest / n).exists()]
            raise DataError(f"cannot reach {urlsplit(base).netloc} ({e}): are you offline? download "
                            f"{', '.join(missing)} from {base} on another machine and copy them into {dest}, "
                            "then run this command again")
        _record(manifest, which, recorded, name, {"url": base + name, "bytes": (dest / name).stat().st_size,
                                                  "sha256": sha256, "verified_by": verified_by})
    _say(f"SHA-256 of each archive recorded in {manifest}")
    if which == "udacity":
        return _unpack_udacity(dest)
    train_zip = next(n for n in files if n in (FULL_TRAIN_ZIP, IJCNN_TRAIN_ZIP))
    return _unpack_gtsrb(dest, train_zip, counts)
