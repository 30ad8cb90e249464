"""Training: the tf.data pipelines, devices and clusters, recipes, warm starts, a site's own
captchas, and the referee stage."""
