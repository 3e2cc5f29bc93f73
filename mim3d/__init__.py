"""mim3d."""
