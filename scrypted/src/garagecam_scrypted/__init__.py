"""GarageCam Scrypted plugin: settings, devices and the poll loop; the rest is garagecam_core."""
