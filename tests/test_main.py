import subprocess
import sys

from signclf import __version__


def test_python_dash_m_signclf_is_the_signclf_command():
    proc = subprocess.run([sys.executable, "-m", "signclf", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"signclf, version {__version__}"
