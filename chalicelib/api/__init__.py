"""The HTTP edge: who is calling, how domain errors become responses, and the OpenAPI description."""
