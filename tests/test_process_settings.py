"""The process-wide settings of `import scratchgrad` (scratchgrad/_process.py)."""
import os
import platform
import subprocess
import sys

import scratchgrad as sg
from scratchgrad import _process


def _run(code, env=None):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "OPENBLAS_THREAD"))}
    return subprocess.run([sys.executable, "-c", code], env={**full, **(env or {})}, capture_output=True, text=True,
                          check=True)


def _settings(env):
    code = "import scratchgrad, os; print(scratchgrad.PROCESS_SETTINGS, os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    return _run(code, env).stdout.strip()


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


def test_importing_numpy_first_is_too_late_for_the_timeout_and_the_workers_say_so():
    """OpenBLAS reads its thread timeout when NumPy loads it: a convolution on 2 workers then warns once."""
    code = ("import numpy as np, warnings, scratchgrad as sg\n"
            "print(sg.PROCESS_SETTINGS['openblas_thread_timeout'])\n"
            "sg.set_num_threads(2)\n"
            "x, w = sg.randn(8, 4, 16, 16), sg.randn(4, 4, 3, 3)\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    sg.conv2d(x, w, padding=1); sg.conv2d(x, w, padding=1)\n"
            "print(sum('imported after NumPy' in str(c.message) for c in caught))")
    out = _run(code).stdout.split()
    assert out[0] == "None"
    assert out[1] in ("1", "0")      # 0 only where NumPy's BLAS is not OpenBLAS
    out = _run(code.replace("import numpy as np, warnings, scratchgrad as sg", "import scratchgrad as sg, warnings"))
    assert out.stdout.split() == ["20", "0"]
