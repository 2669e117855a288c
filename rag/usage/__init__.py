"""Learning from use: the question log, the chat's feedback, and calibration from judged questions.

- `log`: the append-only question log of a knowledge base (`<index folder>/log/`, JSON lines).
- `records`: what one logged question and one feedback hold, and how they are joined.
- `asking`: the one place a question that users ask is answered *and* logged (CLI and web).
- `export`: judged questions as a `rag eval` JSONL set.
- `calibrate`: the fusion weight and both readers' refusal thresholds fitted from them.
"""

from rag.usage.log import QuestionLog, open_log
from rag.usage.records import Feedback, Judged, LoggedQuestion

__all__ = ["Feedback", "Judged", "LoggedQuestion", "QuestionLog", "open_log"]
