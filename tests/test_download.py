"""`signclf data download` against a local HTTP server (127.0.0.1 only) serving tiny archives."""

import hashlib
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from click.testing import CliRunner

from fixtures_data import isolated_cache, official_gtsrb_archives, zip_bytes  # noqa: F401
from signclf.cli_data import data_group
from signclf.data.download import download_dataset
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


@pytest.fixture
def gtsrb(server, tmp_path):
    """The server holding tiny official-layout GTSRB zips; returns (server, their checksums)."""
    server.files = official_gtsrb_archives(tmp_path / "scratch")
    return server, {name: md5(data) for name, data in server.files.items()}


def test_download_verifies_unpacks_and_the_readers_read_it(gtsrb, tmp_path, capsys):
    server, checksums = gtsrb
    root = download_dataset("gtsrb", tmp_path / "data", base_url=server.url, checksums=checksums)
    assert root == tmp_path / "data" / "GTSRB"
    train = load_dataset(root, split="train")
    assert len(train) == 8 and len(np.unique(train.track_ids)) == 4
    test = load_dataset(root, split="test")
    assert test.labels.tolist() == [0, 1, 0, 1]
    assert not list((tmp_path / "data").glob("*.part"))
    # Run again: everything verified is skipped, nothing is fetched.
    server.requests.clear()
    capsys.readouterr()
    download_dataset("gtsrb", tmp_path / "data", base_url=server.url, checksums=checksums)
    assert server.requests == []
    assert capsys.readouterr().err.count("already downloaded and verified") == 3


def test_wrong_checksum_keeps_the_old_file_and_sets_the_bad_download_aside(gtsrb, tmp_path):
    server, checksums = gtsrb
    dest = tmp_path / "data"
    dest.mkdir()
    previous = dest / "GTSRB_Final_Test_GT.zip"
    previous.write_bytes(b"an older copy")
    checksums["GTSRB_Final_Test_GT.zip"] = "0" * 32
    with pytest.raises(DataError) as e:
        download_dataset("gtsrb", dest, base_url=server.url, checksums=checksums)
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
    download_dataset("gtsrb", dest, base_url=server.url, checksums=checksums)
    assert ("GTSRB-Training_fixed.zip", f"bytes={half}-") in server.requests
    assert (dest / "GTSRB-Training_fixed.zip").read_bytes() == data


def test_interrupted_transfer_is_resumed_on_the_next_run(gtsrb, tmp_path):
    server, checksums = gtsrb
    dest = tmp_path / "data"
    data = server.files["GTSRB_Final_Test_Images.zip"]
    server.cut_after["GTSRB_Final_Test_Images.zip"] = 100
    with pytest.raises(DataError, match=r"closed after 100 of \d+ bytes; run the command again to resume"):
        download_dataset("gtsrb", dest, base_url=server.url, checksums=checksums)
    assert (dest / "GTSRB_Final_Test_Images.zip.part").stat().st_size == 100
    download_dataset("gtsrb", dest, base_url=server.url, checksums=checksums)
    assert ("GTSRB_Final_Test_Images.zip", "bytes=100-") in server.requests
    assert (dest / "GTSRB_Final_Test_Images.zip").read_bytes() == data


def test_server_ignoring_range_means_starting_over(gtsrb, tmp_path, capsys):
    server, checksums = gtsrb
    server.ignore_range = True
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "GTSRB_Final_Test_GT.zip.part").write_bytes(b"stale bytes from another file")
    download_dataset("gtsrb", dest, base_url=server.url, checksums=checksums)
    assert (dest / "GTSRB_Final_Test_GT.zip").read_bytes() == server.files["GTSRB_Final_Test_GT.zip"]
    assert "ignored the resume request" in capsys.readouterr().err


def test_resumed_download_that_fails_verification_is_fetched_afresh(gtsrb, tmp_path):
    server, checksums = gtsrb
    dest = tmp_path / "data"
    dest.mkdir()
    data = server.files["GTSRB_Final_Test_GT.zip"]
    (dest / "GTSRB_Final_Test_GT.zip.part").write_bytes(b"x" * (len(data) // 2))  # damaged prefix
    download_dataset("gtsrb", dest, base_url=server.url, checksums=checksums)
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
    assert "are you offline? download GTSRB-Training_fixed.zip, GTSRB_Final_Test_Images.zip" in message
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
