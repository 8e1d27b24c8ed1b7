"""TensorFlow is imported late (only by commands that run a model) and quietly (fd 2 muted)."""

import subprocess
import sys


def run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_importing_the_cli_does_not_import_tensorflow():
    out = run("import sys, signclf.cli, signclf.config, signclf.predict, signclf.evaluate\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tensorflow'))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_quiet_import_keeps_fd2_silent_and_restores_it():
    code = ("import os, sys\n"
            "from signclf.tensorflow_import import import_tensorflow\n"
            "import_tensorflow(False)\n"
            "assert 'tensorflow' in sys.modules\n"
            "os.write(2, b'fd2 works again\\n')\n")
    out = run(code)
    assert out.returncode == 0, out.stderr
    assert out.stderr == "fd2 works again\n"
