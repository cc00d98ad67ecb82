"""Tests for driftline.methods (a package, so test module names cannot clash)."""
