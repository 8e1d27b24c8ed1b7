"""Fetch GTSRB (or the Udacity pickles): resumable, verified, and unpacked where the readers look.

A download goes to `X.part` and becomes `X` only once it verifies, so an interrupted or corrupt
transfer never replaces a good copy; the next run resumes the .part with an HTTP Range request.
Only urllib: no extra dependency for something run once per machine.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from signclf.atomic import atomic_write
from signclf.data.gtsrb import TEST_CSV
from signclf.errors import DataError

BASE_URLS = {
    "gtsrb": "https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/",
    "udacity": "https://s3-us-west-1.amazonaws.com/udacity-selfdrivingcar/",
}
TRAIN_ZIP, TEST_ZIP, LABELS_ZIP = "GTSRB-Training_fixed.zip", "GTSRB_Final_Test_Images.zip", "GTSRB_Final_Test_GT.zip"
UDACITY_ZIP = "traffic-signs-data.zip"
# File name → published MD5, None where nobody published one. Pass `checksums=` to use others.
# GTSRB-Training_fixed.zip is the IJCNN 2011 training set (26,640 images, as torchvision uses); the
# full 39,209-image GTSRB_Final_Training_Images.zip has no published MD5 here, but reads the same.
CHECKSUMS = {
    "gtsrb": {
        TRAIN_ZIP: "513f3c79a4c5141765e10e952eaa2478",
        TEST_ZIP: "c7e4e6327067d32654124b0fe9e82185",
        LABELS_ZIP: "fe31e9c9270bbcd7b84b7f21a9d9d9e5",
    },
    "udacity": {UDACITY_ZIP: None},
}
UDACITY_PICKLES = ("train.p", "valid.p", "test.p")
# What an archive must hold; the only check there is for one without a published MD5.
REQUIRED_MEMBERS = {UDACITY_ZIP: UDACITY_PICKLES}
READ_BLOCK_BYTES = 1 << 20  # per read() while hashing or downloading
TIMEOUT_S = 60


def _say(message: str) -> None:
    print(message, file=sys.stderr)


class _Unreachable(Exception):
    """The server could not be contacted at all (as opposed to answering badly)."""


# ---- verification ------------------------------------------------------------------------------

def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(READ_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _zip_problem(path: Path, required=()) -> str | None:
    """Why `path` is not a sound zip holding `required` (by base name), or None."""
    try:
        with zipfile.ZipFile(path) as z:
            broken = z.testzip()
            names = {PurePosixPath(n).name for n in z.namelist()}
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        return f"is not a readable zip ({e})"
    if broken:
        return f"is corrupt ({broken} fails its CRC check)"
    missing = [r for r in required if r not in names]
    return f"lacks {', '.join(missing)}" if missing else None


def _problem(path: Path, md5: str | None, required=()) -> str | None:
    """Why the file at `path` is not the expected archive, or None when it verifies."""
    if md5 is not None:
        actual = _md5(path)
        return None if actual == md5.lower() else f"has MD5 {actual}, expected {md5.lower()}"
    # No published checksum: the zip's own CRCs and expected contents are the best evidence left.
    return _zip_problem(path, required)


# ---- transfer ----------------------------------------------------------------------------------

def _transfer(url: str, part: Path) -> bool:
    """Download `url` into `part`, continuing an existing partial file; True when it resumed."""
    from tqdm import tqdm

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
                    tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                         desc=part.name[: -len(".part")], disable=None) as bar:
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


def fetch_verified(url: str, target: Path, md5: str | None) -> None:
    """Make `target` a verified copy of `url`, downloading only what is missing.

    An existing `target` that verifies is kept as is; one that does not stays in place until a
    verified replacement arrives. A download that fails verification is renamed `X.bad`.
    """
    required = REQUIRED_MEMBERS.get(target.name, ())
    if target.exists():
        problem = _problem(target, md5, required)
        if problem is None:
            _say(f"{target.name}: already downloaded and verified, skipping")
            return
        _say(f"{target.name}: the existing copy {problem}; downloading it again (kept until a good copy arrives)")
    if md5 is None:
        _say(f"{target.name}: no published MD5; checking the zip's CRCs and contents instead")
    part = target.with_name(target.name + ".part")
    resumed = _transfer(url, part)
    problem = _problem(part, md5, required)
    if problem and resumed:  # the old partial bytes may be stale or damaged: one fresh try
        _say(f"{target.name}: the resumed download {problem}; downloading it afresh")
        part.unlink()
        _transfer(url, part)
        problem = _problem(part, md5, required)
    if problem:
        bad = target.with_name(target.name + ".bad")
        os.replace(part, bad)
        kept = f"; the existing {target.name} is untouched" if target.exists() else ""
        raise DataError(f"{url}: the download {problem}; moved it to {bad}{kept}; "
                        "try again later or use another mirror with --base-url")
    os.replace(part, target)
    _say(f"{target.name}: downloaded and verified")


# ---- extraction --------------------------------------------------------------------------------

def _unpack_once(archive: Path, output: Path, unpack) -> None:
    """Run `unpack()` unless this same archive was already unpacked and `output` is still there."""
    marker = archive.with_name(archive.name + ".extracted")
    stamp = f"{archive.stat().st_size} {archive.stat().st_mtime_ns}"
    if output.exists() and marker.exists() and marker.read_text() == stamp:
        return
    _say(f"{archive.name}: extracting into {archive.parent}")
    unpack()
    marker.write_text(stamp)  # written last: an interrupted extraction is redone next time


def _extract_all(archive: Path, into: Path) -> None:
    with zipfile.ZipFile(archive) as z:
        z.extractall(into)  # zipfile strips absolute paths and '..' from member names


def _copy_member(archive: Path, base_name: str, target: Path) -> None:
    """Copy the member called `base_name` (in any folder of the zip) to `target`, atomically."""
    with zipfile.ZipFile(archive) as z:
        name = next((n for n in z.namelist() if PurePosixPath(n).name == base_name), None)
        if name is None:
            raise DataError(f"{archive}: has no {base_name}; delete it and download again")
        target.parent.mkdir(parents=True, exist_ok=True)
        with z.open(name) as src:
            atomic_write(target, lambda dst: shutil.copyfileobj(src, dst))


def _unpack_gtsrb(dest: Path) -> Path:
    root = dest / "GTSRB"
    test_images = root / "Final_Test" / "Images"
    train_zip, test_zip, labels_zip = dest / TRAIN_ZIP, dest / TEST_ZIP, dest / LABELS_ZIP
    _unpack_once(train_zip, root / "Training", lambda: _extract_all(train_zip, dest))
    _unpack_once(test_zip, test_images, lambda: _extract_all(test_zip, dest))
    if not test_images.is_dir():
        raise DataError(f"{test_zip}: did not unpack to {test_images}; delete it and download again")
    # The test labels come in a zip of their own; the test reader expects them beside the images.
    _unpack_once(labels_zip, test_images / TEST_CSV,
                 lambda: _copy_member(labels_zip, TEST_CSV, test_images / TEST_CSV))
    return root


def _unpack_udacity(dest: Path) -> Path:
    archive, folder = dest / UDACITY_ZIP, dest / "traffic-signs-data"

    def unpack():
        for name in UDACITY_PICKLES:
            _copy_member(archive, name, folder / name)

    _unpack_once(archive, folder / UDACITY_PICKLES[-1], unpack)
    return folder


UNPACK = {"gtsrb": _unpack_gtsrb, "udacity": _unpack_udacity}


def download_dataset(which: str = "gtsrb", dest="data", *, base_url: str | None = None,
                     checksums: dict[str, str | None] | None = None) -> Path:
    """Download, verify and unpack `which` into `dest`; return the folder to point the readers at."""
    if which not in CHECKSUMS:
        raise DataError(f"unknown dataset '{which}'; choose one of: {', '.join(CHECKSUMS)}")
    files = CHECKSUMS[which] if checksums is None else checksums
    base = (base_url or BASE_URLS[which]).rstrip("/") + "/"
    dest = Path(dest).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    for name, md5 in files.items():
        try:
            fetch_verified(base + name, dest / name, md5)
        except _Unreachable as e:
            missing = [n for n in files if not (dest / n).exists()]
            raise DataError(f"cannot reach {urlsplit(base).netloc} ({e}): are you offline? download "
                            f"{', '.join(missing)} from {base} on another machine and copy them into {dest}, "
                            "then run this command again")
    return UNPACK[which](dest)
