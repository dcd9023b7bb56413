"""The demo: the whole product on a synthetic shot made from real photos, with nothing but the package and ../shared."""
