"""Dreaming from a trained run, loaded once: sample, watch, and learn (dream while training
on)."""
