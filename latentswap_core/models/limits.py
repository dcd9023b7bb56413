"""Bounds on what a model folder may say about itself, checked when it is written and when it is read."""

MAX_CONSENT_CHARS = 1000  # a reference to the signed agreement; it goes into every output frame's header
