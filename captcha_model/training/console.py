"""What training writes to the terminal: Keras's progress bars on a terminal, one line per epoch elsewhere.

A progress bar redraws itself many times a second; written to a log file or a CI log, each
redraw stays, tens of kilobytes per epoch. Where standard output is not a terminal (or CI is
set), training writes one line per epoch instead.
"""

import os
import sys


def progress_bars():
    """Whether Keras may draw progress bars: standard output is a terminal and CI is not set."""
    return sys.stdout.isatty() and not os.environ.get("CI")


def keras_verbosity(epoch_line_of_its_own):
    """`verbose` for `fit`: progress bars on a terminal; elsewhere none where the caller writes a line per epoch
    (`epoch_line_of_its_own`), else Keras's own line per epoch."""
    if progress_bars():
        return 1
    return 0 if epoch_line_of_its_own else 2
