import cv2

from signclf.plots import new_figure, save_png


def test_save_png_writes_a_readable_image_of_the_requested_size(tmp_path):
    fig = new_figure(4, 3)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    path = save_png(fig, tmp_path / "sub" / "plot.png", dpi=50)
    img = cv2.imread(str(path))
    assert img is not None and img.shape[:2] == (150, 200)
    assert not list((tmp_path / "sub").glob(".*.tmp"))


def test_new_figure_has_the_requested_size():
    fig = new_figure(2, 2)
    assert fig.get_size_inches().tolist() == [2.0, 2.0]
