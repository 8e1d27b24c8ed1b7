"""The one way signclf draws a picture: a bare matplotlib `Figure` saved atomically as PNG.

No pyplot: it keeps global state and picks a GUI backend, neither of which a CLI wants. Matplotlib
is imported only when a picture is drawn, so commands that draw nothing never pay for it.
"""

from __future__ import annotations

from pathlib import Path

from signclf.atomic import atomic_write


def new_figure(width: float, height: float):
    """A Figure of width × height inches with constrained layout (labels never overlap the axes)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_png(fig, path, dpi: int = 110) -> Path:
    """Write `fig` to `path` as PNG (folder created; atomic: never a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi))
