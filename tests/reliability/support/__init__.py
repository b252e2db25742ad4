"""Helpers shared by the reliability tests and `bench.reliability`: fault injection and scenarios."""
