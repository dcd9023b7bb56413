"""Merging the swapped face back into the plate: colour transfer, then compositing."""

from latentswap_core.blend.color_transfer import MODES, transfer_color

__all__ = ["MODES", "transfer_color"]
