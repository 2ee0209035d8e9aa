"""Tests (a package, so helper modules are imported by name)."""
