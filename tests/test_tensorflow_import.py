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


def test_a_missing_tensorflow_is_one_line_naming_what_to_do():
    code = ("import sys\nsys.modules['tensorflow'] = None\n"
            "from signclf.errors import SignclfError\nfrom signclf.tensorflow_import import import_tensorflow\n"
            "try:\n    import_tensorflow(False)\nexcept SignclfError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.startswith("TensorFlow cannot be imported (") and "signclf predict --model BUNDLE" in out.stdout


def test_stderr_muted_silences_file_descriptor_2_and_restores_it(capfd):
    import os

    from signclf.tensorflow_import import stderr_muted

    with stderr_muted():
        os.write(2, b"C++ chatter\n")
    os.write(2, b"our own line\n")
    assert capfd.readouterr().err == "our own line\n"
