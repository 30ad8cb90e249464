"""Reading captchas: the solver, the Keras and ONNX runtimes, decoding, the referee's decisions,
saliency maps, evaluation, and models fetched from the Hub."""
