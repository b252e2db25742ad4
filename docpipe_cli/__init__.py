"""The docpipe command-line client: upload, list, show, watch and download documents."""
