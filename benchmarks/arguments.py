"""Argument types the benchmarks share."""

from __future__ import annotations

import argparse


def seed_list(text: str) -> list[int]:
    """``"0,1,2"`` -> [0, 1, 2]; anything else is a one-line argparse error."""
    try:
        seeds = [int(seed) for seed in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give seeds as whole numbers from 0, e.g. 0,1,2")
    return seeds
