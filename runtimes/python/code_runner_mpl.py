"""Code Runner's matplotlib backend (MPLBACKEND=module://code_runner_mpl): Agg, and figures come
back as output files without the program saving them.

`plt.show()` saves every open pyplot figure as /tmp/work/figure-<n>.png and closes it; figures
still open when the program exits are saved the same way. <n> counts from 1 and skips names
that exist, so a file the program wrote itself is never overwritten. The python runtime's
catalogue entry asks for "figure-*.png" as automatic output files (runtimes/python/runtime.json),
so they come back in the result's `files` (unless the request gives `output_files: []`).
"""

import atexit
import os
import sys

from matplotlib import _pylab_helpers
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

FigureCanvas = FigureCanvasAgg
FigureManager = FigureManagerBase

_WORK_DIR = "/tmp/work"
_count = 0


def _next_path():
    global _count
    while True:
        _count += 1
        path = os.path.join(_WORK_DIR, f"figure-{_count}.png")
        if not os.path.lexists(path):
            return path


def _save_open_figures():
    for manager in _pylab_helpers.Gcf.get_all_fig_managers():
        try:
            manager.canvas.figure.savefig(_next_path())
        except Exception as error:  # the program's own output must still come back
            print(f"code-runner: figure {manager.num} could not be saved: {error}", file=sys.stderr)
    _pylab_helpers.Gcf.destroy_all()


def show(*args, **kwargs):
    """Saves and closes every open figure (there is no screen)."""
    _save_open_figures()


# Registered after _pylab_helpers' own atexit hook (which closes every figure), so it runs first.
atexit.register(_save_open_figures)
