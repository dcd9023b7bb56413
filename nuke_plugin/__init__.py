"""The Nuke side of LatentSwap: runs inside Nuke's own Python (3.7 to 3.11).

Standard library and ``nuke``/``nukescripts`` only, never torch: it drives the engine through the
``latentswap`` command line of the project's environment, with JSON progress and EXR files.
"""
