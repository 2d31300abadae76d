"""The frozen executable's entry point: the GUI, every CLI sub-command and the worker processes.

multiprocessing's spawned children (the document reader and the embedder)
re-run this executable; freeze_support() turns those launches into the child
instead of a second Hearth.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from app.cli import main

    sys.exit(main())
