from latentswap_core.cli import run

run()
