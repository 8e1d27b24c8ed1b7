"""The report page's markup: sections, tables and pictures as one self-contained HTML string.

Every text shown is escaped (run paths and class names come from the user's disk); pictures are
inlined as data: URIs, the CSS is inline and there is no script, so the page is one file that
opens offline in any browser.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from signclf.text import printable

# The page's sections, in order; each is always present (with a line saying why when empty).
ORDER = [("summary", "Summary"), ("curves", "Learning curves"), ("confusion", "Confusion matrix"),
         ("classes", "Per-class precision, recall and F1 (worst first)"), ("mistakes", "Most confident mistakes"),
         ("features", "Feature maps"), ("saliency", "Saliency (Grad-CAM)"), ("robustness", "Robustness to corruptions")]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1160px;margin:0 auto;
  padding:0 16px 40px;color:#222}
h1{font-size:22px;margin:18px 0 6px} h2{font-size:18px;border-bottom:2px solid #ddd;margin:30px 0 10px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:6px 0;font-size:13px}
nav a{margin-right:12px;color:#0550ae;text-decoration:none}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top} th{background:#f4f4f4}
td.n{text-align:right;font-variant-numeric:tabular-nums} td.bad{background:#fde2e1}
img{max-width:100%;height:auto}
.row{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start;padding-bottom:10px;margin-bottom:10px;
  border-bottom:1px dashed #ddd}
.notes{background:#fff4ce;border:1px solid #e0c36a;padding:6px 12px;margin:10px 0}
.stats{display:flex;gap:12px;margin:10px 0} .stat{border:1px solid #ddd;border-radius:6px;padding:6px 14px}
.stat b{display:block;font-size:22px} code{background:#f4f4f4;padding:0 3px}
"""


def esc(text) -> str:
    return html.escape(printable(str(text)))


def image_tag(path, alt: str = "") -> str:
    """The PNG at `path` as an <img> whose source is the file's bytes (base64)."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt or Path(path).stem)}">'


def table(header, rows, numeric=()) -> str:
    """A table of already-escaped cells; columns in `numeric` are right-aligned."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _model(cfg) -> str:
    m = cfg.model
    stages = " → ".join(f"{s.kernel}×{s.kernel}×{s.depth} {s.padding}" + (f", pool {s.pool}" if s.pool > 1 else "")
                        for s in m.conv)
    extras = [f"fc {m.fc}" if m.fc else "no hidden fc", "multi-scale" if m.multiscale else "",
              "batch norm" if m.batch_norm else "", f"dropout keep {m.keep_prob:g}" if m.keep_prob < 1 else "",
              f"L2 {m.l2:g}" if m.l2 else ""]
    return f"{stages}; " + ", ".join(e for e in extras if e)


def _augment(cfg) -> str:
    a = cfg.augment
    if not a.enabled:
        return "off"
    on = [f"{k} {v:g}" for k, v in vars(a).items() if k != "enabled" and isinstance(v, float) and v]
    return "on: " + ", ".join(on)


def _training(cfg) -> str:
    t = cfg.train
    optimizer = "Adam" if t.optimizer == "adam" else f"Nesterov momentum {t.momentum:g}"
    parts = [f"{t.epochs} epochs", f"batch {t.batch_size}", f"{optimizer} lr {t.learning_rate:g} ({t.lr_schedule})",
             f"warm-up {t.warmup_epochs:g} epochs" if t.warmup_epochs else "",
             f"label smoothing {t.label_smoothing:g}" if t.label_smoothing else "",
             f"early stopping {t.early_stopping}" if t.early_stopping else "",
             f"distilled from {' + '.join(t.teacher)} (weight {t.teacher_weight:g}, temperature "
             f"{t.teacher_temperature:g})" if t.teacher else "", f"seed {t.seed}"]
    return ", ".join(p for p in parts if p)


def _validation(cfg) -> str:
    d = cfg.data
    if d.folds:
        return f"fold {d.fold} of {d.folds} (train and valid pooled)"
    return d.valid or f"{d.valid_fraction:g} of data.train held out"


def _duration(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "?"
    minutes, s = divmod(int(round(seconds)), 60)
    return f"{minutes} min {s} s" if minutes else f"{s} s"


def _member_rows(m) -> list[tuple[str, str]]:
    s, cfg = m.summary, m.cfg
    best = s.get("best_valid_acc")
    versions = ", ".join(f"{k} {v}" for k, v in (s.get("versions") or {}).items())
    speed = s.get("train_images_per_s")
    return [
        ("run", esc(m.run)),
        ("status", f"<b>{esc(m.status)}</b>" + (f" ({esc(m.detail)})" if m.detail != m.status else "")),
        ("config", esc(cfg.name or "?")),
        ("model", esc(_model(cfg))),
        ("parameters", f"{s['parameters']:,}" if isinstance(s.get("parameters"), int) else "?"),
        ("preprocessing", esc(f"{cfg.preprocess.color}, equalize {cfg.preprocess.equalize}, "
                              + (f"extra gray {', '.join(cfg.preprocess.extra)}, " if cfg.preprocess.extra else "")
                              + f"{cfg.data.image_size}×{cfg.data.image_size} px")),
        ("augmentation", esc(_augment(cfg))),
        ("training", esc(_training(cfg))),
        ("training data", esc(cfg.data.train)),
        ("validation data", esc(_validation(cfg))),
        ("best valid accuracy", esc(f"{best:.4f} at epoch {s.get('best_epoch')} of {s.get('epochs_completed')}"
                                    if isinstance(best, (int, float)) else "no epoch finished yet")),
        ("wall time", esc(_duration(s.get("wall_time_s")))),
        ("training speed", esc(f"{speed:,.0f} images/s" if isinstance(speed, (int, float)) else "?")),
        ("trained on", esc(s.get("device", "?"))),
        ("versions", esc(versions or "?")),
    ]


def summary_table(members, evaluation: dict | None) -> str:
    """The headline numbers of the fresh evaluation, then each member's facts in one column."""
    out = ""
    if evaluation:
        out += '<div class="stats">' + "".join(
            f'<div class="stat"><b>{evaluation[k]:.4f}</b>{label}</div>'
            for k, label in (("accuracy", "accuracy"), ("top5_accuracy", "top-5 accuracy"), ("macro_f1", "macro F1")))
        out += "</div>"
        out += (f"<p>Evaluated now on {esc(evaluation['dataset'])} ({evaluation['n']:,} images) with "
                f"{esc(', '.join(evaluation['checkpoints']))} on {esc(evaluation['device'])}.</p>")
    columns = [_member_rows(m) for m in members]
    rows = [[label] + [col[i][1] for col in columns] for i, (label, _) in enumerate(columns[0])]
    header = [""] + ([f"member {i + 1}" for i in range(len(members))] if len(members) > 1 else ["run"])
    return out + table(header, rows)


def per_class_table(per_class: list[dict], confusion) -> str:
    """Classes present in the data, lowest F1 first, with the class each is most often mistaken for."""
    present = sorted((c for c in per_class if c["support"] > 0), key=lambda c: (c["f1"], -c["support"]))
    names = {c["class_id"]: c["name"] for c in per_class}
    rows = []
    for c in present:
        row = list(confusion[c["class_id"]])
        row[c["class_id"]] = 0
        other = max(range(len(row)), key=row.__getitem__)
        mistaken = f"{other} {esc(names[other])} ({row[other]})" if row[other] else ""
        rows.append([c["class_id"], esc(c["name"])] + [f"{c[k]:.3f}" for k in ("precision", "recall", "f1")]
                    + [f"{c['support']:,}", mistaken])
    absent = len(per_class) - len(present)
    note = f"<p>{absent} class(es) have no image in this dataset and are left out.</p>" if absent else ""
    return note + table(["id", "class", "precision", "recall", "F1", "images", "most often mistaken for (images)"],
                        rows, numeric={0, 2, 3, 4, 5})


def page_html(summary: str, sections: dict, notes, title: str) -> str:
    """The whole page: title, notes, a link bar, then every section of ORDER (`sections`: key → HTML)."""
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
             f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{CSS}</style></head>"
             f"<body><h1>{esc(title)}</h1>"]
    if notes:
        parts.append('<div class="notes">' + "".join(f"<div>{esc(n)}</div>" for n in notes) + "</div>")
    parts.append("<nav>" + "".join(f'<a href="#{key}">{esc(name)}</a>' for key, name in ORDER) + "</nav>")
    for key, name in ORDER:
        body = summary if key == "summary" else sections.get(key, "<p>Not available: the run has no checkpoint "
                                                                   "yet.</p>")
        parts.append(f'<section id="{key}"><h2>{esc(name)}</h2>{body}</section>')
    parts.append("</body></html>\n")
    return "".join(parts)
