"""Web chat: `python app.py [--host 127.0.0.1] [--port 7860] [--index DIR] [--share]`.

Kept at the top of the tree because `make run` and the README start the chat this way; the app
itself lives in `rag.serve.web` (also reachable as `python -m rag serve`, with the same flags).
"""

import sys

from rag.serve.web import main

if __name__ == "__main__":
    sys.exit(main())
