"""Encoders: pretrained Hugging Face speech SSL transformers without their convolutional front end."""
