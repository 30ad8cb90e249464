"""Publishing models: the ONNX export, pushing to the Hugging Face Hub with a model card, and
deploying the app as a Space."""
