"""The ONNX opsets an export may ask for: from the oldest onnxruntime runs with our ops to the newest torch's
TorchScript-based exporter writes."""

MIN_OPSET = 17
MAX_OPSET = 20
