"""The core: what a file is, what it says, and its inert HTML page, from its bytes alone.

Nothing here knows AWS: modules take a seekable reader and a name and return
plain data. No module under this package imports boto3, botocore or
`chalicelib.aws` (tests/unit/test_layers.py checks it), so the core runs the
same on Lambda, on a laptop and in a benchmark, and the IAM analysis in
`deploy/calls.py` can skip the whole package.
"""
