"""`signclf data download` against a local HTTP server (127.0.0.1 only) serving tiny archives."""

import hashlib
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from click.testing import CliRunner

from fixtures_data import (  # noqa: F401
    gtsrb_test_labels,
    isolated_cache,
    official_gtsrb_archives,
    write_gtsrb_test,
    write_gtsrb_training,
    zip_bytes,
    zip_folder,
)
from signclf.cli_data import data_group
from signclf.data import download
from signclf.data.download import CHECKSUMS, GtsrbCounts, download_dataset
from signclf.data.readers import load_dataset
from signclf.errors import DataError


class RangeHandler(BaseHTTPRequestHandler):
    """Serves `server.files` by name, honouring `Range: bytes=N-` unless `server.ignore_range`.

    `server.cut_after[name] = n` sends the full Content-Length but hangs up after n bytes, once.
    """

    def do_GET(self):
        srv = self.server
        name = self.path.rsplit("/", 1)[-1]
        srv.requests.append((name, self.headers.get("Range")))
        data = srv.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start, status = 0, 200
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not srv.ignore_range:
            start, status = int(match.group(1)), 206
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
        body = data[start:]
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = srv.cut_after.pop(name, None)
        self.wfile.write(body if cut is None else body[:cut])

    def log_message(self, *args):
        pass  # keep test output clean


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.files, httpd.requests, httpd.ignore_range, httpd.cut_after = {}, [], False, {}
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/archives/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


TINY = GtsrbCounts(training_images=12, classes=3, test_images=4)  # what the tiny archives below hold
FULL_ZIP, TEST_ZIP, LABELS_ZIP = "GTSRB_Final_Training_Images.zip", "GTSRB_Final_Test_Images.zip", \
    "GTSRB_Final_Test_GT.zip"


def full_gtsrb_archives(scratch, damage=None) -> dict[str, bytes]:
    """The three default archives in miniature (3 classes × 4 images, 4 test images), real layouts.

    `damage(images_folder)` spoils the training images before they are zipped.
    """
    images = write_gtsrb_training(scratch / "GTSRB" / "Final_Training" / "Images", classes=3, tracks=2, frames=2)
    if damage:
        damage(images)
    test_folder = write_gtsrb_test(scratch / "GTSRB" / "Final_Test" / "Images", count=4, classes=3, labelled=False)
    return {FULL_ZIP: zip_folder(scratch / "GTSRB" / "Final_Training", scratch),
            TEST_ZIP: zip_folder(test_folder, scratch),
            LABELS_ZIP: zip_bytes({"GT-final_test.csv": gtsrb_test_labels(4, 3).encode()})}


def published(files: dict[str, bytes]) -> dict[str, str | None]:
    """Checksums as the release has them: none for the full training archive, MD5s for the rest."""
    return {name: None if name == FULL_ZIP else md5(data) for name, data in files.items()}


@pytest.fixture
def full(server, tmp_path):
    server.files = full_gtsrb_archives(tmp_path / "scratch")
    return server


@pytest.fixture
def gtsrb(server, tmp_path):
    """The server holding tiny IJCNN-release GTSRB zips; returns (server, their checksums)."""
    server.files = official_gtsrb_archives(tmp_path / "scratch")
    return server, {name: md5(data) for name, data in server.files.items()}


def ijcnn(dest, server, checksums):
    return download_dataset("gtsrb-ijcnn", dest, base_url=server.url, checksums=checksums,
                            counts=GtsrbCounts(test_images=4))


def unpacked(dest) -> list[str]:
    """What the readers could find in `dest`, and any temp folder left behind."""
    parts = ("Final_Training", "Final_Test")
    return sorted(str(p.relative_to(dest)) for p in dest.glob("**/*")
                  if p.is_dir() and (p.name.startswith(".signclf-unpack") or p.name in parts))


def test_the_default_is_the_full_training_set_without_a_published_md5():
    assert CHECKSUMS["gtsrb"] == {FULL_ZIP: None, TEST_ZIP: "c7e4e6327067d32654124b0fe9e82185",
                                  LABELS_ZIP: "fe31e9c9270bbcd7b84b7f21a9d9d9e5"}
    assert CHECKSUMS["gtsrb-ijcnn"]["GTSRB-Training_fixed.zip"] == "513f3c79a4c5141765e10e952eaa2478"
    assert download.GTSRB_COUNTS == (39_209, 43, 12_630)


def test_full_training_set_unpacks_reads_and_records_its_sha256(full, tmp_path, capsys, monkeypatch):
    dest = tmp_path / "data"
    root = download_dataset("gtsrb", dest, base_url=full.url, checksums=published(full.files), counts=TINY)
    assert root == dest / "GTSRB"
    train, test = load_dataset(root, split="train"), load_dataset(root, split="test")
    assert (len(train), len(np.unique(train.labels)), len(np.unique(train.track_ids))) == (12, 3, 6)
    assert test.labels.tolist() == [0, 1, 2, 0]
    sha256 = hashlib.sha256(full.files[FULL_ZIP]).hexdigest()
    manifest = json.loads((dest / "gtsrb.manifest.json").read_text())
    assert manifest["dataset"] == "gtsrb"
    assert manifest["files"][FULL_ZIP] == {
        "url": full.url + FULL_ZIP, "bytes": len(full.files[FULL_ZIP]), "sha256": sha256,
        "verified_by": "zip CRCs; 12 images in 3 class folders, each with a GT-000NN.csv listing exactly its "
                       "images; every image decodes"}
    assert manifest["files"][TEST_ZIP]["sha256"] == hashlib.sha256(full.files[TEST_ZIP]).hexdigest()
    assert manifest["files"][TEST_ZIP]["verified_by"] == f"published MD5 {md5(full.files[TEST_ZIP])}"
    err = capsys.readouterr().err
    assert f"{FULL_ZIP}: downloaded and verified (SHA-256 {sha256})" in err
    assert unpacked(dest) == ["GTSRB/Final_Test", "GTSRB/Final_Training"]
    # Run again: nothing is fetched, and the training archive, whose SHA-256 the manifest vouches
    # for, is not checked image by image again.
    monkeypatch.setattr(download.gtsrb_archive, "training_archive_problem", lambda *a, **k: pytest.fail("rechecked"))
    full.requests.clear()
    download_dataset("gtsrb", dest, base_url=full.url, checksums=published(full.files), counts=TINY)
    assert full.requests == []
    assert capsys.readouterr().err.count("already downloaded and verified") == 3


@pytest.mark.parametrize("damage, problem", [
    (lambda images: (images / "00001" / "GT-00001.csv").unlink(),
     "has no GT-00001.csv in GTSRB/Final_Training/Images/00001"),
    (lambda images: (images / "00002" / "00001_00001.ppm").unlink(),
     "holds 11 images in GTSRB/Final_Training/Images, expected 12"),
    (lambda images: (images / "00000" / "00000_00001.ppm").write_bytes(b"P6\n40 36\n255\n"),
     "has GTSRB/Final_Training/Images/00000/00000_00001.ppm, which does not decode as an image"),
], ids=["missing class CSV", "count mismatch", "undecodable image"])
def test_a_wrong_training_archive_is_refused_in_one_line_and_nothing_is_unpacked(server, tmp_path, damage, problem):
    server.files = full_gtsrb_archives(tmp_path / "scratch", damage)
    dest = tmp_path / "data"
    with pytest.raises(DataError) as e:
        download_dataset("gtsrb", dest, base_url=server.url, checksums=published(server.files), counts=TINY)
    assert str(e.value) == (f"{server.url}{FULL_ZIP}: the download {problem}; moved it to {dest / FULL_ZIP}.bad; "
                            "try again later or use another mirror with --base-url")
    assert (dest / f"{FULL_ZIP}.bad").read_bytes() == server.files[FULL_ZIP]
    assert unpacked(dest) == [] and not (dest / FULL_ZIP).exists()


def test_a_training_archive_with_a_corrupt_member_is_refused(server, tmp_path):
    server.files = full_gtsrb_archives(tmp_path / "scratch")
    member = "GTSRB/Final_Training/Images/00001/00001_00000.ppm"
    data = bytearray(server.files[FULL_ZIP])
    at = data.index(member.encode()) + len(member) + 100  # inside the (stored) image bytes
    data[at] ^= 0xFF
    checksums = published(server.files)
    server.files[FULL_ZIP] = bytes(data)
    dest = tmp_path / "data"
    with pytest.raises(DataError) as e:
        download_dataset("gtsrb", dest, base_url=server.url, checksums=checksums, counts=TINY)
    assert f"the download is corrupt ({member} fails to decompress or its CRC check" in str(e.value)
    assert "\n" not in str(e.value)
    assert unpacked(dest) == [] and (dest / f"{FULL_ZIP}.bad").exists()


def test_an_interrupted_download_says_so_and_unpacks_nothing_until_complete(full, tmp_path):
    dest = tmp_path / "data"
    full.cut_after[FULL_ZIP] = 100
    with pytest.raises(DataError) as e:
        download_dataset("gtsrb", dest, base_url=full.url, checksums=published(full.files), counts=TINY)
    assert str(e.value) == (f"{full.url}{FULL_ZIP}: the connection closed after 100 of {len(full.files[FULL_ZIP])} "
                            f"bytes; run the command again to resume {dest / FULL_ZIP}.part")
    assert unpacked(dest) == [] and (dest / f"{FULL_ZIP}.part").stat().st_size == 100
    download_dataset("gtsrb", dest, base_url=full.url, checksums=published(full.files), counts=TINY)
    assert (FULL_ZIP, "bytes=100-") in full.requests
    assert len(load_dataset(dest / "GTSRB", split="train")) == 12


def test_a_failure_while_unpacking_leaves_no_half_part(full, tmp_path, monkeypatch):
    dest = tmp_path / "data"

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(download, "_copy_member", disk_full)  # the test part fails after its images are out
    with pytest.raises(DataError) as e:
        download_dataset("gtsrb", dest, base_url=full.url, checksums=published(full.files), counts=TINY)
    assert str(e.value) == (f"{dest / TEST_ZIP}: cannot unpack into {dest} ([Errno 28] No space left on device); "
                            f"free some space, or delete {TEST_ZIP} and run this command again")
    assert unpacked(dest) == ["GTSRB/Final_Training"]  # complete; the test part is absent, not half there
    monkeypatch.undo()
    download_dataset("gtsrb", dest, base_url=full.url, checksums=published(full.files), counts=TINY)
    assert len(load_dataset(dest / "GTSRB", split="test")) == 4


def test_a_killed_runs_temp_folder_is_removed_and_an_old_part_replaced_whole(full, tmp_path):
    dest = tmp_path / "data"
    leftover = dest / ".signclf-unpack-abc123" / "GTSRB" / "Final_Training"
    leftover.mkdir(parents=True)
    old_part = dest / "GTSRB" / "Final_Training" / "Images" / "00007"
    old_part.mkdir(parents=True)  # say, from a copy unpacked by hand
    download_dataset("gtsrb", dest, base_url=full.url, checksums=published(full.files), counts=TINY)
    assert unpacked(dest) == ["GTSRB/Final_Test", "GTSRB/Final_Training"]
    assert sorted(p.name for p in (dest / "GTSRB" / "Final_Training" / "Images").iterdir() if p.is_dir()) == \
        ["00000", "00001", "00002"]


def test_test_archives_that_do_not_match_are_refused_before_unpacking(full, tmp_path):
    full.files[LABELS_ZIP] = zip_bytes({"GT-final_test.csv": gtsrb_test_labels(3, 3).encode()})
    dest = tmp_path / "data"
    with pytest.raises(DataError) as e:
        download_dataset("gtsrb", dest, base_url=full.url, checksums=published(full.files), counts=TINY)
    assert str(e.value) == (f"{TEST_ZIP} with {LABELS_ZIP}: the pair has 00003.ppm beside GT-final_test.csv "
                            "but not listed in it; delete both and run this command again")
    assert unpacked(dest) == ["GTSRB/Final_Training"]


def test_the_ijcnn_release_is_still_available(gtsrb, tmp_path):
    server, checksums = gtsrb
    dest = tmp_path / "data"
    root = ijcnn(dest, server, checksums)
    assert root == dest / "GTSRB" and (root / "Training").is_dir()
    assert len(load_dataset(root / "Training", split="train")) == 8
    manifest = json.loads((dest / "gtsrb-ijcnn.manifest.json").read_text())
    assert manifest["files"]["GTSRB-Training_fixed.zip"]["verified_by"] == \
        f"published MD5 {checksums['GTSRB-Training_fixed.zip']}"


def test_wrong_checksum_keeps_the_old_file_and_sets_the_bad_download_aside(gtsrb, tmp_path):
    server, checksums = gtsrb
    dest = tmp_path / "data"
    dest.mkdir()
    previous = dest / "GTSRB_Final_Test_GT.zip"
    previous.write_bytes(b"an older copy")
    checksums["GTSRB_Final_Test_GT.zip"] = "0" * 32
    with pytest.raises(DataError) as e:
        ijcnn(dest, server, checksums)
    message = str(e.value)
    assert "\n" not in message
    assert f"has MD5 {md5(server.files['GTSRB_Final_Test_GT.zip'])}, expected {'0' * 32}" in message
    assert "GTSRB_Final_Test_GT.zip.bad" in message and "existing GTSRB_Final_Test_GT.zip is untouched" in message
    assert previous.read_bytes() == b"an older copy"
    assert (dest / "GTSRB_Final_Test_GT.zip.bad").read_bytes() == server.files["GTSRB_Final_Test_GT.zip"]
    assert not (dest / "GTSRB_Final_Test_GT.zip.part").exists()


def test_partial_file_is_resumed_with_a_range_request(gtsrb, tmp_path):
    server, checksums = gtsrb
    dest = tmp_path / "data"
    dest.mkdir()
    data = server.files["GTSRB-Training_fixed.zip"]
    half = len(data) // 2
    (dest / "GTSRB-Training_fixed.zip.part").write_bytes(data[:half])
    ijcnn(dest, server, checksums)
    assert ("GTSRB-Training_fixed.zip", f"bytes={half}-") in server.requests
    assert (dest / "GTSRB-Training_fixed.zip").read_bytes() == data


def test_interrupted_transfer_is_resumed_on_the_next_run(gtsrb, tmp_path):
    server, checksums = gtsrb
    dest = tmp_path / "data"
    data = server.files["GTSRB_Final_Test_Images.zip"]
    server.cut_after["GTSRB_Final_Test_Images.zip"] = 100
    with pytest.raises(DataError, match=r"closed after 100 of \d+ bytes; run the command again to resume"):
        ijcnn(dest, server, checksums)
    assert (dest / "GTSRB_Final_Test_Images.zip.part").stat().st_size == 100
    ijcnn(dest, server, checksums)
    assert ("GTSRB_Final_Test_Images.zip", "bytes=100-") in server.requests
    assert (dest / "GTSRB_Final_Test_Images.zip").read_bytes() == data


def test_server_ignoring_range_means_starting_over(gtsrb, tmp_path, capsys):
    server, checksums = gtsrb
    server.ignore_range = True
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "GTSRB_Final_Test_GT.zip.part").write_bytes(b"stale bytes from another file")
    ijcnn(dest, server, checksums)
    assert (dest / "GTSRB_Final_Test_GT.zip").read_bytes() == server.files["GTSRB_Final_Test_GT.zip"]
    assert "ignored the resume request" in capsys.readouterr().err


def test_resumed_download_that_fails_verification_is_fetched_afresh(gtsrb, tmp_path):
    server, checksums = gtsrb
    dest = tmp_path / "data"
    dest.mkdir()
    data = server.files["GTSRB_Final_Test_GT.zip"]
    (dest / "GTSRB_Final_Test_GT.zip.part").write_bytes(b"x" * (len(data) // 2))  # damaged prefix
    ijcnn(dest, server, checksums)
    gt_requests = [r for r in server.requests if r[0] == "GTSRB_Final_Test_GT.zip"]
    assert gt_requests == [("GTSRB_Final_Test_GT.zip", f"bytes={len(data) // 2}-"), ("GTSRB_Final_Test_GT.zip", None)]
    assert (dest / "GTSRB_Final_Test_GT.zip").read_bytes() == data


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_gives_one_clear_line(tmp_path):
    port = _closed_port()
    with pytest.raises(DataError) as e:
        download_dataset("gtsrb", tmp_path / "data", base_url=f"http://127.0.0.1:{port}/")
    message = str(e.value)
    assert message.startswith(f"cannot reach 127.0.0.1:{port}")
    assert f"are you offline? download {FULL_ZIP}, {TEST_ZIP}, {LABELS_ZIP} from http://127.0.0.1:{port}/" in message
    assert f"copy them into {tmp_path / 'data'}" in message and "\n" not in message


def test_missing_file_on_server(server, tmp_path):
    with pytest.raises(DataError, match="answered 404"):
        download_dataset("gtsrb", tmp_path, base_url=server.url, checksums={"GTSRB-Training_fixed.zip": "0" * 32})


def test_udacity_has_no_checksum_so_its_contents_are_checked(server, tmp_path, capsys):
    pickles = {"train.p": b"t", "valid.p": b"v", "test.p": b"x"}
    server.files["traffic-signs-data.zip"] = zip_bytes({f"traffic-signs-data/{k}": v for k, v in pickles.items()})
    folder = download_dataset("udacity", tmp_path / "data", base_url=server.url)
    assert sorted(p.name for p in folder.iterdir()) == ["test.p", "train.p", "valid.p"]
    assert (folder / "valid.p").read_bytes() == b"v"
    assert "no published MD5" in capsys.readouterr().err


def test_udacity_archive_without_the_pickles_is_rejected(server, tmp_path):
    server.files["traffic-signs-data.zip"] = zip_bytes({"train.p": b"t"})
    with pytest.raises(DataError, match="lacks valid.p, test.p"):
        download_dataset("udacity", tmp_path, base_url=server.url)
    assert (tmp_path / "traffic-signs-data.zip.bad").exists()


def test_cli_download_offline_exits_with_one_line(tmp_path):
    result = CliRunner().invoke(data_group, ["download", "--dest", str(tmp_path),
                                             "--base-url", f"http://127.0.0.1:{_closed_port()}/"])
    assert result.exit_code == 1
    assert "error: cannot reach 127.0.0.1" in result.output and "Traceback" not in result.output


@pytest.fixture
def tiny_defaults(full, monkeypatch):
    """Make the CLI's defaults (real MD5s and counts) those of the tiny archives on the loopback server."""
    monkeypatch.setitem(download.CHECKSUMS, "gtsrb", published(full.files))
    monkeypatch.setattr(download, "GTSRB_COUNTS", TINY)
    return full


def test_cli_download_prints_the_sha256_and_how_to_use_it(tiny_defaults, tmp_path):
    dest = tmp_path / "data"
    result = CliRunner().invoke(data_group, ["download", "--dest", str(dest), "--base-url", tiny_defaults.url])
    assert result.exit_code == 0, result.output
    root = dest / "GTSRB"
    assert result.stdout == f"ready: {root}\nuse it with --set data.train={root} --set data.test={root}\n"
    sha256 = hashlib.sha256(tiny_defaults.files[FULL_ZIP]).hexdigest()
    assert f"{FULL_ZIP}: downloaded and verified (SHA-256 {sha256})" in result.stderr
    assert f"SHA-256 of each archive recorded in {dest / 'gtsrb.manifest.json'}" in result.stderr


def test_cli_download_of_a_wrong_archive_is_one_error_line(tiny_defaults, tmp_path):
    tiny_defaults.files = full_gtsrb_archives(tmp_path / "other",
                                              lambda images: (images / "00000" / "GT-00000.csv").unlink())
    result = CliRunner().invoke(data_group, ["download", "--dest", str(tmp_path / "data"),
                                             "--base-url", tiny_defaults.url])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {tiny_defaults.url}{FULL_ZIP}: the download has no GT-00000.csv in "
                      f"GTSRB/Final_Training/Images/00000; moved it to {tmp_path / 'data' / FULL_ZIP}.bad; "
                      "try again later or use another mirror with --base-url"]
    assert result.stderr.endswith(errors[0] + "\n")


def test_cli_ijcnn_points_the_training_split_at_its_own_folder(gtsrb, tmp_path, monkeypatch):
    server, checksums = gtsrb
    monkeypatch.setitem(download.CHECKSUMS, "gtsrb-ijcnn", checksums)
    monkeypatch.setattr(download, "GTSRB_COUNTS", GtsrbCounts(test_images=4))
    dest = tmp_path / "data"
    result = CliRunner().invoke(data_group, ["download", "--which", "gtsrb-ijcnn", "--dest", str(dest),
                                             "--base-url", server.url])
    assert result.exit_code == 0, result.output
    root = dest / "GTSRB"
    assert f"use it with --set data.train={root / 'Training'} --set data.test={root}" in result.stdout


def test_cli_choices_are_the_downloads_there_are():
    from signclf.cli_data import DOWNLOADS

    assert DOWNLOADS == list(CHECKSUMS)


def test_cli_help_says_which_archive_is_which_and_why_no_md5():
    text = " ".join(CliRunner().invoke(data_group, ["download", "--help"]).output.split())
    for words in ("GTSRB_Final_Training_Images.zip", "39,209 images", "12,630 test images",
                  "GTSRB-Training_fixed.zip", "26,640 images", "gtsrb-ijcnn",
                  "Nobody publishes an MD5 for GTSRB_Final_Training_Images.zip, so it is verified by its zip CRCs",
                  "DEST/<which>.manifest.json"):
        assert words in text, words


def test_an_unreadable_manifest_is_rewritten(full, tmp_path):
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "gtsrb.manifest.json").write_text("{not json")
    download_dataset("gtsrb", dest, base_url=full.url, checksums=published(full.files), counts=TINY)
    files = json.loads((dest / "gtsrb.manifest.json").read_text())["files"]
    assert sorted(files) == sorted([FULL_ZIP, TEST_ZIP, LABELS_ZIP])


def test_the_manifest_vouches_only_for_the_same_bytes_checked_the_same_way(full, tmp_path, monkeypatch):
    dest = tmp_path / "data"
    download_dataset("gtsrb", dest, base_url=full.url, checksums=published(full.files), counts=TINY)
    checked = []
    real_check = download.gtsrb_archive.training_archive_problem
    monkeypatch.setattr(download.gtsrb_archive, "training_archive_problem",
                        lambda path, **counts: checked.append(counts) or real_check(path, **counts))
    manifest = dest / "gtsrb.manifest.json"
    entry = json.loads(manifest.read_text())["files"][FULL_ZIP]
    download_dataset("gtsrb", dest, base_url=full.url, checksums=published(full.files), counts=TINY)
    assert checked == []
    manifest.write_text(json.dumps({"files": {FULL_ZIP: {**entry, "sha256": "0" * 64}}}))
    download_dataset("gtsrb", dest, base_url=full.url, checksums=published(full.files), counts=TINY)
    assert checked == [{"images": 12, "classes": 3}]
    manifest.write_text(json.dumps({"files": {FULL_ZIP: {**entry, "verified_by": "something weaker"}}}))
    download_dataset("gtsrb", dest, base_url=full.url, checksums=published(full.files), counts=TINY)
    assert len(checked) == 2 and json.loads(manifest.read_text())["files"][FULL_ZIP] == entry
