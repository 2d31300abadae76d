"""Hearth: a private desktop AI assistant running open models on your own machine."""

__version__ = "0.1.0"
