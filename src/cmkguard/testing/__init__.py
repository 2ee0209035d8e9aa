"""The emulated AWS account: moto's in-process server on 127.0.0.1, made realistic."""
