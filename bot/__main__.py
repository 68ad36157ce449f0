"""``python -m bot`` is the ``offerbot`` command (works even where pip's script folder is not on PATH)."""

from bot.cli import main

main()
