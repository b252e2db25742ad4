"""Extractors: one module per family, no AWS inside.

Each module exposes `extract(source: Source) -> Extraction`. The registry
(`registry.py`) maps detected MIME types to modules in order, specific before
generic, and imports a module only when a file of its family arrives.
"""
