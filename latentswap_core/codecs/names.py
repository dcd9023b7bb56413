"""The codecs a model can be trained in, by the names models, the command line and the Nuke panel use."""

CODEC_NAMES = ("taef2", "sd-vae", "pixel")
