"""Name the signs in image files: parallel decode, batched inference, results streamed in order.

A file that cannot be read becomes a result with an `error` instead of stopping the others.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from signclf.config import INFERENCE_BATCH_SIZE
from signclf.data.images import list_image_files, read_image
from signclf.device import usable_cores
from signclf.errors import DataError
from signclf.text import cut_end, cut_path, printable

FILES_PER_CHUNK = 2048  # files decoded and classified together: large enough to batch, small enough to stream


@dataclass
class Prediction:
    path: str
    top_k: list[dict] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict:
        return {"path": self.path, "error": self.error} if self.error else {"path": self.path, "top_k": self.top_k}


def _decode(path):
    try:
        return read_image(path), None
    except DataError as e:
        return None, str(e)
    except MemoryError:
        return None, f"{path}: image too large to decode in memory"


def _decode_group(paths):
    return [_decode(p) for p in paths]


def predict_files(committee, paths, top_k: int = 3, batch_size: int = INFERENCE_BATCH_SIZE, on_progress=None,
                  listed=None):
    """Yield a Prediction per image file under `paths` (files and folders), in input order.

    Folder-level problems (missing path, empty folder) come first as error results. The next chunk
    of files decodes in the thread pool (OpenCV releases the GIL) while this one is classified.
    `on_progress(done, total)` is called once with done=0 after listing, then after each chunk.
    `listed` is `list_image_files(paths)` when the caller has it already.
    """
    files, problems = listed if listed is not None else list_image_files(paths)
    if on_progress:
        on_progress(0, len(files))
    for problem in problems:
        yield Prediction(problem.partition(": ")[0], error=problem)
    names = committee.class_names
    k = min(top_k, len(names))
    chunks = [files[i:i + FILES_PER_CHUNK] for i in range(0, len(files), FILES_PER_CHUNK)]
    with ThreadPoolExecutor(max_workers=usable_cores()) as pool:
        def submit(chunk):  # groups of 64 files: one future per file costs more than a small decode
            return [pool.submit(_decode_group, chunk[i:i + 64]) for i in range(0, len(chunk), 64)]

        ahead = submit(chunks[0]) if chunks else []
        for n, chunk in enumerate(chunks):
            futures, ahead = ahead, submit(chunks[n + 1]) if n + 1 < len(chunks) else []
            decoded = [result for future in futures for result in future.result()]
            good = [i for i, (img, _) in enumerate(decoded) if img is not None]
            probs = committee.probabilities([decoded[i][0] for i in good], batch_size) if good else None
            row_of = {i: r for r, i in enumerate(good)}
            for i, path in enumerate(chunk):
                if i not in row_of:
                    yield Prediction(str(path), error=decoded[i][1])
                    continue
                p = probs[row_of[i]]
                best = np.argsort(-p)[:k]
                yield Prediction(str(path), [{"class_id": int(c), "name": names[c], "prob": round(float(p[c]), 6)}
                                             for c in best])
            if on_progress:
                on_progress(len(chunk), len(files))


@dataclass(frozen=True)
class TableLayout:
    """Column widths of predict's table, fixed for a whole run so that every row lines up."""

    path_width: int = 40
    id_width: int = 2
    name_width: int = 42

    @classmethod
    def for_classes(cls, class_names, path_width: int | None = None, max_name_width: int = 42,
                    longest_path: int | None = None) -> TableLayout:
        """Name column as wide as the longest (escaped) class name, at most `max_name_width`; the path
        column as wide as the longest path, within what the terminal has left (of 120 columns when
        output is redirected), never under 40 columns unless the paths are all shorter."""
        import shutil

        longest = max((len(printable(n)) for n in class_names), default=1)
        id_width, name_width = len(str(max(len(class_names) - 1, 0))), min(longest, max_name_width)
        if path_width is None:
            rest = 2 + id_width + 1 + name_width + 1 + 6  # the columns format_table_row puts after the path
            path_width = max(40, shutil.get_terminal_size((120, 24)).columns - rest)
            if longest_path is not None:
                path_width = min(path_width, max(longest_path, 4))
        return cls(path_width, id_width, name_width)


def format_table_row(pred: Prediction, layout: TableLayout = TableLayout()) -> str:
    """A human-readable result: path, then one line per class (id, name, probability); names escaped."""
    if pred.error:
        return f"{printable(pred.path)}: cannot predict: {printable(pred.error.split(': ', 1)[-1])}"
    path = cut_path(printable(pred.path), layout.path_width)
    lines = []
    for c in pred.top_k:
        name = cut_end(printable(c["name"]), layout.name_width)
        lines.append(f"{path:{layout.path_width}s}  {c['class_id']:{layout.id_width}d} "
                     f"{name:{layout.name_width}s} {c['prob']:6.1%}")
        path = ""
    return "\n".join(lines)


def to_json_line(pred: Prediction) -> str:
    return json.dumps(pred.to_json())
