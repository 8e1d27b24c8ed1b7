import pytest

from signclf.text import cut_end, cut_path, printable


@pytest.mark.parametrize("raw, shown", [
    ("plain name.png", "plain name.png"),
    ("\x1b[2J\x1b[Hclear.png", "\\x1b[2J\\x1b[Hclear.png"),
    ("two\nlines\rback\ttab", "two\\nlines\\rback\\ttab"),
    ("del\x7f c1\x9b", "del\\x7f c1\\x9b"),
    ("abc\u202egnp.exe", "abc\\u202egnp.exe"),
    ("line\u2028sep", "line\\u2028sep"),
    ("Überholverbot für Kfz 🚚 ", "Überholverbot für Kfz 🚚 "),
])
def test_printable_escapes_only_what_a_terminal_would_obey(raw, shown):
    assert printable(raw) == shown
    assert printable(raw).isprintable()


def test_cut_end_keeps_short_text_and_marks_cuts():
    assert cut_end("Yield", 10) == "Yield"
    assert cut_end("Right-of-way at the next intersection", 12) == "Right-of-wa…"
    assert len(cut_end("x" * 100, 12)) == 12


def test_cut_path_keeps_the_file_name():
    path = "data/very/long/folder/structure/test/00012.png"
    short = cut_path(path, 24)
    assert len(short) == 24 and short.endswith("/test/00012.png") and short.startswith("data") and "…" in short
    assert cut_path("a/b.png", 24) == "a/b.png"
    long_name = "folder/" + "n" * 40 + ".png"
    assert cut_path(long_name, 20) == "…" + long_name[-19:] and cut_path(long_name, 20).endswith(".png")
    assert cut_path("x" * 30, 10) == "…" + "x" * 9


def test_cut_end_drops_a_space_before_the_ellipsis():
    assert cut_end("Right-of-way at the next", 14) == "Right-of-way…"
