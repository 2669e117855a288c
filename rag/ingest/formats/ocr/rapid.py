"""RapidOCR: PaddleOCR's PP-OCRv6 detection and recognition models (and the PP-OCRv4 direction
classifier) as ONNX files inside the `rapidocr` wheel, run on the ONNX Runtime the embedder uses.

Measured against Debian's Tesseract 5 with chi_sim on the same pages (bench/formats.py,
docs/benchmarks.md): 99.8 % against 88 % of characters right on scans of Chinese government text,
and at least as fast. The per-line 180° classifier is off: on scans it turned whole lines of good
text into nonsense; a page fed upside down is handled per page instead (pages.upright_lines). The models are
loaded from the package's own folder; a missing file is refused, never fetched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rag.ingest.formats.ocr.engine import OcrLine, OcrUnavailable

_INSTALL = "pip install -r requirements.txt"
# The default models of rapidocr's config.yaml, shipped in the wheel (rapidocr/models/)
_MODELS = ("PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx", "ch_ppocr_mobile_v2.0_cls_mobile.onnx")
# Pages are recognised at up to this many pixels on their longer side (rapidocr's default): a 200 dpi
# A4 page (2339 px high) is shrunk a little, which measured the same accuracy as 2400 px down to 9 pt
# print, 30 % faster and with a lower peak (0.95 against 1.2 GB; bench/formats.py, docs/benchmarks.md).
MAX_SIDE = 2000


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self, threads: int | None = None) -> None:
        try:
            import rapidocr
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise OcrUnavailable(f"OCR 不可用：缺少 rapidocr（{_INSTALL}） / OCR unavailable: {exc}") from None
        models = Path(rapidocr.__file__).parent / "models"
        missing = [m for m in _MODELS if not (models / m).is_file()]
        if missing:  # rapidocr would try to download them
            raise OcrUnavailable(f"OCR 不可用：rapidocr 缺少模型 {', '.join(missing)} / OCR models missing")
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Global.use_cls": False,
            "Global.max_side_len": MAX_SIDE,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads or -1,  # -1: ONNX Runtime's default
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        try:
            self._ocr = RapidOCR(params=params)
        except Exception as exc:  # a broken install: onnxruntime or opencv missing or mismatched
            raise OcrUnavailable(f"OCR 不可用：rapidocr 无法加载（{_INSTALL}） / OCR engine failed to load ({type(exc).__name__}: {exc})") from None

    def recognise(self, image: np.ndarray) -> list[OcrLine]:
        result: Any = self._ocr(np.ascontiguousarray(image[:, :, ::-1]))  # rapidocr takes OpenCV's BGR
        if result.boxes is None or result.txts is None:
            return []
        lines = []
        for box, text, score in zip(result.boxes, result.txts, result.scores):
            corners = tuple((float(x), float(y)) for x, y in box[:4])
            if text.strip():
                lines.append(OcrLine(text=text.strip(), score=float(score), corners=corners))  # type: ignore[arg-type]
        return lines
