"""What the workflow's entry scripts share: logging, the canonical CSV text and the manifest.

A layer of its own, above ``figures`` and below ``cli``, and light: none of its modules imports
the statistics engine, so an entry script's start-up pays only for what it uses.
"""
