"""Reading GGUF model files: a layer of its own so the engine and the library both use it
without importing each other."""
