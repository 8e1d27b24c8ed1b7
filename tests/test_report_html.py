"""The report page's markup, from made-up records (no TensorFlow, no run)."""

import base64
import re
from pathlib import Path
from types import SimpleNamespace

from signclf.config import load_config
from signclf.report_html import ORDER, esc, image_tag, page_html, per_class_table, summary_table

PNG = bytes.fromhex("89504e470d0a1a0a") + b"not really a picture"


def member(path="runs/a", status="completed", detail="completed", **summary):
    cfg = load_config(None, ["augment.enabled=true", "augment.rotation=12", "train.warmup_epochs=1"])
    cfg.name = "lenet"
    facts = {"best_valid_acc": 0.9629, "best_epoch": 12, "epochs_completed": 15, "wall_time_s": 634.4,
             "train_images_per_s": 1695.5, "parameters": 64511, "device": "CPU (2 cores)",
             "versions": {"python": "3.11.7", "tensorflow": "2.21.0"}, **summary}
    return SimpleNamespace(run=Path(path), cfg=cfg, summary=facts, status=status, detail=detail)


def test_esc_escapes_markup_and_control_characters():
    assert esc('<b>"x" & y</b>') == "&lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;"
    assert esc("new\nline\x1b") == "new\\nline\\x1b"


def test_image_tag_embeds_the_file_bytes(tmp_path):
    path = tmp_path / "curves.png"
    path.write_bytes(PNG)
    tag = image_tag(path)
    data = re.search(r'src="data:image/png;base64,([^"]+)"', tag).group(1)
    assert base64.b64decode(data) == PNG and 'alt="curves"' in tag


def test_summary_shows_the_headline_numbers_and_every_members_facts():
    evaluation = {"accuracy": 0.99583, "top5_accuracy": 1.0, "macro_f1": 0.9915, "n": 4560,
                  "dataset": "data/valid.p", "checkpoints": ["runs/a/checkpoints/best/model-7"], "device": "CPU"}
    html = summary_table([member()], evaluation)
    assert "<b>0.9958</b>accuracy" in html and "<b>1.0000</b>top-5 accuracy" in html and "(4,560 images)" in html
    for fact in ("5×5×6 VALID, pool 2 → 5×5×16 VALID, pool 2; fc [120, 84]", "64,511", "0.9629 at epoch 12 of 15",
                 "10 min 34 s", "1,696 images/s", "rotation 12", "warm-up 1 epochs", "python 3.11.7"):
        assert fact in html, fact
    assert "(completed)" not in html  # the detail is only shown when it says more than the status
    assert "distilled from" not in html
    taught = member()
    taught.cfg.train.teacher = ["exp/teacher"]
    assert "distilled from exp/teacher (weight 0.5, temperature 2)" in summary_table([taught], evaluation)
    committee = summary_table([member(), member("runs/b", "interrupted", "interrupted by SIGINT")], None)
    assert "<th>member 1</th><th>member 2</th>" in committee
    assert "<b>interrupted</b> (interrupted by SIGINT)" in committee
    assert "accuracy</div>" not in committee  # no evaluation: no headline numbers


def test_per_class_table_lists_the_worst_class_first_with_what_it_is_mistaken_for():
    per_class = [{"class_id": 0, "name": "red <disc>", "precision": 0.9, "recall": 1.0, "f1": 0.947, "support": 9},
                 {"class_id": 1, "name": "blue", "precision": 1.0, "recall": 0.5, "f1": 0.667, "support": 4},
                 {"class_id": 2, "name": "never seen", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}]
    confusion = [[9, 0, 0], [1, 2, 1], [0, 0, 0]]
    html = per_class_table(per_class, confusion)
    rows = re.findall(r"<tr>(.*?)</tr>", html)[1:]
    assert len(rows) == 2 and rows[0].startswith('<td class="n">1</td><td>blue</td>')
    assert "0 red &lt;disc&gt; (1)" in rows[0]  # a tie goes to the lower class id
    assert "1 class(es) have no image" in html


def test_page_has_every_section_in_order_notes_and_no_script():
    html = page_html("<p>summary</p>", {"curves": "<p>curves</p>"}, ["run <x> is running"], "signclf report: a")
    positions = [html.index(f'<section id="{key}">') for key, _ in ORDER]
    assert positions == sorted(positions) and len(positions) == 8
    assert "run &lt;x&gt; is running" in html and "<script" not in html
    assert html.count("Not available: the run has no checkpoint yet.") == len(ORDER) - 2
    assert all(f'href="#{key}"' in html for key, _ in ORDER)
