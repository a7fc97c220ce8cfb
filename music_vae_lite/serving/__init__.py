"""Inference without the training loop: the inference module, TrainedModel, exports, the original checkpoints."""
