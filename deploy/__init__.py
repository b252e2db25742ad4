"""Deployment tooling: infra outputs to Chalice stages, least-privilege policies, the vendored libmagic."""
