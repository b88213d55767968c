"""The Flowscope pages: ES modules and CSS served by tb_plugin (no build step)."""

from pathlib import Path

ASSET_DIR = Path(__file__).resolve().parent
