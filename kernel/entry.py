"""The ``enclava`` console script: boot without the cyclic garbage collector.

Boot allocates hundreds of thousands of objects that live until shutdown (modules, classes,
the app's routes) and makes little cyclic garbage: the collector ran ~300 young collections
over them before the app was built, ~11 % of the CPU of a start (measured with
``gc.callbacks``). ``serve`` collects once, freezes what boot made and switches the collector
back on when the kernel has started (:meth:`kernel.runtime.Kernel.start`); every other command,
and a multi-worker supervisor, switches it back on as soon as it knows what it runs.
"""

from __future__ import annotations

import gc

__all__ = ["main"]


def main() -> int:
    gc.disable()
    from kernel.cli import main as run  # imported with the collector off

    return run()
