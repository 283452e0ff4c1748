"""Endless streams and their live controls (stdin lines, OSC)."""
