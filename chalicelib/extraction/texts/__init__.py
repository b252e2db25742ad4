"""Plain-text producers, one module per text-bearing family.

Each module has `text(reader, metadata, sink) -> None`: it reads the file
through `reader` and hands what it finds to `sink` (`chalicelib.extraction.text.Sink`),
which keeps the budget and stops the producer by raising `Full`. Producers
never build markup and never follow links; XML is parsed with defusedxml.
"""
