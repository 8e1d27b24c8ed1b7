"""The GTSRB archive checks, on tiny zips with the real archives' layout (3 classes × 4 images)."""

import zipfile
from pathlib import Path

import pytest

from fixtures_data import gtsrb_test_labels, write_gtsrb_test, write_gtsrb_training, zip_bytes, zip_folder
from signclf.data import gtsrb_archive
from signclf.data.gtsrb_archive import final_test_problem, training_archive_problem

IMAGES = "GTSRB/Final_Training/Images"
TINY = {"images": 12, "classes": 3}


def training_zip(tmp_path, damage=None) -> Path:
    """GTSRB_Final_Training_Images.zip in miniature; `damage(images_folder)` spoils it before zipping."""
    scratch = tmp_path / "scratch"
    write_gtsrb_training(scratch / IMAGES, classes=3, tracks=2, frames=2)
    (scratch / "GTSRB" / "Readme-Images.txt").write_text("the real archive has one too")
    if damage:
        damage(scratch / IMAGES)
    path = tmp_path / "GTSRB_Final_Training_Images.zip"
    path.write_bytes(zip_folder(scratch / "GTSRB", scratch))
    return path


def test_the_defaults_are_the_real_archives_numbers():
    assert (gtsrb_archive.FULL_TRAINING_IMAGES, gtsrb_archive.GTSRB_CLASSES, gtsrb_archive.TEST_IMAGES) == \
        (39_209, 43, 12_630)
    assert gtsrb_archive.IJCNN_TRAINING_IMAGES == 26_640


def test_a_sound_archive_passes(tmp_path):
    assert training_archive_problem(training_zip(tmp_path), **TINY) is None


def test_the_real_counts_refuse_a_small_archive(tmp_path):
    assert training_archive_problem(training_zip(tmp_path)) == \
        f"has 3 class folders in {IMAGES}, expected 43 (missing 00003, 00004, 00005, ...)"


def test_folder_entries_are_not_counted_as_files(tmp_path):
    path = training_zip(tmp_path)
    with zipfile.ZipFile(path, "a") as z:  # as the real archives list their folders
        for folder in ("GTSRB/", "GTSRB/Final_Training/", f"{IMAGES}/", f"{IMAGES}/00000/", f"{IMAGES}/00001/"):
            z.mkdir(folder)
    assert training_archive_problem(path, **TINY) is None


def test_count_mismatch(tmp_path):
    assert training_archive_problem(training_zip(tmp_path), images=13, classes=3) == \
        f"holds 12 images in {IMAGES}, expected 13"


def test_missing_class_csv(tmp_path):
    path = training_zip(tmp_path, lambda images: (images / "00001" / "GT-00001.csv").unlink())
    assert training_archive_problem(path, **TINY) == f"has no GT-00001.csv in {IMAGES}/00001"


def test_missing_class_folder(tmp_path):
    assert training_archive_problem(training_zip(tmp_path), images=12, classes=4) == \
        f"has 3 class folders in {IMAGES}, expected 4 (missing 00003)"


def test_csv_listing_an_absent_image(tmp_path):
    path = training_zip(tmp_path, lambda images: (images / "00002" / "00001_00001.ppm").rename(
        images / "00002" / "00001_00009.ppm"))
    assert training_archive_problem(path, **TINY) == (
        f"has {IMAGES}/00002/GT-00002.csv listing 00001_00001.ppm, which the archive does not hold")


def test_csv_naming_the_wrong_class(tmp_path):
    def relabel(images):
        csv_path = images / "00000" / "GT-00000.csv"
        lines = csv_path.read_text().splitlines()
        lines[1] = lines[1][:-1] + "2"
        csv_path.write_text("\n".join(lines) + "\n")

    assert training_archive_problem(training_zip(tmp_path, relabel), **TINY) == \
        f"has {IMAGES}/00000/GT-00000.csv giving 00000_00000.ppm a ClassId other than 0"


def test_undecodable_image(tmp_path):
    path = training_zip(tmp_path, lambda images: (images / "00001" / "00000_00001.ppm").write_bytes(b"P6 not pixels"))
    assert training_archive_problem(path, **TINY) == \
        f"has {IMAGES}/00001/00000_00001.ppm, which does not decode as an image"


def test_image_claiming_gigapixels_is_refused_before_decoding(tmp_path):
    path = training_zip(tmp_path, lambda images: (images / "00001" / "00000_00001.ppm").write_bytes(
        b"P6\n100000 100000\n255\n" + bytes(30)))
    assert training_archive_problem(path, **TINY) == \
        f"has {IMAGES}/00001/00000_00001.ppm, which claims 100000×100000 pixels, more than a sign photo has"


def test_member_failing_its_crc(tmp_path):
    path = training_zip(tmp_path)
    member = f"{IMAGES}/00002/00001_00000.ppm"
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    data = bytearray(path.read_bytes())
    data[info.header_offset + 30 + len(member.encode()) + len(info.extra) + info.file_size // 2] ^= 0xFF  # stored
    path.write_bytes(bytes(data))
    problem = training_archive_problem(path, **TINY)
    assert problem.startswith(f"is corrupt ({member} fails to decompress or its CRC check")


def test_not_a_zip(tmp_path):
    path = tmp_path / "GTSRB_Final_Training_Images.zip"
    path.write_bytes(b"<html>mirror error page</html>")
    assert training_archive_problem(path, **TINY) == "is not a readable zip (File is not a zip file)"


def test_file_outside_the_class_folders(tmp_path):
    path = training_zip(tmp_path, lambda images: (images / "stray.ppm").write_bytes(b"x"))
    assert training_archive_problem(path, **TINY) == f"has {IMAGES}/stray.ppm, which is not in a 000NN class folder"


def test_images_and_labels(tmp_path):
    scratch = tmp_path / "scratch"
    folder = write_gtsrb_test(scratch / "GTSRB" / "Final_Test" / "Images", count=4, classes=2, labelled=False)
    images = tmp_path / "GTSRB_Final_Test_Images.zip"
    images.write_bytes(zip_folder(folder, scratch))
    labels = tmp_path / "GTSRB_Final_Test_GT.zip"
    labels.write_bytes(zip_bytes({"GT-final_test.csv": gtsrb_test_labels(4, 2).encode()}))
    assert final_test_problem(images, labels, images=4) is None
    assert final_test_problem(images, labels) == \
        "holds 4 test images in GTSRB/Final_Test/Images, expected 12,630"
    labels.write_bytes(zip_bytes({"GT-final_test.csv": gtsrb_test_labels(3, 2).encode()}))
    assert final_test_problem(images, labels, images=4) == \
        "has 00003.ppm beside GT-final_test.csv but not listed in it"
    labels.write_bytes(zip_bytes({"readme.txt": b"no labels here"}))
    assert final_test_problem(images, labels, images=4) == "has no GT-final_test.csv"


@pytest.mark.parametrize("header", ["Filename;Width;Height", "Name;ClassId"])
def test_csv_without_the_needed_columns(tmp_path, header):
    path = training_zip(tmp_path, lambda images: (images / "00000" / "GT-00000.csv").write_text(header + "\n"))
    assert training_archive_problem(path, **TINY) == \
        f"has {IMAGES}/00000/GT-00000.csv without the Filename and ClassId columns"
