"""What an encoder's recorded name says about the backend that made its vectors."""


def backend_family(encoder_name: str) -> str:
    """`torch-float32` → `torch`, `onnx-int8-dynamic-per-channel` → `onnx`: what an encoder's name
    (recorded in index manifests) says about the backend that made its vectors."""
    return encoder_name.split("-", 1)[0]
