"""The Keras networks: the architectures, the model file, the 0/O referee's network, the copy that
reads (BatchNorms folded), and the network drawn as a diagram."""
