"""Captchas as data: seeded drawing and its seed streams, the one preprocessing function, the
distortions a site's captchas are trained on, and a user's labelled folders."""
