"""The process-wide settings of `import scratchgrad` (scratchgrad/_process.py)."""
import os
import platform
import subprocess
import sys

import scratchgrad as sg
from scratchgrad import _process


def _settings(env):
    code = "import scratchgrad, os; print(scratchgrad.PROCESS_SETTINGS, os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "OPENBLAS_THREAD"))}
    return subprocess.run([sys.executable, "-c", code], env={**full, **env}, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_defaults_and_the_users_choice_wins():
    out = _settings({})
    assert "'openblas_thread_timeout': '20'" in out and out.endswith(" 20")
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert "'malloc_keeps_blocks': True" in out
    out = _settings({"OPENBLAS_THREAD_TIMEOUT": "28", "MALLOC_TRIM_THRESHOLD_": "131072"})
    assert "'openblas_thread_timeout': '28'" in out and "'malloc_keeps_blocks': False" in out


def test_settings_are_recorded():
    assert set(sg.PROCESS_SETTINGS) == {"openblas_thread_timeout", "malloc_keeps_blocks"}
    assert _process.MMAP_THRESHOLD == 32 << 20
