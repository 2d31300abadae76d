"""The GGUF format's constants from the ``gguf`` package, without importing the rest of it.

``import gguf.constants`` first runs the package's ``__init__``, which loads
its writer, NumPy and YAML: 170 ms of the app's start for three tables. The
constants module itself needs only ``enum``, so it is loaded on its own under
its real name and then forgotten, so a later ``import gguf`` is untouched.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


def _load():
    if "gguf.constants" in sys.modules or "gguf" in sys.modules:
        return importlib.import_module("gguf.constants")
    spec = importlib.util.find_spec("gguf")  # locates the package without running it
    if spec is not None and spec.submodule_search_locations:
        stub = types.ModuleType("gguf")
        stub.__path__ = list(spec.submodule_search_locations)
        sys.modules["gguf"] = stub
        try:
            return importlib.import_module("gguf.constants")
        except ImportError:
            pass  # a frozen bundle's importer finds submodules only through the real package
        finally:
            # Leave no trace: a later `import gguf` (tests, scripts) loads the real package whole.
            if sys.modules.get("gguf") is stub:
                del sys.modules["gguf"]
            sys.modules.pop("gguf.constants", None)
    return importlib.import_module("gguf.constants")


_constants = _load()
GGML_QUANT_SIZES = _constants.GGML_QUANT_SIZES
GGMLQuantizationType = _constants.GGMLQuantizationType
LlamaFileType = _constants.LlamaFileType
