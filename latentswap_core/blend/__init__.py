"""Merging the swapped face back into the plate: colour transfer, then compositing."""

from latentswap_core.blend.color_transfer import MODES, transfer_color
from latentswap_core.blend.compose import BLENDS, PasteResult, paste_face, refine_mask

__all__ = ["BLENDS", "MODES", "PasteResult", "paste_face", "refine_mask", "transfer_color"]
