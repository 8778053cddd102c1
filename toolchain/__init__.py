"""paddle-trt-lab: from a bare Linux machine to a verified INT8 Paddle Inference deployment."""

__version__ = "0.1.0"
